"""Hosted pages: server-rendered, accessible forms with no external assets."""

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
