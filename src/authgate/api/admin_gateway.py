"""Admin API for the gate: reload its configuration, list the routes serving now.

The reloader is the one `serve` built for this process (the same one SIGHUP uses), so
both ways of reloading queue behind each other.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from authgate.api.admin_auth import Admin, admin_router
from authgate.gateway.config import RouteSettings
from authgate.reload import GatewayReloader, ReloadRefused

log = logging.getLogger("authgate")

router = admin_router("/admin/gateway", tags=["gateway"])


def reloader_of(request: Request) -> GatewayReloader:
    reloader: GatewayReloader = request.app.state.reloader
    return reloader


ReloaderDep = Annotated[GatewayReloader, Depends(reloader_of)]


def route_view(route: RouteSettings) -> dict[str, Any]:
    return {
        "name": route.name,
        "hosts": route.hosts,
        "path": route.path,
        "methods": route.methods,
        "priority": route.priority,
        "upstream": route.upstream,
        "authenticate": route.authenticate,
        "authorize": route.authorize.kind,
    }


@router.post("/reload", response_model=None)
async def reload_gateway(caller: Admin, reloader: ReloaderDep) -> dict[str, Any] | JSONResponse:
    """Re-read the configuration and apply its `gateway:` section; 400 lists every problem."""
    try:
        done = await reloader.reload()
    except ReloadRefused as exc:
        log.warning("gateway reload through the admin API (from %s) refused", caller.ip)
        return JSONResponse({"error": "invalid_config", "problems": exc.problems}, 400)
    log.info("gateway reloaded through the admin API (from %s)", caller.ip)
    reloader.announce("gateway", "")
    return {
        "reloaded": True,
        "routes": done.routes,
        "upstreams": done.upstreams,
        "restart_needed": done.restart_needed,
    }


@router.get("/routes")
async def list_routes(caller: Admin, reloader: ReloaderDep) -> dict[str, Any]:
    """The routes serving now, in configuration order."""
    return {"items": [route_view(route) for route in reloader.gateway.routes], "next": None}
