"""Hosted pages: server-rendered, accessible forms with no external assets."""

from starlette.routing import BaseRoute

from authgate.ui import consent, signin, signout

routes: list[BaseRoute] = [*signin.routes, *consent.routes, *signout.routes]
