"""`/_authgate/envoy/...`: the pipeline's decision for Envoy's `ext_authz` HTTP service.

Envoy asks with the client's own request line, its path appended to the filter's
`path_prefix` (this PATH), the client's method, its `:authority` as Host, and the headers
the filter's `allowed_headers` lets through (deploy/envoy/envoy.yaml: Cookie,
X-Forwarded-Proto, X-Forwarded-For; Authorization always). So the described request is
read from the request line itself, not from headers; only a peer in
`gateway.trusted_proxies` may ask, as for `/_authgate/forward`.

On 200 Envoy copies the headers `allowed_upstream_headers` names onto the upstream
request, but keeps whatever the client sent under a name the answer lacks. The answer
therefore also names, in `x-envoy-auth-headers-to-remove`, every identity header it does
not set, Cookie when none of the client's cookies is left, Authorization unless the route
keeps it, and the method/URL override headers: nothing client-sent passes under those
names whatever Envoy was shown. Any other status is a denial Envoy returns to the client
with its status, body and allowed headers.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.gateway.authorize import Denied
from authgate.gateway.forward_auth import MAX_URI, DecisionEndpoint
from authgate.gateway.mutate import (
    CLIENT,
    COOKIE,
    GROUPS,
    IDENTITY,
    REQUEST_OVERRIDES,
    SCOPES,
    SUB,
    USERNAME,
    HeaderPatch,
)
from authgate.gateway.pipeline import Pipeline
from authgate.gateway.request import BadGateRequest, GateRequest

PATH = "/_authgate/envoy"
HEADERS_TO_REMOVE = "x-envoy-auth-headers-to-remove"
_ALWAYS_REMOVED = frozenset({SUB, USERNAME, GROUPS, SCOPES, CLIENT, IDENTITY, COOKIE})
_NEVER_REMOVED = frozenset({"host", "content-length", "transfer-encoding"})


def describe(request: Request, gate: Pipeline) -> GateRequest:
    """The client's request, as Envoy relays it below PATH; trusted peers only."""
    peer = request.client.host if request.client else None
    if not gate.trusts(peer):
        raise Denied("untrusted_peer", "This peer is not a trusted proxy.")
    raw = request.scope.get("raw_path") or request.scope["path"].encode("latin-1")
    raw_path = raw.decode("latin-1")
    if not raw_path.startswith(PATH + "/"):
        raise BadGateRequest("bad_uri", f"The described path must follow {PATH}.")
    path = raw_path[len(PATH) :]
    query = request.scope.get("query_string", b"").decode("latin-1")
    if len(path) + len(query) > MAX_URI or "#" in path:
        raise BadGateRequest("bad_uri", "The described URI must be a path and optional query.")
    headers = request.headers
    scheme = (headers.get("x-forwarded-proto") or request.url.scheme).strip().lower()
    if scheme not in ("http", "https") or len(headers.getlist("x-forwarded-proto")) > 1:
        raise BadGateRequest("bad_proto", "X-Forwarded-Proto must be one of http or https.")
    hosts = headers.getlist("host")
    if len(hosts) > 1:
        raise BadGateRequest("repeated_header", "host is sent more than once.")
    return GateRequest(
        method=request.method,
        scheme=scheme,
        host=hosts[0].strip() if hosts else "",
        raw_path=path,
        query=query,
        headers=tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in headers.raw),
        peer=peer,
    )


def allowed_answer(patch: HeaderPatch) -> Response:
    """200 with the headers to set upstream and the names Envoy must remove there."""
    removed = (patch.remove | _ALWAYS_REMOVED | REQUEST_OVERRIDES) - patch.set.keys()
    headers = dict(patch.set)
    headers[HEADERS_TO_REMOVE] = ", ".join(sorted(removed - _NEVER_REMOVED))
    return Response(status_code=200, headers=headers)


routes: list[BaseRoute] = [
    Route(
        PATH + "/{described:path}",
        DecisionEndpoint(describe, allowed_answer),
        include_in_schema=False,
    )
]
