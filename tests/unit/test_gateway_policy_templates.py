"""The `policy` authorizer's templates: parsed at load, rendered per request, never to ''.

Rendering is checked on facts taken from a real route match (RouteTable over a loaded
configuration), so `{path[N]}` is tested on the path the gate really matched.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from authgate.config import ConfigError, load_settings
from authgate.gateway.authorize import Attempt, Denied
from authgate.gateway.config import GatewaySettings
from authgate.gateway.policy_authorizer import PolicyAuthorizer, request_facts
from authgate.gateway.principal import ANONYMOUS, Principal
from authgate.gateway.request import GateRequest
from authgate.gateway.route_options import PolicySettings
from authgate.gateway.routes import RouteTable
from authgate.gateway.templates import (
    MAX_SEGMENT_INDEX,
    NAMES,
    MissingInput,
    Placeholder,
    RequestFacts,
    TemplateError,
    method_verb,
    parse_template,
)

USER = Principal(method="jwt", subject="alice-sub", client_id="web", groups=("support",))


def facts(**fields: Any) -> RequestFacts:
    values: dict[str, Any] = {
        "method": "GET",
        "method_verb": "read",
        "path": "/orders/42",
        "segments": ("orders", "42"),
        "host": "api.example.com",
        "route": "orders",
        "sub": "alice-sub",
        "client": "web",
        **fields,
    }
    return RequestFacts(**values)


def render(template: str, **fields: Any) -> str:
    return parse_template(template).render(facts(**fields))


def route(**fields: Any) -> dict[str, Any]:
    return {
        "name": "orders",
        "path": "/orders/**",
        "upstream": "app",
        "authenticate": ["jwt"],
        "authorize": {"policy": {"action": "{method_verb}", "resource": "orders:{path[1]}"}},
        **fields,
    }


def load(tmp_path: Path, *routes: dict[str, Any]) -> GatewaySettings:
    section = {"upstreams": {"app": {"targets": ["http://127.0.0.1:9"]}}, "routes": list(routes)}
    path = tmp_path / "authgate.yaml"
    path.write_text(yaml.safe_dump({"gateway": section}), encoding="utf-8")
    return load_settings(path).gateway


def facts_of(
    tmp_path: Path,
    method: str,
    raw_path: str,
    principal: Principal = USER,
    **fields: Any,
) -> RequestFacts:
    """The facts the authorizer would render from, for a request to a loaded route."""
    settings = load(tmp_path, route(**fields))
    match = RouteTable(settings.routes).match(method, "api.example.com", raw_path)
    request = GateRequest(method, "https", "API.example.com:8443", raw_path, "", ())
    options = match.route.authorize.policy
    assert isinstance(options, PolicySettings)
    return request_facts(principal, Attempt(request, match), options)


# --- rendering ---------------------------------------------------------------------------


def test_the_issue_example_names_the_order_by_its_path_segment() -> None:
    assert render("resources:orders:{path[1]}") == "resources:orders:42"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{method_verb}", "read"),
        ("{method}", "GET"),
        ("{path}", "/orders/42"),
        ("{path[0]}", "orders"),
        ("{host}", "api.example.com"),
        ("{route}", "orders"),
        ("{sub}", "alice-sub"),
        ("{client}", "web"),
        (
            "tenants:{client}:users:{sub}:{path[0]}/{path[1]}",
            "tenants:web:users:alice-sub:orders/42",
        ),
    ],
)
def test_each_placeholder_renders_its_value(template: str, expected: str) -> None:
    assert render(template) == expected


@pytest.mark.parametrize(
    ("template", "fields", "missing"),
    [
        ("orders:{path[2]}", {}, "path[2]"),
        ("orders:{path[1]}", {"segments": ("orders", "")}, "path[1]"),
        ("users:{sub}", {"sub": None}, "sub"),
        ("clients:{client}", {"client": None}, "client"),
        ("hosts:{host}", {"host": None}, "host"),
    ],
)
def test_a_placeholder_without_a_value_is_missing_never_empty(
    template: str, fields: dict[str, Any], missing: str
) -> None:
    with pytest.raises(MissingInput) as caught:
        render(template, **fields)
    assert caught.value.placeholder == missing


# --- parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("orders:{pth[1]}", "unknown placeholder {pth}"),
        ("{verb}", "unknown placeholder {verb}"),
        ("{sub[0]}", "only {path[N]} takes an index"),
        ("{path[64]}", f"at most {MAX_SEGMENT_INDEX}"),
        ("{path[-1]}", "a brace that is not a placeholder"),
        ("{Path}", "a brace that is not a placeholder"),
        ("orders:{path[1]", "a brace that is not a placeholder"),
        ("orders}", "a brace that is not a placeholder"),
        ("", "must not be empty"),
        ("x" * 513, "at most 512"),
    ],
)
def test_a_bad_template_is_refused_with_a_reason(template: str, words: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse_template(template)
    assert words in str(caught.value)


_LITERAL = st.text(
    alphabet=st.characters(blacklist_characters="{}", blacklist_categories=("Cs",)), max_size=40
)
_PLACEHOLDERS = st.one_of(
    st.sampled_from(sorted(NAMES - {"path"})).map(Placeholder),
    st.just(Placeholder("path")),
    st.integers(0, 3).map(lambda index: Placeholder("path", index)),
)


@given(st.lists(st.one_of(_LITERAL, _PLACEHOLDERS), min_size=1, max_size=8))
def test_a_rendered_template_is_its_literals_and_values_in_order(
    parts: list[str | Placeholder],
) -> None:
    source = "".join(str(part) for part in parts)
    if not source:
        return
    request = facts(segments=("a", "b", "c", "d"), path="/a/b/c/d")
    expected = "".join(
        part if isinstance(part, str) else str(request.value_of(part)) for part in parts
    )
    assert parse_template(source).render(request) == expected


@given(st.text(max_size=60))
def test_parsing_any_text_either_succeeds_exactly_or_says_why(source: str) -> None:
    try:
        template = parse_template(source)
    except TemplateError:
        return
    assert "".join(str(part) for part in template.parts) == source


# --- method_verb -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "methods", "verb"),
    [
        ("GET", {}, "read"),
        ("HEAD", {}, "read"),
        ("OPTIONS", {}, "read"),
        ("POST", {}, "write"),
        ("DELETE", {}, "write"),
        ("delete", {"DELETE": "remove"}, "remove"),
        ("HEAD", {"GET": "view"}, "view"),
        ("HEAD", {"GET": "view", "HEAD": "peek"}, "peek"),
        ("PUT", {"DELETE": "remove"}, "write"),
    ],
)
def test_method_verb_is_read_or_write_unless_the_route_maps_it(
    method: str, methods: dict[str, str], verb: str
) -> None:
    assert method_verb(method, methods) == verb


# --- the facts of a real match -----------------------------------------------------------


def test_path_segments_count_before_strip_prefix(tmp_path: Path) -> None:
    found = facts_of(tmp_path, "GET", "/orders/42", strip_prefix="/orders")
    assert found.segments == ("orders", "42")
    assert found.path == "/orders/42"


def test_head_is_rendered_like_get(tmp_path: Path) -> None:
    found = facts_of(tmp_path, "HEAD", "/orders/42")
    assert (found.method, found.method_verb) == ("GET", "read")


def test_the_host_is_rendered_without_port_in_lower_case(tmp_path: Path) -> None:
    assert facts_of(tmp_path, "GET", "/orders/42").host == "api.example.com"


def test_an_anonymous_caller_has_no_sub_or_client(tmp_path: Path) -> None:
    found = facts_of(tmp_path, "POST", "/orders/42", ANONYMOUS)
    assert (found.sub, found.client, found.method_verb) == (None, None, "write")


def test_the_routes_own_method_map_is_used(tmp_path: Path) -> None:
    policy = {"action": "{method_verb}", "resource": "orders", "methods": {"delete": "remove"}}
    found = facts_of(tmp_path, "DELETE", "/orders/42", authorize={"policy": policy})
    assert found.method_verb == "remove"


# --- configuration -----------------------------------------------------------------------


def test_a_policy_route_loads_with_its_templates(tmp_path: Path) -> None:
    (loaded,) = load(tmp_path, route()).routes
    assert loaded.authorize.kind == "policy"
    assert loaded.authorize.policy is not None
    assert loaded.authorize.policy.resource_template.render(facts()) == "orders:42"


@pytest.mark.parametrize(
    ("policy", "key", "words"),
    [
        ({"action": "{verb}", "resource": "x"}, "action", "unknown placeholder {verb}"),
        ({"action": "read", "resource": "orders:{pth[1]}"}, "resource", "unknown placeholder"),
        ({"action": "read"}, "resource", "Field required"),
        ({"action": "a", "resource": "r", "methods": {"G T": "x"}}, "methods", "HTTP method"),
        ({"action": "a", "resource": "r", "methods": {"GET": ""}}, "methods", "1-128"),
        ({"action": "a", "resource": "r", "extra": 1}, "extra", "Extra"),
    ],
)
def test_a_bad_policy_option_names_the_route_and_key(
    tmp_path: Path, policy: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, route(authorize={"policy": policy}))
    (problem,) = caught.value.problems
    assert problem.startswith(f"gateway.routes.0.authorize.policy.{key}: route 'orders': ")
    assert words in problem


def test_policy_cannot_be_combined_with_another_authorizer(tmp_path: Path) -> None:
    both = {"allow": True, "policy": {"action": "a", "resource": "r"}}
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, route(authorize=both))
    assert "exactly one of allow, deny, require, policy" in caught.value.problems[0]


def test_authgate_decision_path_cannot_be_routed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, route(path="/authz/**"))
    assert "/authz is served by authgate itself" in caught.value.problems[0]


# --- the question the authorizer asks ----------------------------------------------------


def test_the_question_carries_subjects_and_context(tmp_path: Path) -> None:
    settings = load(tmp_path, route())
    match = RouteTable(settings.routes).match("GET", "api.example.com", "/orders/42")
    headers = (("x-forwarded-for", "203.0.113.9, 10.1.2.3"),)
    request = GateRequest("GET", "https", "api.example.com", "/orders/42", "", headers, "127.0.0.2")
    options = match.route.authorize.policy
    assert isinstance(options, PolicySettings)
    principal = Principal(
        method="jwt",
        subject="alice-sub",
        client_id="web",
        groups=("support",),
        claims={"sub": "alice-sub", "tenant": "acme"},
    )
    authorizer = PolicyAuthorizer(None, [ipaddress.ip_network("127.0.0.2/32")])

    question = authorizer.access_request(principal, options, Attempt(request, match))

    assert (question.subject, question.action, question.resource) == (
        "alice-sub",
        "read",
        "orders:42",
    )
    assert question.subjects == ("alice-sub", "web", "group:support")
    assert question.context == {
        "remoteIP": "10.1.2.3",
        "claims": {"sub": "alice-sub", "tenant": "acme"},
        "route": "orders",
    }


async def test_without_policies_every_request_is_denied(tmp_path: Path) -> None:
    settings = load(tmp_path, route())
    match = RouteTable(settings.routes).match("GET", None, "/orders/42")
    request = GateRequest("GET", "https", "", "/orders/42", "", ())
    options = match.route.authorize.policy
    assert options is not None
    with pytest.raises(Denied) as caught:
        await PolicyAuthorizer(None, [])(USER, options, Attempt(request, match))
    assert caught.value.reason_id == "policy_unavailable"
