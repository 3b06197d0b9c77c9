"""Authorization endpoint (RFC 6749 3.1, OIDC Core 3.1.2), RP-initiated logout elsewhere."""

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
