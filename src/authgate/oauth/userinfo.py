"""UserInfo (OIDC Core 5.3)."""

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
