"""Stage 5: forward a decided request to its upstream and stream the answer back.

A raw ASGI handler (no framework request object on the hot path). The pipeline decides on
the request as described by the ASGI scope; what the upstream then receives, and what of
its answer goes back, is `exchange_headers`' business.

Bodies stream both ways with bounded memory: the client's body is read chunk by chunk while
the upstream is written to, and the upstream's answer is sent on as it arrives. A body over
the route's `max_body` is refused (413) before the upstream is contacted when its length is
announced, and cut off when it grows over the limit. A connection failure on an idempotent
request is retried once on another target if no body byte was read yet. Once the answer
has started, an upstream failure aborts the client's connection: no made-up status.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

import aiohttp
from starlette.types import Receive, Scope, Send
from yarl import URL

from authgate.gateway.authorize import Denied
from authgate.gateway.cors import RouteCors, is_cors_header
from authgate.gateway.exchange_headers import (
    body_length,
    describe,
    response_headers,
    upstream_headers,
)
from authgate.gateway.failure_answers import (
    GATE_FAILURES,
    failure_reason,
    failure_response,
    server_error,
)
from authgate.gateway.forward_errors import (
    BadGateway,
    BodyStalled,
    BodyTooLarge,
    UpstreamTimeout,
    loggable,
)
from authgate.gateway.observe import Exchange, Observer
from authgate.gateway.pipeline import Decision, Pipeline
from authgate.gateway.request import GateRequest
from authgate.gateway.request_body import ClientGone, RequestBody
from authgate.gateway.upstreams import Target, UpstreamPool

log = logging.getLogger("authgate.gate.proxy")

WATCHED_LENGTH = 1024 * 1024
"""Answers longer than this (or of unknown length) stop when the client goes away."""
TRUST_CACHE = 4096
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class Record:
    """What the access log and metrics will say about one request, filled in as it goes."""

    __slots__ = (
        "route",
        "method",
        "status",
        "subject",
        "client",
        "target",
        "peer",
        "auth_seconds",
        "upstream_seconds",
        "reason_id",
        "bytes_in",
        "bytes_out",
        "path",
        "started",
        "cors",
        "total_seconds",
    )

    def __init__(self, scope: Scope) -> None:
        client = scope.get("client")
        self.route: str | None = None
        self.method: str = scope["method"]
        self.status = 500
        self.subject: str | None = None
        self.client: str | None = None
        self.target: str | None = None
        self.peer: str | None = client[0] if client else None
        self.auth_seconds = 0.0
        self.upstream_seconds: float | None = None
        self.reason_id: str | None = None
        self.bytes_in = 0
        self.bytes_out = 0
        self.path: str = scope["path"]
        self.started = False
        """Whether the answer's status line has been sent."""
        self.cors: list[tuple[bytes, bytes]] | None = None
        """The route's CORS headers for this request's origin; None if the route has no
        CORS rules (the upstream's own then pass unchanged)."""
        self.total_seconds = 0.0

    def exchange(self, total_seconds: float) -> Exchange:
        return Exchange(
            route=self.route,
            method=self.method,
            status=self.status,
            subject=self.subject,
            client=self.client,
            target=self.target,
            peer=self.peer,
            auth_seconds=self.auth_seconds,
            upstream_seconds=self.upstream_seconds,
            total_seconds=total_seconds,
            reason_id=self.reason_id,
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            path=self.path,
        )


def _is_connect_failure(exc: BaseException) -> bool:
    return isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)


class Proxy:
    """The gate's ASGI handler for one generation of configuration."""

    def __init__(
        self, pipeline: Pipeline, pools: Mapping[str, UpstreamPool], observer: Observer
    ) -> None:
        self.pipeline = pipeline
        self.pools = pools
        self.observer = observer
        self._trusted: dict[str | None, bool] = {}
        self._cors = {
            route.name: rules
            for route in pipeline.settings.routes
            if (rules := RouteCors.of(route)) is not None
        }

    def _trusts(self, peer: str | None) -> bool:
        """Pipeline.trusts, remembered per peer address (parsing one costs on every call)."""
        known = self._trusted.get(peer)
        if known is None:
            if len(self._trusted) >= TRUST_CACHE:
                self._trusted.clear()
            known = self._trusted[peer] = self.pipeline.trusts(peer)
        return known

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        record = Record(scope)
        try:
            await self._handle(scope, receive, send, record, started)
        except Exception:
            log.exception("the gate failed on %s %s", record.method, record.path)
            if record.started:
                raise
            record.status = 500
            await server_error(send)
        finally:
            record.total_seconds = time.perf_counter() - started
            self.observer.record(record)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, record: Record, started: float
    ) -> None:
        body: RequestBody | None = None
        upstream_started = started
        try:
            request = describe(scope)
            if self._cors and await self._answered_preflight(request, record, send):
                return
            match = self.pipeline.match(request)
            route = match.route
            record.route = route.name
            decision = await self.pipeline.decide(request, match)
            record.subject = decision.principal.subject
            record.client = decision.principal.client_id
            length = body_length(request)
            if length is not None and length > route.max_body:
                raise BodyTooLarge(route.max_body)
            record.auth_seconds = time.perf_counter() - started
            if length != 0:
                stall = self.pools[route.upstream].settings.timeouts.read
                body = RequestBody(receive, route.max_body, length, stall)
            upstream_started = time.perf_counter()
            response, target = await self._open(request, decision, body, record)
        except GATE_FAILURES as exc:
            if not record.auth_seconds:
                record.auth_seconds = time.perf_counter() - started
            self._ended(record, body, upstream_started)
            refusal = failure_response(exc)
            if record.cors:
                refusal.raw_headers.extend(record.cors)
            record.status = refusal.status_code
            record.reason_id = failure_reason(exc)
            if isinstance(exc, Denied) and exc.principal is not None:
                record.subject = exc.principal.subject
                record.client = exc.principal.client_id
            record.started = True
            await refusal(scope, receive, send)
            return
        except ClientGone:
            self._ended(record, body, upstream_started)
            record.status = 499
            record.reason_id = "client_gone"
            return
        try:
            watch = body is None or body.done
            await self._relay(response, receive if watch else None, send, record)
        finally:
            response.release()
            target.returned()
            self._ended(record, body, upstream_started)

    async def _answered_preflight(self, request: GateRequest, record: Record, send: Send) -> bool:
        """Apply the route's CORS rules: answer a preflight here (it carries no
        credentials, so it cannot pass authentication), or remember the headers that
        the answer to an actual request will carry."""
        origin = request.header("origin")
        if origin is None:
            return False
        preflight_method = None
        if request.method == "OPTIONS":
            preflight_method = request.header("access-control-request-method")
        route = self.pipeline.match(request, preflight_method).route
        rules = self._cors.get(route.name)
        if rules is None:
            return False
        record.route = route.name
        answer = rules.preflight(request.method, request.headers)
        if answer is None:
            record.cors = _encoded(rules.response_headers(origin))
            return False
        record.status = 204
        record.started = True
        await send({"type": "http.response.start", "status": 204, "headers": _encoded(answer)})
        await send({"type": "http.response.body", "body": b""})
        return True

    @staticmethod
    def _ended(record: Record, body: RequestBody | None, upstream_started: float) -> None:
        if record.target is not None:
            record.upstream_seconds = time.perf_counter() - upstream_started
        record.bytes_in = body.count if body is not None else 0

    async def _open(
        self,
        request: GateRequest,
        decision: Decision,
        body: RequestBody | None,
        record: Record,
    ) -> tuple[aiohttp.ClientResponse, Target]:
        """The upstream's answer (status and headers) and the target that gave it, leased
        until the answer is relayed; a failed connection is retried once."""
        pool = self.pools[decision.match.route.upstream]
        trusted = self._trusts(request.peer)
        tail = decision.match.upstream_path
        if request.query:
            tail = f"{tail}?{request.query}"
        target = pool.pick()
        retry = request.method in IDEMPOTENT
        while True:
            record.target = target.url
            headers = upstream_headers(request, decision, trusted, target, pool.authorization)
            target.lease()
            try:
                response = await pool.session_for(target).request(
                    request.method,
                    URL(target.url + tail, encoded=True),
                    headers=headers,
                    data=body.data() if body is not None else None,
                    allow_redirects=False,
                    server_hostname=target.server_hostname,
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                target.returned()
                if body is not None and body.too_large:
                    raise BodyTooLarge(decision.match.route.max_body) from None
                if body is not None and body.client_gone:
                    raise ClientGone from None
                if body is not None and body.stalled:
                    raise BodyStalled from None
                log.warning(
                    "upstream %s target %s failed: %s", pool.name, target.url, loggable(exc)
                )
                if _is_connect_failure(exc):
                    pool.connect_failed(target)
                    if retry and not (body is not None and body.started):
                        retry = False
                        other = pool.pick_other(target)
                        if other is not None:
                            target = other
                            continue
                if isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):
                    raise UpstreamTimeout from None
                raise BadGateway from None
            except BaseException:
                target.returned()
                raise
            target.succeeded()
            return response, target

    async def _relay(
        self,
        response: aiohttp.ClientResponse,
        receive: Receive | None,
        send: Send,
        record: Record,
    ) -> None:
        """Send the upstream's answer on as it arrives; abort if the upstream fails.

        A long answer stops being read from the upstream once the client has gone (the
        server would otherwise discard it all); `receive` is None when the client's body
        is not fully read yet, since then a disconnect cannot be told from a body chunk.
        """
        length = response.content_length
        gone: asyncio.Future[None] | None = None
        if receive is not None and (length is None or length > WATCHED_LENGTH):
            gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await self._stream(response, gone, send, record)
        finally:
            if gone is not None:
                gone.cancel()

    async def _stream(
        self,
        response: aiohttp.ClientResponse,
        gone: asyncio.Future[None] | None,
        send: Send,
        record: Record,
    ) -> None:
        record.status = response.status
        record.started = True
        headers = response_headers(response.raw_headers)
        if record.cors is not None:
            headers = [h for h in headers if not is_cors_header(h[0].decode("latin-1"))]
            headers.extend(record.cors)
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        content = response.content
        try:
            async for chunk in content.iter_any():
                if gone is not None and gone.done():
                    record.reason_id = "client_gone"
                    response.close()
                    return
                record.bytes_out += len(chunk)
                if content.at_eof():  # the whole answer is in: one message, not two
                    await send({"type": "http.response.body", "body": chunk, "more_body": False})
                    return
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("upstream target %s failed mid-answer: %s", record.target, loggable(exc))
            record.reason_id = "upstream_aborted"
            response.close()
            return  # unfinished: the server closes the client's connection
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _encoded(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


async def _disconnected(receive: Receive) -> None:
    """Returns when the client has gone (an unread empty body may come first)."""
    while (await receive())["type"] != "http.disconnect":
        pass
