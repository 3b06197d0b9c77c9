"""The JWKS and health: answered on both listeners where it makes sense.

The discovery documents are served by `authgate.oauth.discovery`.
"""

from __future__ import annotations

import contextlib
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authgate.api.requests import services_of
from authgate.errors import StorageUnavailable

JWKS_CACHE = "public, max-age=300"


async def jwks(request: Request) -> Response:
    services = services_of(request)
    # The database away: the keys loaded last still verify every token we signed.
    with contextlib.suppress(StorageUnavailable):
        await services.keys.reload_if_older_than(services.settings.tokens.keys_reload_interval)
    body = services.keys.ring.jwks(time.time())
    return JSONResponse(body, headers={"Cache-Control": JWKS_CACHE})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    if await services_of(request).store.ping():
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)


health_routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
discovery_routes = [
    Route("/.well-known/jwks.json", jwks, methods=["GET"]),
]
