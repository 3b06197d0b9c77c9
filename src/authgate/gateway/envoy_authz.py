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

from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from authgate.gateway.forward_auth import MAX_URI, DecisionEndpoint, trusted_peer
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
from authgate.gateway.request import BadGateRequest, GateRequest, read_headers

PATH = "/_authgate/envoy"
HEADERS_TO_REMOVE = "x-envoy-auth-headers-to-remove"
_ALWAYS_REMOVED = frozenset({SUB, USERNAME, GROUPS, SCOPES, CLIENT, IDENTITY, COOKIE})
_NEVER_REMOVED = frozenset({"host", "content-length", "transfer-encoding"})


def describe(scope: Scope, gate: Pipeline) -> GateRequest:
    """The client's request, as Envoy relays it below PATH; trusted peers only."""
    peer = trusted_peer(scope, gate)
    raw = scope.get("raw_path") or scope["path"].encode("latin-1")
    raw_path = raw.decode("latin-1")
    if not raw_path.startswith(PATH + "/"):
        raise BadGateRequest("bad_uri", f"The described path must follow {PATH}.")
    path = raw_path[len(PATH) :]
    query = scope.get("query_string", b"").decode("latin-1")
    if len(path) + len(query) > MAX_URI or "#" in path:
        raise BadGateRequest("bad_uri", "The described URI must be a path and optional query.")
    headers, index = read_headers(scope["headers"])
    protos = index.get("x-forwarded-proto", [])
    scheme = (protos[0] if protos else scope.get("scheme", "http")).strip().lower()
    if scheme not in ("http", "https") or len(protos) > 1:
        raise BadGateRequest("bad_proto", "X-Forwarded-Proto must be one of http or https.")
    hosts = index.get("host", [])
    if len(hosts) > 1:
        raise BadGateRequest("repeated_header", "host is sent more than once.")
    return GateRequest.indexed(
        headers,
        index,
        method=scope["method"],
        scheme=scheme,
        host=hosts[0].strip() if hosts else "",
        raw_path=path,
        query=query,
        peer=peer,
    )


def allowed_headers(patch: HeaderPatch) -> dict[str, str]:
    """The headers to set upstream and the names Envoy must remove there."""
    removed = (patch.remove | _ALWAYS_REMOVED | REQUEST_OVERRIDES) - patch.set.keys()
    headers = dict(patch.set)
    headers[HEADERS_TO_REMOVE] = ", ".join(sorted(removed - _NEVER_REMOVED))
    return headers


endpoint = DecisionEndpoint(describe, allowed_headers)
routes: list[BaseRoute] = [Route(PATH + "/{described:path}", endpoint, include_in_schema=False)]
