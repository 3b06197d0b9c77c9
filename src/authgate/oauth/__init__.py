"""OAuth 2.0 / OpenID Connect endpoints, one module per concern (Authlib's layout)."""

from starlette.routing import BaseRoute

from authgate.oauth import authorize, discovery, introspect, logout, revoke, token, userinfo

routes: list[BaseRoute] = [
    *discovery.routes,
    *token.routes,
    *authorize.routes,
    *introspect.routes,
    *revoke.routes,
    *userinfo.routes,
    *logout.routes,
]
