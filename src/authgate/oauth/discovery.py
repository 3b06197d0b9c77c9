"""Discovery: OIDC Discovery 1.0 and RFC 8414 metadata."""

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
