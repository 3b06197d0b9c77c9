"""Which app serves a request on a listener the gate shares with authgate.

authgate's own paths come first and cannot be routed: if the first segment of the decoded
path is one of RESERVED_SEGMENTS (or the hosted pages' configured prefix, `reserved`) the
request goes to authgate's app, anything else to the
gate (which answers 404 when no route matches, also when no route is configured). The
decoded path is used so that `/%761/...` cannot reach the gate as something other than
what authgate's router will see.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from authgate.gateway import envoy_authz, forward_auth
from authgate.gateway.config import RESERVED_SEGMENTS
from authgate.gateway.runtime import GateRuntime

GATED = frozenset({"http", "websocket"})


def first_segment(path: str) -> str:
    return path[1:].split("/", 1)[0] if path.startswith("/") else ""


def with_gate(
    authgate_app: ASGIApp, gate: ASGIApp, reserved: frozenset[str] = frozenset()
) -> ASGIApp:
    """One ASGI app: authgate's paths (and the `reserved` first segments) to `authgate_app`,
    other HTTP and WebSocket requests to `gate`."""
    own = RESERVED_SEGMENTS | reserved

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in GATED and first_segment(scope["path"]) not in own:
            await gate(scope, receive, send)
        else:
            await authgate_app(scope, receive, send)

    return dispatch


def with_decision_endpoints(app: ASGIApp, gateway: GateRuntime) -> ASGIApp:
    """`app`, with forward-auth's and Envoy's decision paths answered ahead of it.

    A proxy asks one of them on every request it passes, and they need nothing of
    authgate's router and middleware (CORS, exception pages, the routing of every other
    path), which cost every decision their share otherwise. The endpoints answer their
    own failures, the unexpected ones as a bare 500.
    """
    forward = forward_auth.endpoint.bound(gateway)
    envoy = envoy_authz.endpoint.bound(gateway)
    envoy_below = envoy_authz.PATH + "/"

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path == forward_auth.PATH:
                await forward(scope, receive, send)
                return
            if path.startswith(envoy_below):
                await envoy(scope, receive, send)
                return
        await app(scope, receive, send)

    return dispatch
