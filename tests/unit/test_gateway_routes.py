"""Route matching: the most specific route wins; 404 when no route, 405 when no method.

Host first (exact name > `*.` wildcard > any host), then the path pattern (more literal
segments; then literal > `*` > `**` from left to right), then the higher priority.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from authgate.gateway.config import GatewaySettings, RouteSettings
from authgate.gateway.paths import SEGMENT_CHARS, normalize_path, split_path
from authgate.gateway.patterns import NO_HOST_MATCH, PathPattern, host_rank
from authgate.gateway.routes import MethodNotAllowed, NoRoute, RouteMatch, RouteTable


def route(name: str, path: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "path": path,
        "upstream": "app",
        "authenticate": ["jwt"],
        "authorize": "allow",
        **fields,
    }


def table(*routes: dict[str, Any]) -> RouteTable:
    settings = GatewaySettings.model_validate(
        {"upstreams": {"app": {"targets": ["http://127.0.0.1:9000"]}}, "routes": list(routes)}
    )
    return RouteTable(settings.routes)


def winner(routes: RouteTable, path: str, method: str = "GET", host: str | None = None) -> str:
    return routes.match(method, host, path).route.name


# --- patterns ------------------------------------------------------------------------------


def test_a_star_matches_exactly_one_non_empty_segment() -> None:
    routes = table(route("one", "/a/*"))

    assert winner(routes, "/a/b") == "one"
    for path in ("/a", "/a/", "/a/b/c", "/a/b/"):
        with pytest.raises(NoRoute):
            routes.match("GET", None, path)


def test_a_double_star_matches_any_rest_including_none() -> None:
    routes = table(route("rest", "/a/**"))

    for path in ("/a", "/a/", "/a/b", "/a/b/c/", "/a/b/c/d"):
        assert winner(routes, path) == "rest"
    with pytest.raises(NoRoute):
        routes.match("GET", None, "/ab")


def test_a_trailing_slash_is_part_of_a_literal_path() -> None:
    routes = table(route("slash", "/a/"), route("bare", "/a"))

    assert winner(routes, "/a/") == "slash"
    assert winner(routes, "/a") == "bare"


def test_matching_is_case_sensitive() -> None:
    with pytest.raises(NoRoute):
        table(route("admin", "/admin/**")).match("GET", None, "/ADMIN/x")


# --- specificity ---------------------------------------------------------------------------


@pytest.fixture
def layered() -> RouteTable:
    return table(
        route("catch-all", "/**"),
        route("orders", "/orders/**"),
        route("one-order", "/orders/*"),
        route("order-items", "/orders/*/items"),
        route("order-new", "/orders/new"),
        route("deep-literal", "/orders/*/items/archive"),
        route("literal-first", "/orders/mine/**"),
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", "catch-all"),
        ("/other", "catch-all"),
        ("/orders", "orders"),
        ("/orders/", "orders"),
        ("/orders/42", "one-order"),
        ("/orders/new", "order-new"),
        ("/orders/42/items", "order-items"),
        ("/orders/42/items/archive", "deep-literal"),
        ("/orders/42/other", "orders"),
        ("/orders/mine", "literal-first"),
        ("/orders/mine/items", "literal-first"),
        ("/orders/mine/items/archive", "deep-literal"),
    ],
)
def test_the_most_specific_route_wins(layered: RouteTable, path: str, expected: str) -> None:
    assert winner(layered, path) == expected


def test_priority_breaks_a_tie_between_equally_specific_routes() -> None:
    routes = table(route("low", "/a/*/c", priority=1), route("high", "/a/*/c", priority=5))
    assert winner(routes, "/a/b/c") == "high"


def test_priority_does_not_beat_specificity() -> None:
    routes = table(route("broad", "/a/**", priority=100), route("narrow", "/a/b"))
    assert winner(routes, "/a/b") == "narrow"


# --- hosts ---------------------------------------------------------------------------------


def test_a_wildcard_host_matches_exactly_one_label() -> None:
    routes = table(route("sub", "/**", hosts=["*.example.com"]))

    assert winner(routes, "/", host="a.example.com") == "sub"
    for host in ("example.com", "a.b.example.com", "aexample.com", "a.example.com.evil", None):
        with pytest.raises(NoRoute):
            routes.match("GET", host, "/")


def test_an_exact_host_beats_a_wildcard_which_beats_any_host() -> None:
    routes = table(
        route("any", "/app/x"),
        route("wild", "/**", hosts=["*.example.com"]),
        route("exact", "/**", hosts=["api.example.com"]),
    )

    assert winner(routes, "/app/x", host="api.example.com") == "exact"
    assert winner(routes, "/app/x", host="www.example.com") == "wild"
    assert winner(routes, "/app/x", host="other.org") == "any"
    with pytest.raises(NoRoute):
        routes.match("GET", "other.org", "/elsewhere")


def test_a_route_without_hosts_serves_requests_without_a_host() -> None:
    assert winner(table(route("any", "/**")), "/x", host=None) == "any"


# --- methods -------------------------------------------------------------------------------


def test_a_path_served_for_other_methods_only_is_405_listing_them() -> None:
    routes = table(
        route("read", "/a/**", methods=["GET"]),
        route("write", "/a/**", methods=["POST", "PUT"]),
    )

    assert winner(routes, "/a/1", "POST") == "write"
    with pytest.raises(MethodNotAllowed) as caught:
        routes.match("DELETE", None, "/a/1")
    assert caught.value.allowed == ["GET", "HEAD", "POST", "PUT"]


def test_head_is_served_by_the_get_route() -> None:
    routes = table(route("read", "/a", methods=["GET"]))
    assert winner(routes, "/a", "HEAD") == "read"


def test_a_lower_case_method_is_matched_as_its_upper_case_form() -> None:
    routes = table(route("read", "/a/**", methods=["GET"], priority=1), route("rest", "/a/**"))
    assert winner(routes, "/a/x", "get") == "read"


def test_a_less_specific_route_serves_the_methods_a_more_specific_one_does_not() -> None:
    routes = table(route("read", "/a/b", methods=["GET"]), route("rest", "/a/**"))
    assert winner(routes, "/a/b", "DELETE") == "rest"


def test_no_route_for_the_host_and_path_is_404_even_when_other_paths_match() -> None:
    routes = table(route("read", "/a", methods=["GET"]))
    with pytest.raises(NoRoute):
        routes.match("POST", None, "/b")


def test_an_empty_table_matches_nothing() -> None:
    with pytest.raises(NoRoute):
        RouteTable([]).match("GET", None, "/")


# --- what is forwarded ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "upstream_path", "params"),
    [
        ("/orders", "/", [""]),
        ("/orders/", "/", [""]),
        ("/orders/42", "/42", ["42"]),
        ("/orders/42/items/", "/42/items/", ["42/items/"]),
    ],
)
def test_strip_prefix_removes_whole_segments_and_keeps_a_leading_slash(
    path: str, upstream_path: str, params: list[str]
) -> None:
    routes = table(route("orders", "/orders/**", strip_prefix="/orders"))

    found = routes.match("GET", None, path)

    assert found == RouteMatch(
        route=found.route, path=path, upstream_path=upstream_path, params=params
    )


def test_without_strip_prefix_the_normalized_path_is_forwarded_and_params_captured() -> None:
    found = table(route("items", "/shops/*/items/*")).match("GET", None, "/shops/s1/items/i2")

    assert found.upstream_path == "/shops/s1/items/i2"
    assert found.params == ["s1", "i2"]


def test_a_strip_prefix_of_several_segments() -> None:
    routes = table(route("v2", "/api/v2/**", strip_prefix="/api/v2"))
    assert routes.match("GET", None, "/api/v2/users/7").upstream_path == "/users/7"


# --- properties ----------------------------------------------------------------------------

_SEGMENTS = st.sampled_from(["a", "b", "orders", "42", "x:y", "a%20b", "..a"]) | st.text(
    alphabet="".join(sorted(SEGMENT_CHARS)), min_size=1, max_size=6
).filter(lambda s: s.strip(".") and not s.endswith("."))
normalized_paths = st.builds(
    lambda segments, trailing: "/" + "/".join(segments) + ("/" if trailing and segments else ""),
    st.lists(_SEGMENTS, max_size=6),
    st.booleans(),
)
_PATTERN_PARTS = st.sampled_from(["a", "b", "*"])
patterns = st.builds(
    lambda parts, tail: "/" + "/".join([*parts, *tail]),
    st.lists(_PATTERN_PARTS, max_size=3),
    st.sampled_from([[], ["**"], [""]]),
)
_METHODS = st.sampled_from(["GET", "HEAD", "POST", "DELETE", "PATCH", "OPTIONS"])
_HOSTS = st.sampled_from([None, "a.example.com", "api.example.com", "example.com", "other.org"])


@given(normalized_paths, _METHODS, _HOSTS)
def test_match_only_ever_answers_a_route_404_or_405(
    path: str, method: str, host: str | None
) -> None:
    routes = table(
        route("catch-get", "/**", methods=["GET"], hosts=["*.example.com"]),
        route("orders", "/orders/**", strip_prefix="/orders"),
        route("one", "/a/*", methods=["POST"]),
        route("exact", "/a/b", hosts=["api.example.com"]),
        route("root", "/"),
    )
    try:
        found = routes.match(method, host, path)
    except (NoRoute, MethodNotAllowed):
        return
    assert found.path == path
    assert normalize_path(found.upstream_path) == found.upstream_path


@given(st.lists(patterns, min_size=1, max_size=5, unique=True), normalized_paths, _METHODS)
def test_the_winner_matches_and_no_matching_route_is_more_specific(
    paths: list[str], path: str, method: str
) -> None:
    settings = [
        RouteSettings.model_validate(route(f"r{index}", pattern, priority=index))
        for index, pattern in enumerate(paths)
    ]
    routes = RouteTable(settings)
    matching = [s for s in settings if s.pattern.match(split_path(path)) is not None]
    try:
        found = routes.match(method, None, path)
    except NoRoute:
        assert not matching
        return
    assert found.route in matching
    best = max((s.pattern.specificity, s.priority) for s in matching)
    assert (found.route.pattern.specificity, found.route.priority) == best


def _small_paths() -> list[str]:
    paths = ["/"]
    for length in range(1, 5):
        for parts in itertools.product("abz", repeat=length):
            paths += ["/" + "/".join(parts), "/" + "/".join(parts) + "/"]
    return paths


SMALL_PATHS = _small_paths()
"""Every path the small patterns below can tell apart."""


@given(patterns, patterns)
def test_two_patterns_overlap_exactly_when_some_path_matches_both(first: str, second: str) -> None:
    a = PathPattern.parse(first)
    b = PathPattern.parse(second)
    both = [
        path
        for path in SMALL_PATHS
        if a.match(split_path(path)) is not None and b.match(split_path(path)) is not None
    ]
    assert a.overlaps(b) == b.overlaps(a) == bool(both)


_HOST_PATTERNS = st.lists(st.sampled_from(["x.com", "*.x.com", "a.x.com"]), unique=True)
_METHOD_SETS = st.lists(st.sampled_from(["GET", "HEAD", "POST"]), unique=True)
routes_to_check = st.builds(
    lambda path, hosts, methods, priority: {
        "path": path,
        "hosts": hosts,
        "methods": methods,
        "priority": priority,
    },
    patterns,
    _HOST_PATTERNS,
    _METHOD_SETS,
    st.sampled_from([0, 1]),
)


def _ties(settings: list[RouteSettings]) -> bool:
    """Whether some request matches two routes with nothing to choose between them."""
    for host, method, path in itertools.product(
        [None, "x.com", "a.x.com", "b.x.com", "y.com"], ["GET", "HEAD", "POST"], SMALL_PATHS
    ):
        keys = [
            (host_rank(s.host_patterns, host), s.pattern.specificity, s.priority)
            for s in settings
            if host_rank(s.host_patterns, host) != NO_HOST_MATCH
            and s.pattern.match(split_path(path)) is not None
            and (s.allowed_methods is None or method in s.allowed_methods)
        ]
        if len(keys) != len(set(keys)) and max(keys) in [k for k in keys if keys.count(k) > 1]:
            return True
    return False


@settings(max_examples=200, deadline=None)
@given(routes_to_check, routes_to_check)
def test_a_configuration_is_refused_exactly_when_one_request_could_tie(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    pair = [route("first", **first), route("second", **second)]
    section = {"upstreams": {"app": {"targets": ["http://h"]}}, "routes": pair}
    try:
        GatewaySettings.model_validate(section)
    except ValidationError as exc:
        assert "ambiguous" in str(exc)
        assert _ties([RouteSettings.model_validate(r) for r in pair])
    else:
        assert not _ties([RouteSettings.model_validate(r) for r in pair])
