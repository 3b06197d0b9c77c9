"""Discovery, the JWKS and health: answered on both listeners where it makes sense."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authgate.bootstrap import Services
from authgate.tokens.keys import SUPPORTED_ALGORITHMS
from authgate.tokens.service import ID_CLAIMS

JWKS_CACHE = "public, max-age=300"


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def jwks(request: Request) -> Response:
    services = _services(request)
    await services.keys.reload_if_older_than(services.settings.tokens.keys_reload_interval)
    body = services.keys.ring.jwks(time.time())
    return JSONResponse(body, headers={"Cache-Control": JWKS_CACHE})


def discovery_document(issuer: str) -> dict[str, object]:
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(SUPPORTED_ALGORITHMS),
        "token_endpoint_auth_methods_supported": [
            "none",
            "client_secret_basic",
            "client_secret_post",
        ],
        "scopes_supported": ["openid", "profile", "email", "phone", "offline_access"],
        "claims_supported": [
            "iss",
            "sub",
            "aud",
            "iat",
            "exp",
            "auth_time",
            "email",
            "email_verified",
            "username",
            "groups",
            "token_use",
            *ID_CLAIMS,
        ],
        "grant_types_supported": ["password", "refresh_token"],
        "authgate_endpoints": {
            "signup": f"{issuer}/v1/signup",
            "login": f"{issuer}/v1/login",
            "token_refresh": f"{issuer}/v1/token/refresh",
            "logout": f"{issuer}/v1/logout",
            "me": f"{issuer}/v1/me",
        },
    }


async def openid_configuration(request: Request) -> Response:
    document = discovery_document(_services(request).settings.issuer)
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    if await _services(request).store.ping():
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)


health_routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
discovery_routes = [
    Route("/.well-known/jwks.json", jwks, methods=["GET"]),
    Route("/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
]
