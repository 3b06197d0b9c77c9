"""Where a page may send the browser when it is done: `?return_to=`, checked strictly.

Allowed: a path on this server (`/x`, never `//x` or anything with a backslash, which
browsers read as another host), or an absolute http(s) URL on the issuer's origin or one of
`ui.return_to_origins`, without user info. Only printable ASCII without spaces passes, so
tabs, newlines and other characters that browsers strip cannot turn one form into another.
Anything else is ignored (the caller then picks its own default), never "repaired".
"""

from __future__ import annotations

from urllib.parse import urlsplit

from authgate.config import UiSettings

MAX_RETURN_TO = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """scheme://host[:port] in lower case without the scheme's default port; None if not
    an http(s) URL with a host and without user info."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def safe_return_to(value: object, issuer: str, ui: UiSettings) -> str | None:
    """`value` when it is a place the pages may send the browser to, else None."""
    if not isinstance(value, str) or not value or len(value) > MAX_RETURN_TO:
        return None
    if not all(0x21 <= ord(c) <= 0x7E for c in value) or "\\" in value:
        return None
    if value.startswith("/"):
        return None if value.startswith("//") else value
    origin = origin_of(value)
    allowed = {origin_of(issuer), *(origin_of(o) for o in ui.return_to_origins)}
    return value if origin is not None and origin in allowed else None
