"""The JWKS and health: answered on both listeners where it makes sense.

The discovery documents are served by `authgate.oauth.discovery`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from typing import Any

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
    """The process answers, and nothing else is checked, so a liveness probe never
    restarts a replica because the database is away. (Prose, not YAML, so the probes stay
    out of the OpenAPI document.)"""
    return JSONResponse({"status": "ok"})


async def _check(probe: Awaitable[bool]) -> tuple[bool, float]:
    started = time.perf_counter()
    ok = await probe
    return ok, round((time.perf_counter() - started) * 1000, 3)


async def readyz(request: Request) -> Response:
    """Ready when the database answers, and Redis too if redis.required_for_readiness.

    The plain answer keeps its shape, status ready, or 503 with status unavailable and
    database (or redis) unreachable, and names an unreachable Redis that readiness does
    not require on a 200. With the verbose parameter it lists every check with its
    outcome and time in milliseconds (checks.database.ok and .ms, checks.redis...).
    """
    services = services_of(request)
    probes = {"database": _check(services.store.ping())}
    required = {"database"}
    if services.redis is not None:
        probes["redis"] = _check(services.redis.ping())
        assert services.settings.redis is not None
        if services.settings.redis.required_for_readiness:
            required.add("redis")
    # At once: the answer waits for the slower check, not for their sum.
    checks = dict(zip(probes, await asyncio.gather(*probes.values()), strict=True))
    ready = all(checks[name][0] for name in required)
    body: dict[str, Any] = {"status": "ready" if ready else "unavailable"}
    if "verbose" in request.query_params:
        body["checks"] = {name: {"ok": ok, "ms": ms} for name, (ok, ms) in checks.items()}
    else:
        body.update({name: "unreachable" for name, (ok, _) in checks.items() if not ok})
    return JSONResponse(body, status_code=200 if ready else 503)


health_routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
discovery_routes = [
    Route("/.well-known/jwks.json", jwks, methods=["GET"]),
]
