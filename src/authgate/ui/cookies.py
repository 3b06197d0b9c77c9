"""The two cookies of the hosted pages, written by hand so every attribute is explicit.

`authgate_session` holds the browser session id; the CSRF cookie holds the pre-session token
that the forms must repeat. Both are HttpOnly, SameSite=Lax (the sign-in page is reached by
a cross-site redirect, so Strict would drop them there) and Path=/; both are Secure when the
issuer is https, and the CSRF cookie then takes the `__Host-` prefix, which a sibling
subdomain cannot overwrite.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from authgate.cookie_names import CSRF_COOKIE as _CSRF_COOKIE
from authgate.cookie_names import SESSION_COOKIE as SESSION_COOKIE

_EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


def is_secure(issuer: str) -> bool:
    return issuer.startswith("https://")


def csrf_cookie_name(issuer: str) -> str:
    return f"__Host-{_CSRF_COOKIE}" if is_secure(issuer) else _CSRF_COOKIE


def set_cookie(
    response: Response, name: str, value: str, issuer: str, max_age: int | None = None
) -> None:
    parts = [f"{name}={value}", "Path=/"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if max_age == 0:
        parts.append(f"Expires={_EPOCH}")
    parts += ["HttpOnly", "SameSite=Lax"]
    if is_secure(issuer):
        parts.append("Secure")
    response.headers.append("set-cookie", "; ".join(parts))


def clear_cookie(response: Response, name: str, issuer: str) -> None:
    set_cookie(response, name, "", issuer, max_age=0)


def session_of(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)
