"""What every admin API route shares: the admin token checked first, the body read strictly.

FastAPI reads and parses a route's body before it solves the route's dependencies, so a
dependency alone would let a tokenless request learn how its body was judged. `AdminRoute`
checks the admin token before anything else, then reads the body within bounds and parses
it with the same strict parser as the public listener (`json_body`), and only then hands
the request to FastAPI, which validates the parsed value against the route's model.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope

from authgate.api.json_body import parse_json
from authgate.api.requests import caller_of, is_json_media, read_bounded
from authgate.audit import Caller
from authgate.bootstrap import Services
from authgate.errors import InvalidRequest, Unauthorized

Limit = Annotated[int, Query(ge=1, le=500)]


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def require_admin(request: Request) -> Caller:
    """The admin token, compared in constant time; the caller for the audit trail."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    expected = services_of(request).admin_token
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("The admin token is missing or wrong.")
    return caller_of(request)


Admin = Annotated[Caller, Depends(require_admin)]
ServicesDep = Annotated[Services, Depends(services_of)]


class _ReadRequest(Request):
    """A request whose body was already read and parsed here; FastAPI gets those."""

    def __init__(self, scope: Scope, receive: Receive, raw: bytes, parsed: Any) -> None:
        super().__init__(scope, receive)
        self._read_raw = raw
        self._read_parsed = parsed

    async def body(self) -> bytes:
        return self._read_raw

    async def json(self) -> Any:
        return self._read_parsed


class AdminRoute(APIRoute):
    """An admin route: token first, then the body (if the route takes one), strictly."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        takes_body = self.body_field is not None

        async def authenticated_first(request: Request) -> Response:
            require_admin(request)
            if not takes_body:
                return await handler(request)
            raw = await read_bounded(request)
            if not is_json_media(request):
                raise InvalidRequest("Send application/json.")
            parsed = parse_json(raw) if raw else None
            return await handler(_ReadRequest(request.scope, request.receive, raw, parsed))

        return authenticated_first


def admin_router(prefix: str = "", *, tags: list[str]) -> APIRouter:
    """A router whose every route is an AdminRoute."""
    return APIRouter(prefix=prefix, tags=list(tags), route_class=AdminRoute)
