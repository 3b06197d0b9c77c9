"""`/_authgate/forward`: the pipeline's decision for nginx, Traefik, Caddy or Envoy.

The proxy describes the client's request in headers: `X-Forwarded-Method`, `-Proto`,
`-Host`, `-Uri` (Traefik, Caddy) or `X-Original-Method`, `X-Original-URI` (nginx
`auth_request`; the host then comes from `X-Forwarded-Host` or `Host`). Those headers are
believed only from a peer in `gateway.trusted_proxies` (none by default): anyone else is
refused with 403 `untrusted_peer`, because a client that can name the request being
decided can make the gate decide on something else. The credentials are the forwarded
request's own (`Authorization`, `Cookie`), which the proxies pass on.

A missing or repeated description, two families that disagree, or an URI that is not a
plain origin-form path is 400: nothing is decided on input that cannot be believed. The
answer is 200 with no body and the headers for the proxy to copy upstream: the identity
headers, and Cookie without authgate's own cookies (none when nothing is left, so the
proxy sends none); or the failure from the gateway's table. Method overrides are never
read.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from authgate.gateway.authorize import Denied
from authgate.gateway.failure_answers import GATE_FAILURES, failure_response
from authgate.gateway.mutate import HeaderPatch
from authgate.gateway.pipeline import Pipeline
from authgate.gateway.request import BadGateRequest, GateRequest

PATH = "/_authgate/forward"
MAX_URI = 8192


def _one(headers: Headers, name: str) -> str | None:
    values = headers.getlist(name)
    if len(values) > 1:
        raise BadGateRequest("repeated_header", f"{name} is sent more than once.")
    if not values or not values[0].strip():
        return None
    return values[0].strip()


def _agreeing(headers: Headers, first: str, second: str) -> str:
    a, b = _one(headers, first), _one(headers, second)
    if a is not None and b is not None and a != b:
        raise BadGateRequest("conflicting_description", f"{first} and {second} disagree.")
    value = a or b
    if value is None:
        raise BadGateRequest("missing_description", f"{first} or {second} is required.")
    return value


def describe(request: Request, gate: Pipeline) -> GateRequest:
    """The request the proxy asks about; refused unless the peer is a trusted proxy."""
    peer = request.client.host if request.client else None
    if not gate.trusts(peer):
        raise Denied("untrusted_peer", "This peer is not a trusted proxy.")
    headers = request.headers
    method = _agreeing(headers, "x-forwarded-method", "x-original-method")
    uri = _agreeing(headers, "x-forwarded-uri", "x-original-uri")
    if len(uri) > MAX_URI or not uri.startswith("/") or "#" in uri:
        raise BadGateRequest("bad_uri", "The forwarded URI must be a path and optional query.")
    path, _, query = uri.partition("?")
    scheme = (_one(headers, "x-forwarded-proto") or request.url.scheme).lower()
    if scheme not in ("http", "https"):
        raise BadGateRequest("bad_proto", "X-Forwarded-Proto must be http or https.")
    return GateRequest(
        method=method,
        scheme=scheme,
        host=_one(headers, "x-forwarded-host") or _one(headers, "host") or "",
        raw_path=path,
        query=query,
        headers=tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in headers.raw),
        peer=peer,
    )


def identity_answer(patch: HeaderPatch) -> Response:
    """200 with the headers the upstream is to receive."""
    return Response(status_code=200, headers=dict(patch.set))


class DecisionEndpoint:
    """The pipeline's decision on a request a proxy describes, as an ASGI endpoint (so
    every method reaches it): `describe` reads the request from the proxy's, `allowed`
    words a yes for that proxy; a no is the gate's usual refusal."""

    def __init__(
        self,
        describe: Callable[[Request, Pipeline], GateRequest],
        allowed: Callable[[HeaderPatch], Response],
    ) -> None:
        self._describe = describe
        self._allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        gate: Pipeline = request.app.state.services.gateway.pipeline
        try:
            decision = await gate.decide(self._describe(request, gate))
        except GATE_FAILURES as exc:
            response: Response = failure_response(exc)
        else:
            response = self._allowed(decision.patch)
        await response(scope, receive, send)


routes: list[BaseRoute] = [
    Route(PATH, DecisionEndpoint(describe, identity_answer), include_in_schema=False)
]
