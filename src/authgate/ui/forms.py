"""Reading what a hosted form sent: bounded, form-encoded, each field once."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from authgate.api.requests import read_body
from authgate.errors import DomainError


async def read_form(request: Request) -> dict[str, Any] | None:
    """The submitted fields, or None when the body is too large or malformed."""
    try:
        return await read_body(request)
    except DomainError:
        return None


def text(form: dict[str, Any], name: str) -> str:
    """A text field's value; "" when missing or not text."""
    value = form.get(name)
    return value if isinstance(value, str) else ""
