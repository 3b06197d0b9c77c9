"""Placeholder from the account page: the passkeys section's context (owned by the passkeys
work, which replaces this module). The account page renders `account/passkeys.html` with
what `section` returns as `passkeys`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from authgate.identity.sessions import SignedIn


async def section(request: Request, signed_in: SignedIn) -> dict[str, Any]:
    return {}
