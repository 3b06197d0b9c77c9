"""The `gateway:` configuration: the issue's YAML shape loads; mistakes and ambiguity do not.

Every problem names the route (by name) and the key, so `authgate config check` points at it.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from authgate.config import ConfigError, load_settings
from authgate.gateway.config import GatewaySettings, RouteSettings

ISSUE_EXAMPLE = """
gateway:
  trusted_proxies: ["127.0.0.1/32"]
  upstreams:
    orders:
      targets: ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]
      health:
        {path: /health, interval: 5s, timeout: 2s, healthy_threshold: 2, unhealthy_threshold: 2}
      timeouts: {connect: 2s, read: 30s}
      basic_auth: {username: "env:ORDERS_USER", password: "file:/run/secrets/orders_password"}
  routes:
    - name: orders-read
      hosts: ["api.example.com", "*.example.com"]
      path: /orders/**
      priority: 0
      methods: [GET, HEAD]
      upstream: orders
      strip_prefix: /orders
      authenticate: [jwt, cookie]
      authorize:
        require: {scopes_any: ["orders:read"]}
      identity: {headers: true, jwt: true}
      max_body: 10MiB
      cors: {origins: ["https://app.example.com"], credentials: true}
      rate_limit: {key: subject, rate: "100/minute"}
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("AUTHGATE_"):
            monkeypatch.delenv(name)
    yield


def route(name: str = "r", path: str = "/app/**", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "path": path,
        "upstream": "app",
        "authenticate": ["jwt"],
        "authorize": "allow",
        **fields,
    }


def gateway(*routes: dict[str, Any]) -> dict[str, Any]:
    return {"upstreams": {"app": {"targets": ["http://127.0.0.1:9000"]}}, "routes": list(routes)}


def load(tmp_path: Path, section: dict[str, Any]) -> GatewaySettings:
    path = tmp_path / "authgate.yaml"
    path.write_text(yaml.safe_dump({"gateway": section}), encoding="utf-8")
    return load_settings(path).gateway


def problems(tmp_path: Path, section: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, section)
    return caught.value.problems


def only_problem(tmp_path: Path, section: dict[str, Any]) -> str:
    found = problems(tmp_path, section)
    assert len(found) == 1, found
    return found[0]


# --- the issue's shape ---------------------------------------------------------------------


def test_the_example_of_the_issue_loads(tmp_path: Path) -> None:
    path = tmp_path / "authgate.yaml"
    path.write_text(ISSUE_EXAMPLE, encoding="utf-8")

    loaded = load_settings(path).gateway

    assert loaded.trusted_proxies == [ipaddress.ip_network("127.0.0.1/32")]
    orders = loaded.upstreams["orders"]
    assert orders.targets == ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]
    assert orders.health is not None and orders.health.interval == 5.0
    assert (orders.timeouts.connect, orders.timeouts.read) == (2.0, 30.0)
    assert orders.basic_auth is not None and orders.basic_auth.username == "env:ORDERS_USER"
    (read,) = loaded.routes
    assert read.hosts == ["api.example.com", "*.example.com"]
    assert read.authenticate == ["jwt", "cookie"]
    assert read.authorize.kind == "require"
    assert read.authorize.require is not None
    assert read.authorize.require.scopes_any == ["orders:read"]
    assert read.max_body == 10 * 1024 * 1024
    assert read.rate_limit is not None and read.rate_limit.rate.count == 100


def test_without_a_gateway_section_there_are_no_routes() -> None:
    assert load_settings().gateway.routes == []


def test_defaults_fail_closed_and_keep_the_authorization_header_out(tmp_path: Path) -> None:
    (loaded,) = load(tmp_path, gateway(route())).routes

    assert loaded.keep_authorization is False
    assert loaded.methods == []
    assert loaded.allowed_methods is None
    assert (loaded.identity.headers, loaded.identity.jwt) == (True, True)
    assert loaded.max_body == 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("written", "expected"),
    [("512KiB", 512 * 1024), ("10MiB", 10 * 1024**2), ("1GiB", 1024**3), (4096, 4096)],
)
def test_max_body_takes_sizes(tmp_path: Path, written: str | int, expected: int) -> None:
    (loaded,) = load(tmp_path, gateway(route(max_body=written))).routes
    assert loaded.max_body == expected


def test_methods_are_upper_cased_and_get_implies_head(tmp_path: Path) -> None:
    (loaded,) = load(tmp_path, gateway(route(methods=["get", "post"]))).routes

    assert loaded.methods == ["GET", "POST"]
    assert loaded.allowed_methods == frozenset({"GET", "HEAD", "POST"})


def test_hosts_are_lower_cased(tmp_path: Path) -> None:
    (loaded,) = load(tmp_path, gateway(route(hosts=["API.Example.com", "*.Example.COM"]))).routes
    assert loaded.hosts == ["api.example.com", "*.example.com"]


@pytest.mark.parametrize(
    ("written", "kind"),
    [("allow", "allow"), ("deny", "deny"), ({"allow": True}, "allow"), ({"deny": True}, "deny")],
)
def test_authorize_takes_allow_and_deny_as_words_or_keys(
    tmp_path: Path, written: Any, kind: str
) -> None:
    (loaded,) = load(tmp_path, gateway(route(authorize=written))).routes
    assert loaded.authorize.kind == kind


def test_require_takes_claims_of_json_scalar_types(tmp_path: Path) -> None:
    claims = {"admin": True, "level": 3, "ratio": 0.5, "tenant": "acme"}
    (loaded,) = load(tmp_path, gateway(route(authorize={"require": {"claims": claims}}))).routes

    assert loaded.authorize.require is not None
    assert loaded.authorize.require.claims == claims
    assert type(loaded.authorize.require.claims["admin"]) is bool


# --- mistakes, each naming the route and key -----------------------------------------------


@pytest.mark.parametrize(
    ("fields", "key", "words"),
    [
        ({"authorize": {"policy": "orders"}}, "authorize.policy", "valid dictionary"),
        ({"authorize": "policy"}, "authorize", "policy needs its templates"),
        ({"authorize": "maybe"}, "authorize", "unknown authorizer"),
        ({"authorize": {"allow": True, "deny": True}}, "authorize", "exactly one"),
        ({"authorize": {}}, "authorize", "exactly one"),
        ({"authorize": {"allow": False}}, "authorize.allow", "True"),
        ({"authorize": {"require": {}}}, "authorize.require", "at least one"),
        ({"authorize": {"require": {"scopes": ["a"]}}}, "authorize.require.scopes", "Extra"),
        ({"authenticate": []}, "authenticate", "at least 1"),
        ({"authenticate": ["jwt", "jwt"]}, "authenticate", "twice"),
        ({"authenticate": ["anonymous", "jwt"]}, "authenticate", "anonymous may only be the last"),
        ({"authenticate": ["password"]}, "authenticate.0", "jwt"),
        ({"path": "orders/**"}, "path", "must start with '/'"),
        ({"path": "/orders/**/items"}, "path", "'**' may only be the last"),
        ({"path": "/orders//items"}, "path", "empty segments"),
        ({"path": "/orders/ab*"}, "path", "whole segment"),
        ({"path": "/orders/%2e%2e"}, "path", "dot segments"),
        ({"path": "/orders/%61"}, "path", "normalized form"),
        ({"path": "/v1/**"}, "path", "/v1 is served by authgate"),
        ({"path": "/oauth2/token"}, "path", "/oauth2 is served by authgate"),
        ({"path": "/.well-known/x"}, "path", "served by authgate"),
        ({"path": "/healthz"}, "path", "served by authgate"),
        ({"path": "/readyz"}, "path", "served by authgate"),
        ({"path": "/_authgate/forward"}, "path", "served by authgate"),
        ({"path": "/docs"}, "path", "served by authgate"),
        ({"path": "/openapi.json"}, "path", "served by authgate"),
        ({"strip_prefix": "/other"}, "strip_prefix", "literal prefix"),
        ({"path": "/app/*/x", "strip_prefix": "/app/x"}, "strip_prefix", "literal prefix"),
        ({"strip_prefix": "/app/"}, "strip_prefix", "literal prefix"),
        ({"strip_prefix": "app"}, "strip_prefix", "must start with '/'"),
        ({"hosts": ["api.example.com:8443"]}, "hosts", "no port"),
        ({"hosts": ["a.*.example.com"]}, "hosts", "host name"),
        ({"hosts": ["a.com", "A.com"]}, "hosts", "twice"),
        ({"methods": ["GE T"]}, "methods", "not an HTTP method"),
        ({"max_body": "lots"}, "max_body", "size"),
        ({"max_body": 0}, "max_body", "greater than 0"),
        ({"cors": {"origins": ["https://a.example"], "allow": 1}}, "cors.allow", "Extra"),
        ({"rate_limit": {"key": "subject", "rate": "lots"}}, "rate_limit.rate", "rate"),
        ({"timeout": "5s"}, "timeout", "Extra"),
    ],
)
def test_a_mistake_in_a_route_names_the_route_and_the_key(
    tmp_path: Path, fields: dict[str, Any], key: str, words: str
) -> None:
    problem = only_problem(tmp_path, gateway(route(name="orders-read", **fields)))

    assert problem.startswith(f"gateway.routes.0.{key}: route 'orders-read': "), problem
    assert words in problem


def test_every_mistake_in_a_route_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(tmp_path, gateway(route(path="/v1/x", authenticate=[], max_body="x")))

    assert sorted(p.split(":")[0] for p in found) == [
        "gateway.routes.0.authenticate",
        "gateway.routes.0.max_body",
        "gateway.routes.0.path",
    ]


def test_an_unknown_upstream_is_refused(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, gateway(route(name="orders-read", upstream="ordrs")))

    assert problem.startswith("gateway.routes.0.upstream: route 'orders-read': ")
    assert "'ordrs' is not declared" in problem


def test_a_route_name_is_a_short_word(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, gateway(route(name="has space")))
    assert problem.startswith("gateway.routes.0.name: route 'has space': a route name is")


def test_two_routes_with_one_name_are_refused(tmp_path: Path) -> None:
    problem = only_problem(
        tmp_path, gateway(route(name="twin", path="/a"), route(name="twin", path="/b"))
    )
    assert problem.startswith("gateway.routes.1.name: route 'twin': used twice")


@pytest.mark.parametrize(
    ("upstream", "key", "words"),
    [
        ({"targets": []}, "targets", "at least 1"),
        ({"targets": ["ftp://h"]}, "targets", "http(s) URL"),
        ({"targets": ["http://h/base"]}, "targets", "path"),
        ({"targets": ["http://u:p@h"]}, "targets", "credentials"),
        ({"targets": ["http://h:99999"]}, "targets", "port"),
        ({"targets": ["http://h"], "timeouts": {"read": "soon"}}, "timeouts.read", "duration"),
        ({"targets": ["http://h"], "health": {"path": "health"}}, "health.path", "'/'"),
        ({"targets": ["http://h"], "basic_auth": {"username": "u"}}, "basic_auth.password", ""),
    ],
)
def test_a_mistake_in_an_upstream_names_it_and_the_key(
    tmp_path: Path, upstream: dict[str, Any], key: str, words: str
) -> None:
    section = {"upstreams": {"orders": upstream}}

    problem = only_problem(tmp_path, section)

    assert problem.startswith(f"gateway.upstreams.orders.{key}: "), problem
    assert words in problem


@pytest.mark.parametrize("proxy", ["not-an-ip", "10.0.0.1/8"])
def test_trusted_proxies_must_be_networks(tmp_path: Path, proxy: str) -> None:
    problem = only_problem(tmp_path, {"trusted_proxies": [proxy]})
    assert problem.startswith("gateway.trusted_proxies")


def test_a_listener_of_its_own_is_accepted_for_later(tmp_path: Path) -> None:
    section = {"listen": [{"listen": "0.0.0.0:8443", "tls": {"cert": "c.pem", "key": "k.pem"}}]}
    assert load(tmp_path, section).listen[0].listen == "0.0.0.0:8443"


# --- ambiguity -----------------------------------------------------------------------------


def ambiguity(tmp_path: Path, *routes: dict[str, Any]) -> str:
    problem = only_problem(tmp_path, gateway(*routes))
    assert "ambiguous" in problem, problem
    return problem


def test_two_equally_specific_routes_for_one_request_are_refused_naming_both(
    tmp_path: Path,
) -> None:
    problem = ambiguity(
        tmp_path, route(name="first", path="/a/*/c"), route(name="second", path="/a/*/c")
    )
    assert "'first' and 'second'" in problem


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"path": "/a/*"}, {"path": "/a/*"}),
        ({"path": "/a/**"}, {"path": "/a/**", "methods": ["GET"]}),
        ({"path": "/a/**", "methods": ["GET"]}, {"path": "/a/**", "methods": ["HEAD"]}),
        ({"path": "/a/**", "hosts": ["x.com"]}, {"path": "/a/**", "hosts": ["X.com", "y.com"]}),
        ({"path": "/a/**", "hosts": ["*.x.com"]}, {"path": "/a/**", "hosts": ["*.x.com"]}),
        (
            {"path": "/a/**", "hosts": ["a.x.com", "*.x.com"]},
            {"path": "/a/**", "hosts": ["*.x.com"]},
        ),
        ({"path": "/a/*/c", "priority": 3}, {"path": "/a/*/c", "priority": 3}),
    ],
)
def test_ambiguous_pairs_are_refused(
    tmp_path: Path, first: dict[str, Any], second: dict[str, Any]
) -> None:
    problem = ambiguity(tmp_path, route(name="first", **first), route(name="second", **second))
    assert "'first' and 'second'" in problem


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"path": "/a/**", "methods": ["GET"]}, {"path": "/a/**", "methods": ["POST"]}),
        ({"path": "/a/**"}, {"path": "/a/**", "priority": 1}),
        ({"path": "/a/**"}, {"path": "/a/**", "hosts": ["x.com"]}),
        ({"path": "/a/**", "hosts": ["x.com"]}, {"path": "/a/**", "hosts": ["*.x.com"]}),
        ({"path": "/a/**", "hosts": ["x.com"]}, {"path": "/a/**", "hosts": ["y.com"]}),
        ({"path": "/a/**", "hosts": ["*.x.com"]}, {"path": "/a/**", "hosts": ["*.b.x.com"]}),
        ({"path": "/a/*"}, {"path": "/a/b"}),
        ({"path": "/a/*"}, {"path": "/a/**"}),
        ({"path": "/a"}, {"path": "/a/**"}),
        ({"path": "/a/*"}, {"path": "/b/*"}),
        ({"path": "/a/*/c"}, {"path": "/a/b/*"}),
        ({"path": "/a/*"}, {"path": "/a/*/"}),
    ],
)
def test_routes_that_never_tie_are_accepted(
    tmp_path: Path, first: dict[str, Any], second: dict[str, Any]
) -> None:
    loaded = load(tmp_path, gateway(route(name="first", **first), route(name="second", **second)))
    assert [r.name for r in loaded.routes] == ["first", "second"]


def test_route_settings_alone_validate_without_upstreams() -> None:
    settings = RouteSettings.model_validate(route())
    assert settings.pattern.segments == ("app", "**")
