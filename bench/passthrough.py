"""A bare pass-through proxy, no authentication: the baseline for the gate's own HTTP stack.

It does the least that any honest reverse proxy does (drops hop-by-hop headers both ways,
streams bodies in both directions, keeps upstream connections alive) and nothing else, so
that bench/gateway.py can tell what authgate's gate costs over the HTTP stack it is built on
(c/b), apart from what that stack costs over the upstream alone (c/a). Two stacks are
measured, so the gate's choice is a measured one:

- `uvicorn`: uvicorn (httptools, uvloop) serving a raw ASGI app, aiohttp's client upstream;
- `aiohttp`: aiohttp's own server (on uvloop), aiohttp's client upstream;
- `uvicorn-httpx`: uvicorn as above, httpx's AsyncClient upstream.

    python bench/passthrough.py --stack uvicorn --port 9001 --upstream http://127.0.0.1:9000
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import httpx
import uvicorn
import uvloop
from aiohttp import web
from yarl import URL

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)


def forwardable(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers minus hop-by-hop ones, including those the sender named in `Connection`."""
    named = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() not in named]


def new_session() -> aiohttp.ClientSession:
    """Upstream keep-alive pool; bodies are passed on as they are, never decoded."""
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
    return aiohttp.ClientSession(
        connector=connector, auto_decompress=False, timeout=aiohttp.ClientTimeout(total=30)
    )


Body = AsyncIterator[bytes] | None
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def send_head(send: Send, status: int, headers: list[tuple[str, str]]) -> None:
    encoded = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in forwardable(headers)]
    await send({"type": "http.response.start", "status": status, "headers": encoded})


async def send_chunk(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


class AsgiPassThrough(ABC):
    """The uvicorn stack: raw ASGI in; the client out is the subclass's."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        has_body = any(k.lower() in ("content-length", "transfer-encoding") for k, _ in raw)

        async def body() -> AsyncIterator[bytes]:
            more = True
            while more:
                message = await receive()
                more = message.get("more_body", False)
                if message.get("body"):
                    yield message["body"]

        target = scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("latin-1")
        url = self.upstream + target
        await self.forward(
            scope["method"], url, forwardable(raw), body() if has_body else None, send
        )
        await send({"type": "http.response.body", "body": b""})

    @abstractmethod
    async def forward(
        self, method: str, url: str, headers: list[tuple[str, str]], body: Body, send: Send
    ) -> None:
        """Send the request upstream and stream the answer back through `send`."""


class AiohttpClientPassThrough(AsgiPassThrough):
    """uvicorn + aiohttp's client: the gate's stack."""

    session: aiohttp.ClientSession | None = None

    async def forward(
        self, method: str, url: str, headers: list[tuple[str, str]], body: Body, send: Send
    ) -> None:
        if self.session is None:
            self.session = new_session()
        target = URL(url, encoded=True)
        async with self.session.request(
            method, target, headers=headers, data=body, allow_redirects=False
        ) as answer:
            raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in answer.raw_headers]
            await send_head(send, answer.status, raw)
            async for chunk in answer.content.iter_any():
                await send_chunk(send, chunk)


class HttpxClientPassThrough(AsgiPassThrough):
    """uvicorn + httpx's AsyncClient, pooled generously: the stack the issue warns about."""

    client: httpx.AsyncClient | None = None

    async def forward(
        self, method: str, url: str, headers: list[tuple[str, str]], body: Body, send: Send
    ) -> None:
        if self.client is None:
            limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
            self.client = httpx.AsyncClient(limits=limits, timeout=30)
        request = self.client.build_request(method, url, headers=headers, content=body)
        answer = await self.client.send(request, stream=True)
        try:
            await send_head(send, answer.status_code, answer.headers.multi_items())
            async for chunk in answer.aiter_raw():
                await send_chunk(send, chunk)
        finally:
            await answer.aclose()


def aiohttp_app(upstream: str) -> web.Application:
    """The aiohttp stack: aiohttp's server in, aiohttp's client out."""
    session_key = web.AppKey("session", aiohttp.ClientSession)

    async def handle(request: web.Request) -> web.StreamResponse:
        session = request.app[session_key]
        url = URL(upstream + request.raw_path, encoded=True)
        async with session.request(
            request.method,
            url,
            headers=forwardable(list(request.headers.items())),
            data=request.content.iter_any() if request.body_exists else None,
            allow_redirects=False,
        ) as answer:
            response = web.StreamResponse(status=answer.status)
            for name, value in forwardable(list(answer.headers.items())):
                response.headers.add(name, value)
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def session_context(app: web.Application) -> AsyncIterator[None]:
        app[session_key] = new_session()
        yield
        await app[session_key].close()

    app = web.Application()
    app.cleanup_ctx.append(session_context)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


ASGI_STACKS: dict[str, type[AsgiPassThrough]] = {
    "uvicorn": AiohttpClientPassThrough,
    "uvicorn-httpx": HttpxClientPassThrough,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", choices=(*ASGI_STACKS, "aiohttp"), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="http://HOST:PORT, no path")
    args = parser.parse_args()
    upstream = args.upstream.rstrip("/")
    if args.stack in ASGI_STACKS:
        uvicorn.run(
            ASGI_STACKS[args.stack](upstream),
            host="127.0.0.1",
            port=args.port,
            http="httptools",
            loop="uvloop",
            lifespan="off",
            access_log=False,
            log_level="warning",
            server_header=False,
            date_header=False,  # the upstream's Date is passed on
        )
    else:
        web.run_app(
            aiohttp_app(upstream),
            host="127.0.0.1",
            port=args.port,
            access_log=None,
            print=None,
            loop=uvloop.new_event_loop(),
        )


if __name__ == "__main__":
    main()
