"""The headers of a forwarded exchange, and the request as the gate describes it.

Hop-by-hop headers (RFC 9110 7.6.1) are removed in both directions, and so are those a
`Connection` header names; an upstream's Set-Cookie for one of authgate's own cookies
never reaches the client (`gateway.own_cookies`). Forwarding headers are believed only
from a trusted proxy: X-Forwarded-For is the TCP peer, appended to the client's value only
when that peer is trusted (whose X-Forwarded-Proto and -Host are then kept too); from
anyone else every forwarding header is dropped and the gate's own take their place.
"""

from __future__ import annotations

from functools import lru_cache

from starlette.types import Scope

from authgate.gateway.mutate import header_key
from authgate.gateway.own_cookies import sets_own_cookie
from authgate.gateway.pipeline import Decision
from authgate.gateway.request import BadGateRequest, GateRequest
from authgate.gateway.upstreams import Target

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authorization",
        "proxy-authenticate",
    }
)
_HOP_BY_HOP_BYTES = frozenset(name.encode() for name in HOP_BY_HOP)
FORWARDING = frozenset(
    {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port"}
    | {"forwarded", "x-real-ip", "x-forwarded-server", "x-forwarded-scheme", "x-forwarded-ssl"}
    | {"x-url-scheme", "front-end-https", "client-ip", "true-client-ip", "x-client-ip"}
    | {"x-cluster-client-ip", "cf-connecting-ip", "fastly-client-ip"}
)
"""Headers frameworks read as the client's address or scheme: believed from a trusted
proxy only (and only in this spelling), dropped from anyone else in any spelling, since
CGI and WSGI servers merge `X_Forwarded_For` into the same variable as `X-Forwarded-For`."""
NOT_FORWARDED = HOP_BY_HOP | {"host", "expect"}
"""Never copied from the client: the gate sets Host itself and answers `Expect` itself."""
_RESPONSE_DROPPED = _HOP_BY_HOP_BYTES | {b"date"}
"""The server adds its own Date; two would be a malformed answer."""


@lru_cache(maxsize=4096)
def forwarding_key(name: str) -> str | None:
    """The forwarding header `name` stands for in any spelling, or None."""
    key = header_key(name)
    return key if key in FORWARDING else None


def describe(scope: Scope) -> GateRequest:
    """The request the pipeline decides on, as the ASGI server parsed it; an HTTP/1.1
    request needs exactly one Host (RFC 9112 3.2), a front proxy might read another."""
    headers = tuple([(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]])
    hosts = [value for name, value in headers if name == "host"]
    if len(hosts) > 1:
        raise BadGateRequest("repeated_header", "Host is sent more than once.")
    if not hosts and scope.get("http_version", "1.1") == "1.1":
        raise BadGateRequest("missing_host", "An HTTP/1.1 request needs a Host header.")
    host = hosts[0] if hosts else ""
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    client = scope.get("client")
    return GateRequest(
        method=scope["method"],
        scheme=scope.get("scheme", "http"),
        host=host,
        raw_path=raw_path.decode("latin-1"),
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        peer=client[0] if client else None,
    )


def body_length(request: GateRequest) -> int | None:
    """The announced body length, 0 for none, None for a chunked body; 400 if framing is
    contradictory (a smuggling attempt)."""
    chunked = bool(request.values("transfer-encoding"))
    length = request.header("content-length")
    if length is not None:
        if chunked:
            raise BadGateRequest("conflicting_framing", "Content-Length with Transfer-Encoding.")
        if not length.isdigit() or len(length) > 19:
            raise BadGateRequest("bad_content_length", "Content-Length is not a number.")
        return int(length)
    return None if chunked else 0


def upstream_headers(
    request: GateRequest,
    decision: Decision,
    trusted: bool,
    target: Target,
    authorization: str | None,
) -> list[tuple[str, str]]:
    """What the upstream receives: the client's headers after the patch, then ours."""
    patch = decision.patch
    dropped = patch.remove | patch.set.keys() | NOT_FORWARDED
    out: list[tuple[str, str]] = []
    forwarded_for: str | None = None
    proto: str | None = None
    host: str | None = None
    for name, value in request.headers:
        if name in dropped:
            continue
        if forwarding_key(name) is not None:
            if not trusted or name not in FORWARDING:
                continue
            if name == "x-forwarded-for":
                forwarded_for = value if forwarded_for is None else f"{forwarded_for}, {value}"
                continue
            if name == "x-forwarded-proto":
                proto = proto or value
                continue
            if name == "x-forwarded-host":
                host = host or value
                continue
        out.append((name, value if value.isascii() else _as_sent(value)))
    # Patch values are visible ASCII, but Cookie carries the client's own bytes.
    out.extend(
        (name, value if value.isascii() else _as_sent(value)) for name, value in patch.set.items()
    )
    out.append(("host", target.host_header))
    if request.peer is not None:
        peer = request.peer
        out.append(("x-forwarded-for", f"{forwarded_for}, {peer}" if forwarded_for else peer))
    out.append(("x-forwarded-proto", proto or request.scheme))
    if host or request.host:
        out.append(("x-forwarded-host", host or request.host))
    if authorization is not None:
        out.append(("authorization", authorization))
    return out


def _as_sent(value: str) -> str:
    """A non-ASCII value (decoded as latin-1) in the form the client library re-encodes to
    the bytes the client sent: it writes header values as UTF-8, so only UTF-8 can pass
    unchanged; any other bytes are refused rather than forwarded altered."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        raise BadGateRequest("bad_header_value", "A header value is not ASCII or UTF-8.") from None


def response_headers(raw: tuple[tuple[bytes, bytes], ...]) -> list[tuple[bytes, bytes]]:
    """The upstream's headers without hop-by-hop ones, those its Connection names, and any
    Set-Cookie for one of authgate's own cookies (`gateway.own_cookies`)."""
    named: set[bytes] = set()
    for name, value in raw:
        if name.lower() == b"connection":
            named.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return [
        (name, value)
        for name, value in raw
        if (lower := name.lower()) not in _RESPONSE_DROPPED
        and lower not in named
        and not (lower == b"set-cookie" and sets_own_cookie(value.decode("latin-1")))
    ]
