"""Which URIs a client may register to be sent back to (RFC 6749 3.1.2, RFC 8252 7).

A redirect or post-logout redirect URI is one of:
- `https://host/...`;
- `http://` to a loopback host only (`localhost`, 127.0.0.0/8, `[::1]`: native apps, dev);
- a private-use scheme in reverse-domain form (RFC 8252 7.1: `com.example.app:/callback`).

Everything else is refused, `javascript:`, `data:` and `vbscript:` first among them, and so
are the spellings that slip past a loose check: whitespace or control characters anywhere
(` javascript:`, `java\\tscript:`), upper-case schemes, backslashes, userinfo
(`https://good@evil`), fragments, malformed percent-escapes, and non-ASCII (an IDN host is
registered in its `xn--` form). Authorization and logout compare the stored string
character for character, so what passes here is exactly where a browser can be sent.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

MAX_URI = 2048
# RFC 3986 characters, without "#" (no fragments) and without "%" not followed by two hex digits.
_URI = re.compile(r"(?:[A-Za-z0-9\-._~:/?\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+")
_PRIVATE_SCHEME = re.compile(r"[a-z][a-z0-9-]*(?:\.[a-z0-9][a-z0-9-]*)+")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")
ALLOWED = "https, http to a loopback host, or a private-use scheme like com.example.app"


def redirect_uri_problem(uri: object) -> str | None:
    """Why `uri` may not be registered as a redirect URI, or None when it may."""
    problem = _common_problem(uri)
    if problem is not None:
        return problem
    assert isinstance(uri, str)
    scheme = uri.partition(":")[0]
    if _PRIVATE_SCHEME.fullmatch(scheme.lower()):
        return _lower_case(scheme) or _authority_problem(urlsplit(uri), required=False)
    return web_uri_problem(uri)


def web_uri_problem(uri: object) -> str | None:
    """Why `uri` is not an https URI (or http to loopback), or None when it is."""
    problem = _common_problem(uri)
    if problem is not None:
        return problem
    assert isinstance(uri, str)
    scheme = uri.partition(":")[0]
    if scheme.lower() not in ("https", "http"):
        return f"the scheme {scheme[:32]!r} is not allowed: use {ALLOWED}"
    lower = _lower_case(scheme)
    if lower is not None:
        return lower
    parts = urlsplit(uri)
    problem = _authority_problem(parts, required=True)
    if problem is not None:
        return problem
    if scheme == "http" and not _is_loopback(parts.hostname or ""):
        return "http is allowed only to a loopback host (localhost, 127.0.0.1, [::1]); use https"
    return None


def _common_problem(uri: object) -> str | None:
    if not isinstance(uri, str) or not uri:
        return "must be a non-empty string"
    if len(uri) > MAX_URI:
        return f"must be at most {MAX_URI} characters"
    if not uri.isascii():
        return "must be ASCII (register an internationalized host in its xn-- form)"
    if "#" in uri:
        return "must not have a fragment"
    if not _URI.fullmatch(uri):
        return "has characters a URI may not (whitespace, controls, quotes, backslashes, bad %)"
    scheme, colon, _ = uri.partition(":")
    if not colon or not scheme or not scheme[0].isalpha():
        return "must be an absolute URI"
    return None


def _lower_case(scheme: str) -> str | None:
    return None if scheme == scheme.lower() else "write the scheme in lower case"


def _authority_problem(parts: SplitResult, *, required: bool) -> str | None:
    if "@" in parts.netloc:
        return "must not carry userinfo (user@host)"
    if not parts.netloc:
        return "must name a host" if required else None
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return "has a malformed port"
    return _host_problem(parts.netloc, parts.hostname or "")


def _host_problem(netloc: str, host: str) -> str | None:
    if netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "has a malformed IPv6 host"
        return None
    labels = host.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        return "has a malformed host"
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        # A browser reads a host ending in a number as an IPv4 address, in any of its forms
        # (127.1, 0x7f.1); only the dotted-quad form means the same thing everywhere.
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return "has a host that is neither a name nor a dotted-quad IPv4 address"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
