"""The values a route's CORS rules are written in: origins and header names.

Checked the same way when the configuration loads (`route_options`) and when a browser
asks (`cors`), so it lives apart from both.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

WILDCARD = "*"
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")
"""RFC 9110 5.6.2 token, bounded: what a method or header name may be."""
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(value: str) -> str:
    """A configured origin in the form browsers send: `scheme://host[:port]`, lower case,
    without a default port; `*` stays `*`. Raises ValueError for anything else."""
    if value == WILDCARD:
        return value
    parts = urlsplit(value)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"origin {value!r} must be http(s)://HOST[:PORT]")
    if parts.username or parts.password or parts.query or parts.fragment or parts.path:
        raise ValueError(f"origin {value!r} must not have a path, query, fragment or credentials")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"origin {value!r} has an invalid port") from None
    host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    if port is None or port == _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host.lower()}"
    return f"{parts.scheme}://{host.lower()}:{port}"


def is_header_name(name: str) -> bool:
    """Whether `name` is a header name (an RFC 9110 token) of at most 64 characters."""
    return TOKEN.fullmatch(name) is not None
