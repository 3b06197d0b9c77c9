"""The indexed router answers every request as Starlette's own router does, only sooner."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router

from authgate.routing import IndexedRouter, path_candidates

SEGMENTS = ("a", "b", "token", "{x}", "{n:int}")
METHODS = ("GET", "POST", "DELETE")


def endpoint(name: str) -> Any:
    async def answer(request: Request) -> Response:
        params = ",".join(f"{k}={v}" for k, v in sorted(request.path_params.items()))
        return PlainTextResponse(f"{name} {params}")

    return answer


def answer_of(router: Router, method: str, path: str) -> tuple[int, str, str, str]:
    """(status, location, allow, body) of one request through `router`."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test")],
        "scheme": "http",
        "server": ("test", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(router(scope, receive, send))
    head = dict(sent[0]["headers"])
    body = b"".join(m.get("body", b"") for m in sent[1:])
    location, allow = head.get(b"location", b""), head.get(b"allow", b"")
    return sent[0]["status"], location.decode(), allow.decode(), body.decode()


def route_path(parts: list[str]) -> str:
    """`/a/{x1}/{n2:int}`: parameters named by position, as a route's names must differ."""
    return "/" + "/".join(
        part.replace("{x", f"{{x{i}").replace("{n", f"{{n{i}") for i, part in enumerate(parts)
    )


paths = st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=3).map(route_path)
routes = st.lists(
    st.tuples(paths, st.lists(st.sampled_from(METHODS), min_size=1, max_size=2, unique=True)),
    min_size=1,
    max_size=12,
)
requested = st.lists(st.sampled_from(("a", "b", "token", "7", "zz", "")), max_size=4).map(
    lambda parts: "/" + "/".join(parts)
)


def table(spec: list[tuple[str, list[str]]]) -> list[BaseRoute]:
    return [
        Route(path, endpoint(f"r{i}"), methods=methods) for i, (path, methods) in enumerate(spec)
    ]


@settings(max_examples=300, deadline=None)
@given(spec=routes, method=st.sampled_from(METHODS), path=requested)
def test_every_request_gets_the_answer_starlettes_router_gives(
    spec: list[tuple[str, list[str]]], method: str, path: str
) -> None:
    built = table(spec)
    assert answer_of(IndexedRouter(built), method, path) == answer_of(Router(built), method, path)


def test_a_fixed_path_is_answered_by_the_first_route_that_takes_it() -> None:
    router = IndexedRouter(
        [
            Route("/items/{name}", endpoint("param"), methods=["GET"]),
            Route("/items/new", endpoint("fixed"), methods=["GET"]),
        ]
    )

    assert answer_of(router, "GET", "/items/new") == (200, "", "", "param name=new")


def test_a_later_full_match_wins_over_an_earlier_wrong_method() -> None:
    router = IndexedRouter(
        [
            Route("/token", endpoint("get"), methods=["GET"]),
            Route("/token", endpoint("post"), methods=["POST"]),
        ]
    )

    assert answer_of(router, "POST", "/token") == (200, "", "", "post ")


def test_a_method_no_route_takes_is_405_from_the_first_route_of_the_path() -> None:
    router = IndexedRouter(
        [
            Route("/token", endpoint("post"), methods=["POST"]),
            Route("/token", endpoint("get"), methods=["GET"]),
        ]
    )

    assert answer_of(router, "DELETE", "/token")[:3] == (405, "", "POST")


def test_routes_added_after_the_first_request_are_indexed() -> None:
    router = IndexedRouter([Route("/token", endpoint("get"), methods=["GET"])])
    assert answer_of(router, "POST", "/token")[0] == 405  # the index is built

    router.routes.append(Route("/token", endpoint("post"), methods=["POST"]))

    assert answer_of(router, "POST", "/token") == (200, "", "", "post ")


def test_fixed_paths_are_indexed_with_every_route_whose_expression_matches() -> None:
    param = Route("/v1/{name}", endpoint("param"))
    fixed = Route("/v1/me", endpoint("me"))
    other = Route("/v2/me", endpoint("other"))

    index = path_candidates([param, fixed, other])

    assert index == {"/v1/me": (param, fixed), "/v2/me": (other,)}


def test_mounts_are_candidates_for_the_paths_under_them() -> None:
    mount = Mount("/static", routes=[])
    fixed = Route("/static/app.js", endpoint("js"))

    assert path_candidates([mount, fixed]) == {"/static/app.js": (mount, fixed)}
