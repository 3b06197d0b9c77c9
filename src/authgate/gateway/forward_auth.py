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

import logging
from collections.abc import Callable

from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from authgate.gateway.authorize import Denied
from authgate.gateway.failure_answers import GATE_FAILURES, failure_response, server_error
from authgate.gateway.mutate import HeaderPatch
from authgate.gateway.pipeline import Pipeline
from authgate.gateway.request import BadGateRequest, GateRequest, HeaderIndex, read_headers
from authgate.gateway.runtime import GateRuntime

log = logging.getLogger("authgate.gate.decisions")
PATH = "/_authgate/forward"
MAX_URI = 8192


def _one(index: HeaderIndex, name: str) -> str | None:
    values = index.get(name, ())
    if len(values) > 1:
        raise BadGateRequest("repeated_header", f"{name} is sent more than once.")
    if not values or not values[0].strip():
        return None
    return values[0].strip()


def _agreeing(index: HeaderIndex, first: str, second: str) -> str:
    a, b = _one(index, first), _one(index, second)
    if a is not None and b is not None and a != b:
        raise BadGateRequest("conflicting_description", f"{first} and {second} disagree.")
    value = a or b
    if value is None:
        raise BadGateRequest("missing_description", f"{first} or {second} is required.")
    return value


def trusted_peer(scope: Scope, gate: Pipeline) -> str:
    """The TCP peer's address, when it is a trusted proxy; else the request is refused."""
    client = scope.get("client")
    peer: str | None = client[0] if client else None
    if peer is None or not gate.trusts(peer):
        raise Denied("untrusted_peer", "This peer is not a trusted proxy.")
    return peer


def describe(scope: Scope, gate: Pipeline) -> GateRequest:
    """The request the proxy asks about; refused unless the peer is a trusted proxy."""
    peer = trusted_peer(scope, gate)
    headers, asked = read_headers(scope["headers"])
    method = _agreeing(asked, "x-forwarded-method", "x-original-method")
    uri = _agreeing(asked, "x-forwarded-uri", "x-original-uri")
    if len(uri) > MAX_URI or not uri.startswith("/") or "#" in uri:
        raise BadGateRequest("bad_uri", "The forwarded URI must be a path and optional query.")
    path, _, query = uri.partition("?")
    scheme = (_one(asked, "x-forwarded-proto") or scope.get("scheme", "http")).lower()
    if scheme not in ("http", "https"):
        raise BadGateRequest("bad_proto", "X-Forwarded-Proto must be http or https.")
    host = _one(asked, "x-forwarded-host") or _one(asked, "host") or ""
    return GateRequest.indexed(
        headers,
        asked,
        method=method,
        scheme=scheme,
        host=host,
        raw_path=path,
        query=query,
        peer=peer,
    )


def identity_headers(patch: HeaderPatch) -> dict[str, str]:
    """The headers the upstream is to receive."""
    return dict(patch.set)


Describe = Callable[[Scope, Pipeline], GateRequest]
Allowed = Callable[[HeaderPatch], dict[str, str]]


class DecisionEndpoint:
    """The pipeline's decision on a request a proxy describes, as an ASGI endpoint (so
    every method reaches it): `describe` reads the request from the proxy's, `allowed`
    gives the headers of a yes (an empty 200) for that proxy; a no is the gate's usual
    refusal.

    Unbound, it finds the gateway on the Starlette app serving it; `bound` to one, it
    needs no app around it, which is how the server answers these paths before its
    router and middleware (dispatch.with_decision_endpoints): proxies ask on every request.
    """

    def __init__(
        self, describe: Describe, allowed: Allowed, gateway: GateRuntime | None = None
    ) -> None:
        self._describe = describe
        self._allowed = allowed
        self._gateway = gateway

    def bound(self, gateway: GateRuntime) -> DecisionEndpoint:
        return DecisionEndpoint(self._describe, self._allowed, gateway)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gateway = self._gateway or scope["app"].state.services.gateway
        gate: Pipeline = gateway.pipeline
        try:
            decision = await gate.decide(self._describe(scope, gate))
        except GATE_FAILURES as exc:
            await failure_response(exc)(scope, receive, send)
            return
        except Exception:
            log.exception("the decision failed on %s %s", scope["method"], scope["path"])
            await server_error(send)
            return
        headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in self._allowed(decision.patch).items()
        ]
        headers.append((b"content-length", b"0"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


endpoint = DecisionEndpoint(describe, identity_headers)
routes: list[BaseRoute] = [Route(PATH, endpoint, include_in_schema=False)]
