"""Per-route CORS: configured origins, preflight answers and actual-response headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from authgate.config import ConfigError, load_settings
from authgate.gateway.config import RouteSettings
from authgate.gateway.cors import (
    MAX_REQUEST_HEADERS,
    CorsOriginDenied,
    CorsPreflightDenied,
    RouteCors,
    is_cors_header,
)
from authgate.gateway.cors_values import normalize_origin
from authgate.gateway.route_options import CorsSettings

APP = "https://app.example.com"


def rules(**cors: Any) -> RouteCors | None:
    route = RouteSettings.model_validate(
        {
            "name": "orders",
            "path": "/orders/**",
            "upstream": "orders",
            "authenticate": ["jwt"],
            "authorize": "allow",
            "methods": ["GET", "POST"],
            "cors": {"origins": [APP], **cors},
        }
    )
    return RouteCors.of(route)


def preflight(
    cors: RouteCors, origin: str | None = APP, method: str | None = "POST", **extra: str
) -> list[tuple[str, str]] | None:
    headers = [("origin", origin)] if origin is not None else []
    if method is not None:
        headers.append(("access-control-request-method", method))
    headers += [(k.replace("_", "-"), v) for k, v in extra.items()]
    return cors.preflight("OPTIONS", headers)


def named(answer: list[tuple[str, str]] | None) -> dict[str, str]:
    assert answer is not None
    names = [k.lower() for k, _ in answer]
    assert len(names) == len(set(names)), answer
    return {k.lower(): v for k, v in answer}


@pytest.fixture
def cors() -> RouteCors:
    found = rules(credentials=True, expose_headers=["X-Request-Id"])
    assert found is not None
    return found


# -- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_origin", "stored"),
    [
        ("https://App.Example.com", APP),
        ("https://app.example.com:443", APP),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("*", "*"),
    ],
)
def test_configured_origins_take_the_form_browsers_send(given_origin: str, stored: str) -> None:
    assert CorsSettings(origins=[given_origin]).origins == [stored]


@pytest.mark.parametrize(
    "bad",
    [
        "app.example.com",
        "https://app.example.com/",
        "https://app.example.com/path",
        "https://app.example.com?x=1",
        "https://user@app.example.com",
        "ftp://app.example.com",
        "https://app.example.com:99999",
        "null",
        "",
    ],
)
def test_an_origin_that_is_not_scheme_host_port_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="origin"):
        CorsSettings(origins=[bad])


def test_the_wildcard_with_credentials_is_refused_at_load(tmp_path: Path) -> None:
    config = {
        "gateway": {
            "upstreams": {"orders": {"targets": ["http://127.0.0.1:9"]}},
            "routes": [
                {
                    "name": "orders",
                    "path": "/orders/**",
                    "upstream": "orders",
                    "authenticate": ["jwt"],
                    "authorize": "allow",
                    "cors": {"origins": ["*"], "credentials": True},
                }
            ],
        }
    }
    path = tmp_path / "authgate.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    [problem] = caught.value.problems
    assert problem.startswith("gateway.routes.0.cors: route 'orders': "), problem
    assert "credentials" in problem


def test_the_wildcard_must_stand_alone() -> None:
    with pytest.raises(ValidationError, match="alone"):
        CorsSettings(origins=["*", APP])


def test_a_cors_section_needs_an_origin() -> None:
    with pytest.raises(ValidationError):
        CorsSettings(origins=[])


def test_an_exposed_header_must_be_a_header_name() -> None:
    with pytest.raises(ValidationError, match="header name"):
        CorsSettings(origins=[APP], expose_headers=["X Bad"])


def test_a_route_without_cors_has_no_rules() -> None:
    route = RouteSettings.model_validate(
        {
            "name": "r",
            "path": "/r",
            "upstream": "u",
            "authenticate": ["jwt"],
            "authorize": "allow",
        }
    )
    assert RouteCors.of(route) is None


# -- preflight -------------------------------------------------------------------------


def test_a_preflight_from_an_allowed_origin_is_answered(cors: RouteCors) -> None:
    answer = named(preflight(cors, access_control_request_headers="Authorization, X-Trace"))
    assert answer == {
        "access-control-allow-origin": APP,
        "vary": "Origin",
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "POST",
        "access-control-allow-headers": "authorization, x-trace",
        "access-control-max-age": "600",
    }


def test_a_preflight_asking_for_no_headers_allows_none(cors: RouteCors) -> None:
    assert "access-control-allow-headers" not in named(preflight(cors))


def test_a_preflight_from_another_origin_is_refused(cors: RouteCors) -> None:
    for origin in ("https://evil.example", "https://app.example.com.evil.example", "null"):
        with pytest.raises(CorsOriginDenied):
            preflight(cors, origin=origin)


def test_origins_match_exactly_not_by_case_or_prefix(cors: RouteCors) -> None:
    for origin in ("https://APP.example.com", "http://app.example.com", APP + ":8443"):
        with pytest.raises(CorsOriginDenied):
            preflight(cors, origin=origin)


def test_a_preflight_for_a_method_the_route_does_not_serve_is_refused(cors: RouteCors) -> None:
    with pytest.raises(CorsPreflightDenied) as caught:
        preflight(cors, method="DELETE")
    assert caught.value.reason_id == "method_not_allowed"


def test_head_is_allowed_where_get_is(cors: RouteCors) -> None:
    assert named(preflight(cors, method="HEAD"))["access-control-allow-methods"] == "HEAD"


def test_a_route_for_any_method_allows_any_method() -> None:
    cors = RouteCors(origins=frozenset([APP]))
    assert named(preflight(cors, method="PURGE"))["access-control-allow-methods"] == "PURGE"


@pytest.mark.parametrize(
    ("method", "origin", "request_method"),
    [("GET", APP, "POST"), ("OPTIONS", None, "POST"), ("OPTIONS", APP, None)],
)
def test_what_is_not_a_preflight_is_left_to_the_route(
    cors: RouteCors, method: str, origin: str | None, request_method: str | None
) -> None:
    headers = []
    if origin is not None:
        headers.append(("origin", origin))
    if request_method is not None:
        headers.append(("access-control-request-method", request_method))
    assert cors.preflight(method, headers) is None


@pytest.mark.parametrize(
    "requested", ["x trace", "x-trace, <script>", "a\u00e9", "x" * 65, "x-a;x-b"]
)
def test_requested_headers_that_are_not_tokens_are_refused(cors: RouteCors, requested: str) -> None:
    with pytest.raises(CorsPreflightDenied) as caught:
        preflight(cors, access_control_request_headers=requested)
    assert caught.value.reason_id == "bad_request_headers"


def test_too_many_requested_headers_are_refused(cors: RouteCors) -> None:
    many = ", ".join(f"x-h{n}" for n in range(MAX_REQUEST_HEADERS + 1))
    with pytest.raises(CorsPreflightDenied) as caught:
        preflight(cors, access_control_request_headers=many)
    assert caught.value.reason_id == "too_many_headers"


def test_a_repeated_origin_is_refused(cors: RouteCors) -> None:
    headers = [("origin", APP), ("origin", "https://evil.example")]
    headers.append(("access-control-request-method", "GET"))
    with pytest.raises(CorsPreflightDenied) as caught:
        cors.preflight("OPTIONS", headers)
    assert caught.value.reason_id == "repeated_header"


def test_a_method_that_is_not_a_token_is_refused(cors: RouteCors) -> None:
    with pytest.raises(CorsPreflightDenied) as caught:
        preflight(cors, method="GE T")
    assert caught.value.reason_id == "bad_request_method"


def test_the_wildcard_answers_any_origin_without_credentials() -> None:
    cors = RouteCors(origins=frozenset(["*"]))
    answer = named(preflight(cors, origin="https://anyone.example", method="GET"))
    assert answer["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer


def test_the_wildcard_with_credentials_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="credentials"):
        RouteCors(origins=frozenset(["*"]), credentials=True)


@given(st.text(max_size=40))
def test_only_a_configured_origin_is_ever_echoed(origin: str) -> None:
    cors = RouteCors(origins=frozenset([APP]), credentials=True)
    try:
        answer = preflight(cors, origin=origin, method="GET")
    except (CorsOriginDenied, CorsPreflightDenied):
        answer = None
    if answer is not None:
        assert origin == APP
    assert cors.response_headers(origin) == [] or origin == APP


# -- actual responses ------------------------------------------------------------------


def test_an_allowed_origin_gets_its_response_headers(cors: RouteCors) -> None:
    assert named(cors.response_headers(APP)) == {
        "access-control-allow-origin": APP,
        "vary": "Origin",
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "X-Request-Id",
    }


@pytest.mark.parametrize("origin", [None, "https://evil.example", "x" * 5000])
def test_a_foreign_or_absent_origin_gets_nothing(cors: RouteCors, origin: str | None) -> None:
    assert cors.response_headers(origin) == []


def test_without_credentials_none_are_allowed() -> None:
    found = rules()
    assert found is not None
    assert "access-control-allow-credentials" not in named(found.response_headers(APP))


@pytest.mark.parametrize(
    ("name", "is_cors"),
    [("Access-Control-Allow-Origin", True), ("access-control-max-age", True), ("Vary", False)],
)
def test_upstream_cors_headers_are_recognised_for_replacing(name: str, is_cors: bool) -> None:
    assert is_cors_header(name) is is_cors


def test_normalize_origin_is_idempotent() -> None:
    for origin in (APP, "http://localhost:3000", "*"):
        assert normalize_origin(normalize_origin(origin)) == normalize_origin(origin)
