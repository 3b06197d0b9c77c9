"""Placeholder from the account page: the MFA section's context (owned by the MFA work,
which replaces this module). The account page renders `account/mfa.html` with what
`section` returns as `mfa`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from authgate.identity.sessions import SignedIn


async def section(request: Request, signed_in: SignedIn) -> dict[str, Any]:
    return {}


STATUS_KEYS: tuple[str, ...] = ()
