"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)."""

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
