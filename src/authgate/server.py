"""The two ASGI apps and the process that serves them on two listeners.

The admin app is a separate application on its own address, so no routing mistake on
the public listener can reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Generator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.schemas import SchemaGenerator

from authgate import oauth, ui
from authgate.api import consents, public, wellknown
from authgate.api.admin import create_admin_router_app
from authgate.api.docs import render_docs
from authgate.api.errors import error_response, plain_error
from authgate.bootstrap import Services, build_services
from authgate.config import Settings
from authgate.errors import DomainError
from authgate.gateway import forward_auth
from authgate.oauth.cors import ScopedCORS

log = logging.getLogger("authgate")
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    response = plain_error(exc.status_code, code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return plain_error(500, "server_error", "The server failed to handle the request.")


def _exception_handlers() -> dict[Any, Any]:
    return {DomainError: _domain_error, HTTPException: _http_error, Exception: _server_error}


_schemas = SchemaGenerator(
    {"openapi": "3.0.3", "info": {"title": "authgate public API", "version": "1"}}
)


def create_public_app(services: Services) -> Starlette:
    async def openapi(request: Request) -> Response:
        return JSONResponse(_schemas.get_schema(routes=app.routes))

    async def docs(request: Request) -> Response:
        return render_docs(_schemas.get_schema(routes=app.routes))

    app = Starlette(
        routes=[
            *forward_auth.routes,
            *public.routes,
            *consents.routes,
            *oauth.routes,
            *ui.routes,
            *wellknown.discovery_routes,
            *wellknown.health_routes,
            Route("/openapi.json", openapi, include_in_schema=False),
            Route("/docs", docs, include_in_schema=False),
        ],
        exception_handlers=_exception_handlers(),
        middleware=[Middleware(ScopedCORS, origins=services.settings.oauth.cors_origins)],
    )
    app.state.services = services
    return app


def create_admin_app(services: Services) -> Starlette:
    api = create_admin_router_app()
    for route in wellknown.health_routes:
        api.router.routes.append(route)

    async def docs(request: Request) -> Response:
        return render_docs(api.openapi())

    api.add_route("/docs", docs, include_in_schema=False)

    @api.middleware("http")
    async def no_store(request: Request, call_next: Any) -> Response:
        # Admin answers carry account data and, once, client secrets: never cache them.
        response: Response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    api.add_exception_handler(HTTPException, _http_error)
    api.add_exception_handler(Exception, _server_error)
    api.state.services = services
    return api


class ListenError(Exception):
    """A listener could not start (address in use, permission denied)."""


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to us: two servers share one process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def bind(listen: str) -> socket.socket:
    """Bind a listener ourselves, so a taken address is a clear error before anything runs."""
    host, port = _split_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {listen}: {exc.strerror}") from None
    return sock


async def serve(settings: Settings, services: Services | None = None) -> None:
    """Run both listeners until SIGTERM or SIGINT."""
    sockets = [bind(settings.public.listen)]
    try:
        sockets.append(bind(settings.admin.listen))
    except ListenError:
        sockets[0].close()
        raise
    services = services or await build_services(settings)
    servers = []
    for app in (create_public_app(services), create_admin_app(services)):
        config = uvicorn.Config(
            app,
            http="httptools",
            log_level="info",
            access_log=False,
            server_header=False,
            lifespan="off",
            # The peer address is the TCP peer: forwarding headers are believed only by the
            # gateway, and only from gateway.trusted_proxies.
            proxy_headers=False,
        )
        servers.append(_Server(config))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def _stop_when_asked() -> None:
        await stop.wait()
        for server in servers:
            server.should_exit = True

    async def _reload_keys() -> None:
        # Keys rotated by another replica (or the CLI) must reach this one's signer too.
        interval = settings.tokens.keys_reload_interval
        while True:
            await asyncio.sleep(interval)
            try:
                await services.keys.reload_if_older_than(interval)
            except Exception:
                log.exception("reloading signing keys failed; keeping the current ones")

    watcher = asyncio.create_task(_stop_when_asked())
    reloader = asyncio.create_task(_reload_keys())
    deny_sync = asyncio.create_task(services.deny.run())
    try:
        await asyncio.gather(
            *(server.serve(sockets=[sock]) for server, sock in zip(servers, sockets, strict=True))
        )
    finally:
        watcher.cancel()
        reloader.cancel()
        deny_sync.cancel()
        await services.close()
