"""The admin API application: its routers, its error answers, its OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from authgate.api.admin import audit, clients, groups, keys, users
from authgate.api.admin_gateway import router as gateway
from authgate.api.admin_policies import policies
from authgate.api.errors import error_response, plain_error
from authgate.api.openapi import finish_admin_schema
from authgate.errors import DomainError

# Every router of the admin API; each route in them is an AdminRoute (token first).
ROUTERS = (users, groups, clients, keys, audit, policies, gateway)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "(body)"
    return plain_error(400, "invalid_request", f"{where}: {first.get('msg', 'invalid')}")


def create_admin_router_app() -> FastAPI:
    app = FastAPI(title="authgate admin API", docs_url=None, redoc_url=None)
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish_admin_schema(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
