"""Upstream pools without a network: round robin, health thresholds, passive ejection,
secrets for basic auth, and the header rules of the proxy."""

from __future__ import annotations

import base64
from typing import Any, cast

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from pydantic import ValidationError
from yarl import URL

from authgate.config import ConfigError
from authgate.gateway.config import GatewaySettings, UpstreamSettings
from authgate.gateway.dispatch import first_segment
from authgate.gateway.exchange_headers import (
    HOP_BY_HOP,
    body_length,
    response_headers,
    upstream_headers,
)
from authgate.gateway.forward_errors import loggable
from authgate.gateway.mutate import MutationContext, is_reserved, strip_client_headers
from authgate.gateway.pipeline import Decision
from authgate.gateway.principal import ANONYMOUS
from authgate.gateway.request import BadGateRequest, GateRequest
from authgate.gateway.upstreams import (
    EJECT_AFTER,
    EJECT_SECONDS,
    NoHealthyUpstream,
    Target,
    UpstreamPool,
    basic_authorization,
)
from tests.clock import Clock


def pool(targets: list[str], clock: Clock, **settings: Any) -> UpstreamPool:
    return UpstreamPool("orders", UpstreamSettings(targets=targets, **settings), None, clock)


TWO = ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]


def test_round_robin_takes_turns() -> None:
    p = pool(TWO, Clock())
    picks = [p.pick().url for _ in range(4)]
    assert picks == [TWO[0], TWO[1], TWO[0], TWO[1]]


def test_an_unhealthy_target_is_skipped_and_none_left_is_503() -> None:
    p = pool(TWO, Clock())
    p.targets[0].healthy = False
    assert {p.pick().url for _ in range(4)} == {TWO[1]}
    p.targets[1].healthy = False
    with pytest.raises(NoHealthyUpstream):
        p.pick()


def test_passive_ejection_rests_a_target_then_brings_it_back() -> None:
    clock = Clock()
    p = pool(TWO, clock)
    for _ in range(EJECT_AFTER):
        p.connect_failed(p.targets[0])
    assert {p.pick().url for _ in range(4)} == {TWO[1]}
    clock.now += EJECT_SECONDS
    assert {p.pick().url for _ in range(4)} == set(TWO)


def test_a_returned_target_is_ejected_again_at_its_next_failure() -> None:
    clock = Clock()
    p = pool(TWO, clock)
    for _ in range(EJECT_AFTER):
        p.connect_failed(p.targets[0])
    clock.now += EJECT_SECONDS
    p.connect_failed(p.targets[0])
    assert {p.pick().url for _ in range(4)} == {TWO[1]}


def test_with_active_checks_an_ejected_target_waits_for_its_checks() -> None:
    clock = Clock()
    p = pool(TWO, clock, health={"healthy_threshold": 2})
    target = p.targets[0]
    for _ in range(EJECT_AFTER):
        p.connect_failed(target)
    clock.now += EJECT_SECONDS * 10
    assert not target.available(clock.now)
    target.checked(True, 2, 2)
    assert not target.available(clock.now)
    target.checked(True, 2, 2)
    assert target.available(clock.now)


def test_health_thresholds_count_consecutive_results() -> None:
    target = Target("http://127.0.0.1:9001")
    target.checked(False, 2, 3)
    target.checked(False, 2, 3)
    target.checked(True, 2, 3)
    target.checked(False, 2, 3)
    target.checked(False, 2, 3)
    assert target.healthy
    target.checked(False, 2, 3)
    assert not target.healthy


def test_retry_picks_another_target_or_none() -> None:
    p = pool(TWO, Clock())
    assert p.pick_other(p.targets[0]) is p.targets[1]
    single = pool(TWO[:1], Clock())
    assert single.pick_other(single.targets[0]) is None


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:9001", "127.0.0.1:9001"),
        ("http://orders.internal", "orders.internal"),
        ("https://orders.internal:443", "orders.internal"),
        ("http://[::1]:8080", "[::1]:8080"),
    ],
)
def test_the_host_header_names_the_target(url: str, host: str) -> None:
    assert Target(url).host_header == host


def test_basic_auth_secrets_resolve_when_the_pool_is_built(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pw").write_text("pa:ss\n")
    monkeypatch.setenv("ORDERS_USER", "svc")
    settings = UpstreamSettings(
        targets=TWO, basic_auth={"username": "env:ORDERS_USER", "password": f"file:{tmp_path}/pw"}
    )
    expected = "Basic " + base64.b64encode(b"svc:pa:ss").decode()
    assert basic_authorization("orders", settings) == expected


def test_a_missing_basic_auth_secret_names_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    settings = UpstreamSettings(
        targets=TWO, basic_auth={"username": "env:NOT_SET_ANYWHERE", "password": "x"}
    )
    with pytest.raises(ConfigError) as raised:
        basic_authorization("orders", settings)
    assert "gateway.upstreams.orders.basic_auth.username" in str(raised.value.problems)


def test_keep_authorization_with_upstream_basic_auth_is_refused() -> None:
    config = {
        "upstreams": {"legacy": {"targets": TWO, "basic_auth": {"username": "a", "password": "b"}}},
        "routes": [
            {
                "name": "legacy",
                "path": "/legacy/**",
                "upstream": "legacy",
                "authenticate": ["jwt"],
                "authorize": "allow",
                "keep_authorization": True,
            }
        ],
    }
    with pytest.raises(ValidationError, match="keep_authorization is ambiguous"):
        GatewaySettings.model_validate(config)


def described(*headers: tuple[str, str]) -> GateRequest:
    return GateRequest("POST", "http", "h", "/", "", headers)


def test_body_length_reads_the_framing() -> None:
    assert body_length(described()) == 0
    assert body_length(described(("content-length", "12"))) == 12
    assert body_length(described(("transfer-encoding", "chunked"))) is None


@pytest.mark.parametrize(
    "headers",
    [
        (("content-length", "5"), ("transfer-encoding", "chunked")),
        (("content-length", "5"), ("content-length", "6")),
        (("content-length", "-1"),),
        (("content-length", "1e3"),),
    ],
)
def test_contradictory_or_bad_framing_is_refused(headers: tuple[tuple[str, str], ...]) -> None:
    with pytest.raises(BadGateRequest):
        body_length(described(*headers))


def test_response_headers_lose_hop_by_hop_and_connection_named_ones() -> None:
    raw = (
        (b"Connection", b"X-Secret, close"),
        (b"X-Secret", b"1"),
        (b"Keep-Alive", b"timeout=5"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Date", b"Sun, 29 Nov 2026 10:00:00 GMT"),
        (b"Set-Cookie", b"a=1"),
        (b"Set-Cookie", b"b=2"),
    )
    assert response_headers(raw) == [(b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2")]


@given(st.sampled_from(sorted(HOP_BY_HOP)), st.text("abcXYZ-", min_size=1, max_size=8))
def test_no_hop_by_hop_response_header_survives_in_any_case(name: str, value: str) -> None:
    spelled = "".join(c.upper() if i % 2 else c for i, c in enumerate(name)).encode()
    assert response_headers(((spelled, value.encode()), (b"x-end", b"1"))) == [(b"x-end", b"1")]


@pytest.mark.parametrize(
    ("path", "segment"),
    [("/v1/me", "v1"), ("/", ""), ("/_authgate", "_authgate"), ("*", ""), ("/a/b", "a")],
)
def test_the_dispatcher_reads_the_first_segment(path: str, segment: str) -> None:
    assert first_segment(path) == segment


_NAMES = st.sampled_from(
    sorted(HOP_BY_HOP)
    + ["host", "expect", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"]
    + ["forwarded", "x-real-ip", "x-authgate-sub", "x_authgate_groups", "x.authgate.client"]
    + ["x-original-url", "x-http-method-override", "accept", "x-custom", "cookie"]
)
_VALUES = st.sampled_from(["1", "x-custom", "keep-alive, x-custom", "203.0.113.5", "a b"])


@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=12))
def test_an_untrusted_client_cannot_place_any_header_the_gate_owns(
    sent: list[tuple[str, str]],
) -> None:
    request = GateRequest("GET", "http", "api.example", "/", "", tuple(sent), "198.51.100.7")
    patch = strip_client_headers(request, ANONYMOUS, MutationContext(upstream="u"))
    decision = Decision(cast(Any, None), ANONYMOUS, patch)
    target = Target("http://10.0.0.1:8080")
    out = upstream_headers(request, decision, False, target, None)
    names = [name for name, _ in out]
    connection_named = {
        token.strip().lower() for n, v in sent if n == "connection" for token in v.split(",")
    }
    assert not set(names) & (HOP_BY_HOP | {"expect", "forwarded", "x-real-ip"})
    assert not [name for name in names if is_reserved(name)]
    assert not set(names) & (connection_named - {"x-forwarded-for", "host"})
    assert ("host", "10.0.0.1:8080") in out and names.count("host") == 1
    assert ("x-forwarded-for", "198.51.100.7") in out and names.count("x-forwarded-for") == 1
    assert names.count("x-forwarded-proto") == 1


def test_logged_upstream_failures_never_carry_request_headers() -> None:
    info = aiohttp.RequestInfo(
        URL("http://10.0.0.1/x"),
        "GET",
        CIMultiDictProxy(
            CIMultiDict({"Authorization": "Basic c2VjcmV0", "X-Authgate-Identity": "j"})
        ),
        URL("http://10.0.0.1/x"),
    )
    text = loggable(aiohttp.ClientResponseError(info, (), status=400, message="Bad status line"))
    assert "c2VjcmV0" not in text
    assert "Bad status line" in text
