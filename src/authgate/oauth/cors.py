"""CORS for browser apps (SPAs doing code + PKCE), scoped by path.

Discovery and the JWKS are public documents: any origin may read them. The endpoints a
browser app calls with tokens (token, revoke, userinfo) answer only the origins configured
in `oauth.cors_origins`, and never with credentials: they take no cookies. Every other
path (the hosted pages, the user-pool API) sends no CORS headers at all.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

PUBLIC_DOCUMENTS = (
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/.well-known/jwks.json",
)
BROWSER_ENDPOINTS = ("/oauth2/token", "/oauth2/revoke", "/oauth2/userinfo")


class ScopedCORS:
    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self._app = app
        self._documents = CORSMiddleware(app, allow_origins=["*"], allow_methods=["GET"])
        self._endpoints = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path in PUBLIC_DOCUMENTS:
            await self._documents(scope, receive, send)
        elif path in BROWSER_ENDPOINTS:
            await self._endpoints(scope, receive, send)
        else:
            await self._app(scope, receive, send)
