"""The ASGI apps and the process that serves them on their listeners.

The admin app is a separate application on its own address, so no routing mistake on
the public listener (or the gate's own listeners) can reach it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from dataclasses import dataclass
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
from authgate.api import aws_authorizer, consents, decide, passkeys, public, wellknown
from authgate.api import mfa as mfa_api
from authgate.api import sessions as browser_sessions
from authgate.api.admin_app import create_admin_router_app
from authgate.api.docs import render_docs
from authgate.api.errors import error_response, plain_error
from authgate.api.openapi import PublicSchemas
from authgate.bootstrap import Services, build_services
from authgate.cluster.notices import Announce
from authgate.cognito import endpoint as cognito
from authgate.config import UI_PREFIX, Settings
from authgate.errors import DomainError, StorageUnavailable
from authgate.gateway import envoy_authz, forward_auth
from authgate.gateway.dispatch import with_decision_endpoints, with_gate
from authgate.listeners import Listener, Role, open_listeners, server_for
from authgate.oauth.cors import ScopedCORS
from authgate.reload import GatewayReloader
from authgate.request_ids import RequestIds
from authgate.routing import IndexedRouter
from authgate.ui.pages import Pages, storage_unavailable_page

log = logging.getLogger("authgate")
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


@dataclass(frozen=True)
class Parent:
    """The process that supervises this worker (authgate.workers)."""

    pid: int
    alive: int
    """Read end of a pipe whose write end only the parent holds: at EOF, it is gone."""


SUPERVISED = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD})
"""What a workers' parent handles itself: blocked in it, so in a worker until its own
handlers are in place (authgate.workers)."""


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
        *envoy_authz.routes,
        *aws_authorizer.routes,
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
    app.router = IndexedRouter(app.router.routes)
    app.state.services = services
    app.state.pages = Pages(services.settings)
    return app


def create_gated_app(services: Services) -> ASGIApp:
    """The public app with the gate behind it: authgate's own paths first, the rest routed."""
    pages = frozenset({services.settings.ui.reserved_segment})
    gated = with_gate(create_public_app(services), services.gateway, pages)
    return with_decision_endpoints(gated, services.gateway)


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
        body, content_type = services.metrics.exposition()
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
    settings: Settings,
    services: Services | None = None,
    config_path: Path | None = None,
    *,
    listeners: list[Listener] | None = None,
    parent: Parent | None = None,
    replacement: bool = False,
) -> None:
    """Run every listener until SIGTERM or SIGINT; SIGHUP reloads the gate's routes.

    The gate serves on the public listener, unless `gateway.listen` gives it listeners of
    its own: then it serves there (authgate's paths first, as everywhere) and the public
    listener serves authgate only. `config_path` is what a reload re-reads.

    As one of several workers (authgate.workers), `listeners` are the parent's bound
    sockets and `parent` the process supervising this one: the parent said at start what
    is per process, a worker stops when the parent is gone, and without Redis an admin
    gate reload reaches the other workers through the parent. A `replacement` worker
    first reloads the gate, so it serves what its siblings serve.
    """
    listeners = listeners if listeners is not None else open_listeners(settings)
    services = services or await build_services(settings)
    gated = create_gated_app(services)
    admin = create_admin_app(services)
    gateway_reloader = GatewayReloader(settings, config_path, services.gateway, listeners)
    admin.state.reloader = gateway_reloader
    apps: dict[Role, ASGIApp] = {
        "public": (
            with_decision_endpoints(create_public_app(services), services.gateway)
            if settings.gateway.listen
            else gated
        ),
        "admin": admin,
        "gate": gated,
    }
    trusted = settings.gateway.trusted_proxies
    apps = {role: RequestIds(app, trusted) for role, app in apps.items()}
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
    if parent is not None:  # blocked since the fork, so none was lost before this
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SUPERVISED)

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
    orphaned = asyncio.create_task(_watch_parent(parent, stop)) if parent else None
    if parent is None:
        warn_if_per_process(settings)
    elif notices is None:
        gateway_reloader.announce = _through_parent(parent.pid)
    await services.gateway.start()
    if replacement:
        await gateway_reloader.reload_and_log()
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
        if orphaned is not None:
            orphaned.cancel()
        await services.gateway.aclose()
        await services.close()


def freeze_startup() -> None:
    """Keep what start-up built out of the collector's walks.

    It (modules, settings, services) lives as long as the process: frozen, a full
    collection under load takes about 1 ms instead of 80-190 ms that every request in
    flight would wait for. Before a fork, it also keeps the collector from writing to the
    pages the workers share with their parent.
    """
    gc.collect()
    gc.freeze()


def warn_if_per_process(settings: Settings, workers: int = 1) -> None:
    """Several replicas on PostgreSQL, or several workers, without Redis work, but some
    state is per process: say so once, at start."""
    if settings.redis is not None:
        return
    shared_by = []
    if settings.database.resolved_url().startswith("postgresql"):
        shared_by.append("PostgreSQL")
    if workers > 1:
        shared_by.append(f"{workers} workers")
    if shared_by:
        log.warning(
            "%s without Redis: gate rate limits and the sign-up, resend and "
            "forgot-password limits per IP are per process (N replicas or workers admit N "
            "times the rate); revocations reach other processes within "
            "oauth.revocation_sync_interval, policies within a second, client and user "
            "changes within 5 s, signing keys within tokens.keys_reload_interval, and "
            "gateway reloads of another replica not at all",
            " and ".join(shared_by),
        )


async def _watch_parent(parent: Parent, stop: asyncio.Event) -> None:
    """Stop this worker when its parent is gone (killed: nobody else would stop it)."""
    gone = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(parent.alive, gone.set)
    try:
        await gone.wait()
    finally:
        loop.remove_reader(parent.alive)
    log.warning("worker %d: the parent process is gone; stopping", os.getpid())
    stop.set()


def _through_parent(parent: int) -> Announce:
    """Without Redis, a worker's admin gate reload reaches its siblings as the parent's
    SIGHUP, which the parent forwards to every other worker."""

    def announce(kind: str, ident: str) -> None:
        if kind == "gateway":
            os.kill(parent, signal.SIGHUP)

    return announce
