"""Discovery: OIDC Discovery 1.0 and RFC 8414 metadata, one document for both addresses.

Everything a client library needs to find is here, and nothing is claimed that authgate
does not do: request objects, `request_uri` and the claims parameter are marked
unsupported, because Discovery's defaults would otherwise promise them.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from authgate.bootstrap import Services
from authgate.clients.keysets import SIGNING_ALGORITHMS
from authgate.config import BUILTIN_SCOPES
from authgate.tokens.claims import EMAIL_CLAIMS, PHONE_CLAIMS, PROFILE_CLAIMS

CACHE = "public, max-age=300"
ID_TOKEN_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp")
CLIENT_AUTH = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


def metadata(services: Services) -> dict[str, Any]:
    settings = services.settings
    issuer = settings.issuer
    algs = list(dict.fromkeys([services.tokens.signing_alg, settings.tokens.signing_alg]))
    custom = [c for names in settings.oauth.attribute_scopes.values() for c in names]
    claims = [*ID_TOKEN_CLAIMS, *PROFILE_CLAIMS, *EMAIL_CLAIMS, *PHONE_CLAIMS, *custom]
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth2/authorize",
        "token_endpoint": f"{issuer}/oauth2/token",
        "userinfo_endpoint": f"{issuer}/oauth2/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "end_session_endpoint": f"{issuer}/oauth2/logout",
        "introspection_endpoint": f"{issuer}/oauth2/introspect",
        "revocation_endpoint": f"{issuer}/oauth2/revoke",
        "scopes_supported": [*BUILTIN_SCOPES, *settings.oauth.scopes],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": [*CLIENT_AUTH, "none"],
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH,
        "introspection_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": [*CLIENT_AUTH, "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(dict.fromkeys(claims)),
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
    }


async def configuration(request: Request) -> Response:
    """
    summary: OpenID Provider / OAuth 2.0 authorization server metadata.
    responses:
      200: {description: The metadata document.}
    """
    services: Services = request.app.state.services
    return JSONResponse(metadata(services), headers={"Cache-Control": CACHE})


routes: list[BaseRoute] = [
    Route("/.well-known/openid-configuration", configuration, methods=["GET"]),
    Route("/.well-known/oauth-authorization-server", configuration, methods=["GET"]),
]
