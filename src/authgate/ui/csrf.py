"""CSRF protection for the hosted forms: a random token bound to a pre-session cookie.

Every form carries the token of the CSRF cookie, and a POST is accepted only when the two
match (compared in constant time). A page on another site can make the browser send the
cookie but cannot read it, so it cannot put the token in the form. A POST whose Origin
header names another origin is refused too.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from authgate.ui.cookies import csrf_cookie_name, set_cookie

CSRF_FIELD = "csrf_token"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def csrf_token(request: Request, issuer: str) -> tuple[str, bool]:
    """The browser's current token, or a new one (then True: the cookie must be set)."""
    current = request.cookies.get(csrf_cookie_name(issuer))
    if current and _TOKEN.fullmatch(current):
        return current, False
    return secrets.token_urlsafe(32), True


def remember_csrf(response: Response, token: str, is_new: bool, issuer: str) -> Response:
    if is_new:
        set_cookie(response, csrf_cookie_name(issuer), token, issuer)
    return response


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> str:
    """scheme://host[:port] in lower case, without the scheme's default port (RFC 6454)."""
    parts = urlsplit(url.lower())
    try:
        port = parts.port
    except ValueError:
        return "invalid"
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    if port is None or port == _DEFAULT_PORTS.get(parts.scheme):
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def csrf_ok(request: Request, form: Mapping[str, Any], issuer: str) -> bool:
    """True when the form repeats the cookie's token and no other origin sent it."""
    origin = request.headers.get("origin")
    # Our pages say `Referrer-Policy: no-referrer`, so browsers send `Origin: null` on their
    # own form posts: "null" tells nothing, and the token decides.
    if origin is not None and origin != "null" and _origin(origin) != _origin(issuer):
        return False
    cookie = request.cookies.get(csrf_cookie_name(issuer))
    given = form.get(CSRF_FIELD)
    if not cookie or not _TOKEN.fullmatch(cookie) or not isinstance(given, str):
        return False
    return hmac.compare_digest(cookie.encode(), given.encode())
