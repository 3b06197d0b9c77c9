"""authgate's own cookies, kept from every upstream.

The hosted pages' session cookie signs a browser in at `/oauth2/authorize`: an upstream
that saw it, or logged it, could replay the whole single sign-on session. So the gate
takes every cookie authgate sets out of the Cookie header before a request is forwarded
(proxied or as a WebSocket), and forward-auth answers the Cookie header a proxy is to send
on in its place. The other way, an upstream's Set-Cookie for one of them is dropped: an
upstream on the gate's host could otherwise plant a session of its choosing in the
browser, or a CSRF token it knows, which defeats the hosted forms' CSRF check.

A pair is ours when a server could read its name as one of `cookie_names.OWN_COOKIES`:
names are compared without surrounding blanks, without case (ASP.NET reads cookie names
so, and browsers match the `__Host-` and `__Secure-` prefixes so) and without those
prefixes. Pairs are split at `;`, as the gate's own session lookup splits them, and
a pair whose comma-separated parts name one of ours is dropped whole, for the servers that
also split at `,` (RFC 2965 style). Every other pair passes as sent, in order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from authgate.cookie_names import OWN_COOKIES

_OWN = frozenset(name.lower() for name in OWN_COOKIES)
_PREFIXES = ("__host-", "__secure-")


def is_own_cookie(name: str) -> bool:
    """Whether a cookie name is, in any spelling a server accepts, one authgate sets."""
    key = name.strip().lower()
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix) :].strip()
            break
    return key in _OWN


def _names(pair: str) -> Iterator[str]:
    """What parsers may read as a name in one `;`-separated pair: the text before `=`
    (all of it when there is none), also in each comma-separated part."""
    for part in pair.split(","):
        yield part.partition("=")[0]


def upstream_cookie(lines: Sequence[str]) -> str | None:
    """The one Cookie header (RFC 6265 5.4) an upstream gets for the client's Cookie
    `lines`: every pair but authgate's own, joined with "; "; None when none is left."""
    kept: list[str] = []
    for line in lines:
        # A name that lower-cases to one of ours leaves it in the lower-cased line, so a
        # line without one (nearly every line) needs no pair-by-pair look.
        lowered = line.lower()
        maybe_ours = any(name in lowered for name in _OWN)
        for pair in line.split(";"):
            pair = pair.strip()
            if pair and not (maybe_ours and any(is_own_cookie(n) for n in _names(pair))):
                kept.append(pair)
    return "; ".join(kept) or None


def sets_own_cookie(set_cookie: str) -> bool:
    """Whether a Set-Cookie value would set one of authgate's cookies: its name is the text
    before the first `=` of the part before the first `;` (RFC 6265 5.2)."""
    return is_own_cookie(set_cookie.split(";", 1)[0].partition("=")[0])
