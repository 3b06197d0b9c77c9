"""The ASGI apps and the process that serves them on their listeners.

The admin app is a separate application on its own address, so no routing mistake on
the public listener (or the gate's own listeners) can reach it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from authgate import oauth, ui
from authgate.api import consents, decide, passkeys, public, wellknown
from authgate.api import mfa as mfa_api
from authgate.api import sessions as browser_sessions
from authgate.api.admin_app import create_admin_router_app
from authgate.api.docs import render_docs
from authgate.api.errors import error_response, plain_error
from authgate.api.openapi import PublicSchemas
from authgate.bootstrap import Services, build_services
from authgate.cognito import endpoint as cognito
from authgate.config import UI_PREFIX, Settings
from authgate.errors import DomainError, StorageUnavailable
from authgate.gateway import forward_auth
from authgate.gateway.dispatch import with_gate
from authgate.listeners import Role, open_listeners, server_for
from authgate.oauth.cors import ScopedCORS
from authgate.reload import GatewayReloader
from authgate.ui.pages import Pages, storage_unavailable_page

log = logging.getLogger("authgate")
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if isinstance(exc, StorageUnavailable) and _is_page(request):
        return storage_unavailable_page(request, exc.retry_after)
    return error_response(exc)


def _is_page(request: Request) -> bool:
    """Whether a hosted page (under `ui.prefix`) was asked for: people get a page, not JSON."""
    prefix = request.app.state.services.settings.ui.prefix.rstrip("/")
    path = request.url.path
    return path == prefix or path.startswith(f"{prefix}/")


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


_schemas = PublicSchemas()


def public_routes(ui_prefix: str = UI_PREFIX) -> list[BaseRoute]:
    """authgate's own routes on the public listener (the gate serves what none of them do);
    the hosted pages under `ui_prefix` (`ui.prefix`)."""
    return [
        *forward_auth.routes,
        *public.routes,
        *passkeys.routes,
        *mfa_api.routes,
        *decide.routes,
        *consents.routes,
        *browser_sessions.routes,
        *oauth.routes,
        *cognito.routes,
        *ui.routes(ui_prefix),
        *wellknown.discovery_routes,
        *wellknown.health_routes,
    ]


def create_public_app(services: Services) -> Starlette:
    async def openapi(request: Request) -> Response:
        return JSONResponse(_schemas.get_schema(routes=app.routes))

    async def docs(request: Request) -> Response:
        return render_docs(_schemas.get_schema(routes=app.routes))

    app = Starlette(
        routes=[
            *public_routes(services.settings.ui.prefix),
            Route("/openapi.json", openapi, include_in_schema=False),
            Route("/docs", docs, include_in_schema=False),
        ],
        exception_handlers=_exception_handlers(),
        middleware=[Middleware(ScopedCORS, origins=services.settings.oauth.cors_origins)],
    )
    app.state.services = services
    app.state.pages = Pages(services.settings)
    return app


def create_gated_app(services: Services) -> ASGIApp:
    """The public app with the gate behind it: authgate's own paths first, the rest routed."""
    pages = frozenset({services.settings.ui.reserved_segment})
    return with_gate(create_public_app(services), services.gateway, pages)


def create_admin_app(services: Services) -> Starlette:
    api = create_admin_router_app()
    for route in wellknown.health_routes:
        api.router.routes.append(route)

    async def docs(request: Request) -> Response:
        return render_docs(api.openapi())

    api.add_route("/docs", docs, include_in_schema=False)

    async def metrics(request: Request) -> Response:
        # Counts and timings per route only, nothing about accounts: scrapers need no token
        # (the admin token can do everything), and the admin listener is not public.
        body, content_type = services.gateway.observer.exposition()
        return Response(body, media_type=content_type)

    api.add_route("/metrics", metrics, include_in_schema=False)

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


async def serve(
    settings: Settings, services: Services | None = None, config_path: Path | None = None
) -> None:
    """Run every listener until SIGTERM or SIGINT; SIGHUP reloads the gate's routes.

    The gate serves on the public listener, unless `gateway.listen` gives it listeners of
    its own: then it serves there (authgate's paths first, as everywhere) and the public
    listener serves authgate only. `config_path` is what a reload re-reads.
    """
    listeners = open_listeners(settings)
    services = services or await build_services(settings)
    gated = create_gated_app(services)
    admin = create_admin_app(services)
    gateway_reloader = GatewayReloader(settings, config_path, services.gateway, listeners)
    admin.state.reloader = gateway_reloader
    apps: dict[Role, ASGIApp] = {
        "public": create_public_app(services) if settings.gateway.listen else gated,
        "admin": admin,
        "gate": gated,
    }
    servers = [server_for(apps[listener.spec.role], listener) for listener in listeners]

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    gateway_reloads: set[asyncio.Task[None]] = set()

    def _reload_gateway() -> None:
        task = asyncio.create_task(gateway_reloader.reload_and_log())
        gateway_reloads.add(task)
        task.add_done_callback(gateway_reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, _reload_gateway)

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
            except StorageUnavailable:
                log.warning("the database is unavailable; keeping the current signing keys")
            except Exception:
                log.exception("reloading signing keys failed; keeping the current ones")

    watcher = asyncio.create_task(_stop_when_asked())
    reloader = asyncio.create_task(_reload_keys())
    deny_sync = asyncio.create_task(services.deny.run())
    policy_sync = asyncio.create_task(services.policy_cache.run())
    notices = services.notices
    if notices is not None:
        notices.on("gateway", lambda _: gateway_reloader.reload_and_log())
        gateway_reloader.announce = notices.announce
    listening = asyncio.create_task(notices.run()) if notices is not None else None
    _warn_if_per_process(settings)
    await services.gateway.start()
    try:
        await asyncio.gather(
            *(
                server.serve(sockets=[listener.sock])
                for server, listener in zip(servers, listeners, strict=True)
            )
        )
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        for task in list(gateway_reloads):
            task.cancel()
        watcher.cancel()
        reloader.cancel()
        deny_sync.cancel()
        policy_sync.cancel()
        if listening is not None:
            listening.cancel()
        await services.gateway.aclose()
        await services.close()


def _warn_if_per_process(settings: Settings) -> None:
    """Several replicas on PostgreSQL without Redis work, but some state is per process."""
    if settings.redis is None and settings.database.resolved_url().startswith("postgresql"):
        log.warning(
            "PostgreSQL without Redis: gate rate limits and the sign-up, resend and "
            "forgot-password limits per IP are per process (N replicas admit N times the "
            "rate); revocations reach other replicas within oauth.revocation_sync_interval, "
            "policies within a second, client and user changes within 5 s, signing keys "
            "within tokens.keys_reload_interval, and gateway reloads not at all"
        )
