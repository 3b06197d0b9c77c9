"""One id per request, on every log line written while handling it, on the answer and
upstream.

`RequestIds` is a pure ASGI middleware (no BaseHTTPMiddleware: it wraps every listener,
the gate's hot path included, and must add no task or body copy). It takes the id from
`X-Request-Id` only when the TCP peer is one of `gateway.trusted_proxies` (the proxy in
front made it, and its own logs carry it), and only if it is short and of a safe charset;
otherwise it makes one. The chosen id replaces every spelling of the header in the
request the app sees, so the gate passes exactly that id to the upstream and a client can
never choose what an upstream or our logs record; the answer carries it back.

The id lives in a context variable for the request's task (and tasks it starts);
`RequestIdFilter`, on the log handler, copies it to every record.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Sequence
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authgate.trusted_peers import Network, TrustedPeers

HEADER = b"x-request-id"
_LENGTH = len(HEADER)
MAX_LENGTH = 128
_SAFE = re.compile(rf"[A-Za-z0-9._:@+=/-]{{1,{MAX_LENGTH}}}")
"""What a proxy's id may be (uuid, nginx's $request_id, W3C trace ids, base64): no spaces,
quotes or control characters that could break a log line or a header."""


_ids = random.Random()  # seeded from os.urandom

current_request_id: ContextVar[str | None] = ContextVar("authgate_request_id", default=None)


def new_request_id() -> str:
    """32 random hex digits, as a uuid4's hex. An id names a request in logs and is no
    secret (a client sees its own), so the ordinary generator serves, without the system
    call per request that os.urandom costs."""
    return f"{_ids.getrandbits(128):032x}"


def acceptable(value: str) -> bool:
    return _SAFE.fullmatch(value) is not None


def _is_request_id(name: bytes) -> bool:
    """Any spelling an upstream might read as X-Request-Id (case, `_` for `-`)."""
    return len(name) == _LENGTH and name.lower().replace(b"_", b"-") == HEADER


class RequestIds:
    """Chooses the request's id, sets it for the app and its logs, returns it."""

    def __init__(self, app: ASGIApp, trusted_proxies: Sequence[Network]) -> None:
        self.app = app
        self._trusted = TrustedPeers(trusted_proxies)

    def choose(self, scope: Scope) -> str:
        """The trusted proxy's id when it sent exactly one acceptable id, else a new one."""
        client = scope.get("client")
        if not client or not self._trusted.trusts(client[0]):
            return new_request_id()
        given = [value for name, value in scope["headers"] if _is_request_id(name)]
        if len(given) == 1:
            value: str = bytes(given[0]).decode("latin-1")
            if acceptable(value):
                return value
        return new_request_id()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = self.choose(scope)
        encoded = request_id.encode("ascii")
        headers = [h for h in scope["headers"] if len(h[0]) != _LENGTH or not _is_request_id(h[0])]
        headers.append((HEADER, encoded))
        scope = {**scope, "headers": headers}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = [
                    h
                    for h in message.get("headers", ())
                    if len(h[0]) != _LENGTH or h[0].lower() != HEADER
                ]
                raw.append((HEADER, encoded))
                message = {**message, "headers": raw}
            await send(message)

        token = current_request_id.set(request_id)
        await self.app(scope, receive, send_with_id)
        # Not in a `finally`: when the app raises, the server logs the exception next, in
        # this same task, and that line belongs to the request too. uvicorn runs each
        # request in a task of its own, so the id cannot outlive it.
        current_request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record written while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True
