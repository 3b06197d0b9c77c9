"""WebSocket upgrades through the gate: decided like any GET, then relayed frame by frame.

The handshake is authorized by the same pipeline (a browser sends its cookie, a client its
bearer token) before the upstream is contacted; a refusal answers with the gate's usual
status and JSON when the server supports denial responses, else the handshake is closed.
The upstream's handshake carries the same patched and forwarding headers as a proxied
request (the WebSocket handshake headers themselves are the client library's to make),
and the subprotocol the upstream picks is the one accepted. Messages are then passed on
in both directions until either side closes, with its close code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping

import aiohttp
from starlette.types import Receive, Scope, Send
from yarl import URL

from authgate.gateway.exchange_headers import describe, upstream_headers
from authgate.gateway.failure_answers import GATE_FAILURES, failure_reason, failure_response
from authgate.gateway.forward_errors import BadGateway, UpstreamTimeout, loggable
from authgate.gateway.observe import Observer
from authgate.gateway.pipeline import Pipeline
from authgate.gateway.proxy import Record
from authgate.gateway.upstreams import Target, UpstreamPool

log = logging.getLogger("authgate.gate.websocket")

HANDSHAKE = frozenset(
    {
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
    }
)
MAX_MESSAGE = 16 * 1024 * 1024
SCHEMES = {"http": "ws", "https": "wss"}
CLOSE_ERROR = 1011
UNSENDABLE = frozenset({1005, 1006, 1015})
"""Close codes that report a state and must never be sent in a close frame (RFC 6455 7.4.1)."""


def sendable(code: int | None) -> int:
    return 1000 if code is None or code in UNSENDABLE else code


class WebSocketProxy:
    """The gate's handler for `websocket` scopes, for one generation of configuration."""

    def __init__(
        self, pipeline: Pipeline, pools: Mapping[str, UpstreamPool], observer: Observer
    ) -> None:
        self.pipeline = pipeline
        self.pools = pools
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        record = Record({**scope, "method": "GET"})
        try:
            if (await receive())["type"] != "websocket.connect":
                return
            opened = await self._open(scope, send, record, started)
            if opened is None:
                return
            upstream, target = opened
            try:
                record.status = 101
                await send({"type": "websocket.accept", "subprotocol": upstream.protocol})
                await _relay(upstream, receive, send, record)
            finally:
                await upstream.close()
                target.returned()
                record.upstream_seconds = time.perf_counter() - started - record.auth_seconds
        finally:
            self.observer.record(record.exchange(time.perf_counter() - started))

    async def _open(
        self, scope: Scope, send: Send, record: Record, started: float
    ) -> tuple[aiohttp.ClientWebSocketResponse, Target] | None:
        """The upstream's WebSocket and its target (leased until the socket closes), or
        None after answering the client with a refusal."""
        try:
            request = describe({**scope, "method": "GET", "scheme": _http(scope)})
            decision = await self.pipeline.decide(request)
            route = decision.match.route
            record.route = route.name
            record.subject = decision.principal.subject
            record.client = decision.principal.client_id
            record.auth_seconds = time.perf_counter() - started
            pool = self.pools[route.upstream]
            target = pool.pick()
            record.target = target.url
            headers = [
                (name, value)
                for name, value in upstream_headers(
                    request,
                    decision,
                    self.pipeline.trusts(request.peer),
                    target,
                    pool.authorization,
                )
                if name not in HANDSHAKE
            ]
            tail = decision.match.upstream_path
            if request.query:
                tail = f"{tail}?{request.query}"
            scheme, _, rest = target.url.partition("://")
            target.lease()
            try:
                upstream = await pool.session_for(target).ws_connect(
                    URL(f"{SCHEMES[scheme]}://{rest}{tail}", encoded=True),
                    headers=headers,
                    protocols=scope.get("subprotocols", ()),
                    max_msg_size=MAX_MESSAGE,
                    autoclose=False,
                    server_hostname=target.server_hostname,
                )
            except BaseException as exc:
                target.returned()
                if not isinstance(exc, aiohttp.ClientError | TimeoutError):
                    raise
                log.warning("websocket to %s failed: %s", target.url, loggable(exc))
                if isinstance(exc, aiohttp.ClientConnectorError):
                    pool.connect_failed(target)
                if isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):
                    raise UpstreamTimeout from None
                raise BadGateway from None
            target.succeeded()
            return upstream, target
        except GATE_FAILURES as exc:
            record.status = failure_response(exc).status_code
            record.reason_id = failure_reason(exc)
            await _refuse(exc, scope, send)
            return None


def _http(scope: Scope) -> str:
    return "https" if scope.get("scheme") == "wss" else "http"


async def _refuse(exc: Exception, scope: Scope, send: Send) -> None:
    """The gate's failure answer as the handshake's response, where the server allows it."""
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    response = failure_response(exc)
    await send(
        {
            "type": "websocket.http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "websocket.http.response.body", "body": bytes(response.body)})


async def _relay(
    upstream: aiohttp.ClientWebSocketResponse, receive: Receive, send: Send, record: Record
) -> None:
    """Pass messages both ways until one side closes; the other gets its close code."""
    to_upstream = asyncio.ensure_future(_client_to_upstream(upstream, receive, record))
    to_client = asyncio.ensure_future(_upstream_to_client(upstream, send, record))
    done, pending = await asyncio.wait({to_upstream, to_client}, return_when="FIRST_COMPLETED")
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for task in done:
        failure = task.exception()
        if failure is not None:  # mostly a side that went away mid-send
            log.debug("websocket relay ended with %s", loggable(failure))


async def _client_to_upstream(
    upstream: aiohttp.ClientWebSocketResponse, receive: Receive, record: Record
) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            await upstream.close(code=sendable(message.get("code")))
            return
        if message.get("text") is not None:
            record.bytes_in += len(message["text"])
            await upstream.send_str(message["text"])
        elif message.get("bytes") is not None:
            record.bytes_in += len(message["bytes"])
            await upstream.send_bytes(message["bytes"])


async def _upstream_to_client(
    upstream: aiohttp.ClientWebSocketResponse, send: Send, record: Record
) -> None:
    async for message in upstream:
        if message.type == aiohttp.WSMsgType.TEXT:
            record.bytes_out += len(message.data)
            await send({"type": "websocket.send", "text": message.data})
        elif message.type == aiohttp.WSMsgType.BINARY:
            record.bytes_out += len(message.data)
            await send({"type": "websocket.send", "bytes": message.data})
        elif message.type == aiohttp.WSMsgType.CLOSE:
            await send({"type": "websocket.close", "code": sendable(message.data)})
            return
        else:
            break
    await send({"type": "websocket.close", "code": upstream.close_code or CLOSE_ERROR})
