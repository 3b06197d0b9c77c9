"""`GET /metrics` on the admin listener after each flow has run through a real server:
the flow's counter moved with the outcome a user saw, its latency was observed, and the
whole exposition passes `promtool check metrics` (Prometheus' own naming lint)."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import (
    PASSWORD,
    RESOURCE_SCOPES,
    client_token,
    machine,
    post_form,
)
from tests.redis_support import REDIS_URL, redis_or_skip, unique_prefix

LOCKED_OUT = "127.0.0.9"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"  # what is counted does not depend on the database


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    redis_or_skip()
    return make_server(
        redis={"url": REDIS_URL, "key_prefix": unique_prefix("metrics")},
        throttle={"login_failures": 3},
        oauth={"scopes": RESOURCE_SCOPES},
    )


@pytest.fixture(scope="module")
def public(server: AuthgateServer) -> Iterator[httpx.Client]:
    with server.public_client() as http:
        yield http


def exposition(server: AuthgateServer) -> str:
    with server.admin_client() as admin:
        answer = admin.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


def samples(server: AuthgateServer) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(exposition(server)):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def moved(server: AuthgateServer, action: Any, name: str, **labels: str) -> float:
    """How much the series `name{labels}` grew while `action` ran."""
    before = value(samples(server), name, **labels)
    action()
    return value(samples(server), name, **labels) - before


def signed_up_and_confirmed(server: AuthgateServer, http: httpx.Client) -> str:
    email = unique_email("metrics")
    answer = http.post("/v1/signup", json={"email": email, "password": PASSWORD})
    assert answer.status_code in (200, 201), answer.text
    code = server.wait_for_mail(email).code
    confirmed = http.post("/v1/signup/confirm", json={"username": email, "code": code})
    assert confirmed.status_code in (200, 204), confirmed.text
    return email


def login(http: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    return http.post("/v1/login", json={"username": email, "password": password})


def test_build_info_names_the_version(server: AuthgateServer) -> None:
    from authgate import __version__

    assert value(samples(server), "authgate_build_info", version=__version__) == 1


def test_a_sign_up_counts_its_outcome_its_time_and_the_mail_it_sent(
    server: AuthgateServer, public: httpx.Client
) -> None:
    before = samples(server)
    signed_up_and_confirmed(server, public)
    after = samples(server)
    for name, labels in [
        ("authgate_signups_total", {"outcome": "success"}),
        ("authgate_signup_duration_seconds_count", {}),
        ("authgate_mail_messages_total", {"outcome": "sent"}),
        ("authgate_password_hash_wait_seconds_count", {}),
        ("authgate_database_pool_wait_seconds_count", {}),
        ("authgate_redis_command_duration_seconds_count", {}),
    ]:
        assert value(after, name, **labels) > value(before, name, **labels), name


def test_a_refused_sign_up_counts_the_domains_error_code(
    server: AuthgateServer, public: httpx.Client
) -> None:
    def weak() -> None:
        answer = public.post("/v1/signup", json={"email": unique_email(), "password": "short"})
        assert answer.status_code == 400

    assert moved(server, weak, "authgate_signups_total", outcome="invalid_password") == 1


def test_logins_count_by_outcome(server: AuthgateServer, public: httpx.Client) -> None:
    email = signed_up_and_confirmed(server, public)
    assert (
        moved(server, lambda: login(public, email), "authgate_logins_total", outcome="success") == 1
    )
    wrong = moved(
        server,
        lambda: login(public, email, "not the password"),
        "authgate_logins_total",
        outcome="invalid_credentials",
    )
    assert wrong == 1


def test_a_locked_out_login_counts_as_locked(server: AuthgateServer, public: httpx.Client) -> None:
    """From an address of its own: the lockout also holds per address."""
    email = signed_up_and_confirmed(server, public)
    before = value(samples(server), "authgate_logins_total", outcome="locked")
    with server.public_client(local_address=LOCKED_OUT) as elsewhere:
        statuses = [login(elsewhere, email, "not the password").status_code for _ in range(6)]
    assert 429 in statuses
    assert value(samples(server), "authgate_logins_total", outcome="locked") > before


def test_refresh_and_sign_out_are_counted(server: AuthgateServer, public: httpx.Client) -> None:
    tokens = login(public, signed_up_and_confirmed(server, public)).json()

    def refresh() -> None:
        answer = public.post("/v1/token/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert answer.status_code == 200, answer.text
        tokens.update(answer.json())

    assert moved(server, refresh, "authgate_refreshes_total", outcome="success") == 1

    def logout() -> None:
        answer = public.post("/v1/logout", json={"refresh_token": tokens["refresh_token"]})
        assert answer.status_code in (200, 204), answer.text

    assert moved(server, logout, "authgate_revocations_total", outcome="success") == 1


def test_grants_introspection_and_revocation_are_counted(server: AuthgateServer) -> None:
    client = machine(server)
    before = samples(server)
    token = client_token(server, client)["access_token"]
    assert post_form(server, "/oauth2/introspect", client, token=token).json()["active"]
    assert post_form(server, "/oauth2/revoke", client, token=token).status_code == 200
    after = samples(server)
    grant = {"grant_type": "client_credentials"}
    for name, labels in [
        ("authgate_token_grants_total", {**grant, "outcome": "success"}),
        ("authgate_token_grant_duration_seconds_count", grant),
        ("authgate_introspections_total", {"outcome": "active"}),
        ("authgate_revocations_total", {"outcome": "success"}),
    ]:
        assert value(after, name, **labels) == value(before, name, **labels) + 1, name


def test_decisions_are_counted_by_decision(server: AuthgateServer, public: httpx.Client) -> None:
    def ask() -> None:
        answer = public.post(
            "/authz/allowed",
            json={"subject": "nobody", "action": "read", "resource": "orders:1"},
            headers={"Authorization": f"Bearer {server.admin_token}"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["allowed"] is False

    assert moved(server, ask, "authgate_policy_decisions_total", decision="deny") == 1


def test_pool_and_redis_gauges_are_exposed(server: AuthgateServer) -> None:
    found = samples(server)
    assert value(found, "authgate_password_hash_queue_depth") == 0
    assert value(found, "authgate_password_hash_workers") >= 1
    assert ("authgate_database_connections_in_use", frozenset()) in found
    assert value(found, "authgate_redis_up") == 1


def test_no_label_names_a_user_or_a_client(server: AuthgateServer, public: httpx.Client) -> None:
    email = signed_up_and_confirmed(server, public)
    login(public, email)
    client = machine(server)
    client_token(server, client)
    text = exposition(server)
    assert email not in text
    assert client["client_id"] not in text


def test_the_exposition_passes_promtool(server: AuthgateServer, public: httpx.Client) -> None:
    """Every flow has run (the tests above; this one also alone): Prometheus' own linter
    checks names, units, `_total` suffixes and help texts of the real output."""
    login(public, signed_up_and_confirmed(server, public))
    text = exposition(server)
    assert convention_problems(text) == []
    promtool = shutil.which("promtool")
    if promtool is None:
        warnings.warn(
            "promtool is missing (Debian package prometheus; .ci/run installs it): "
            "only the conventions checked with prometheus_client's parser were checked",
            stacklevel=1,
        )
        return
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout + checked.stderr == ""


def convention_problems(text: str) -> list[str]:
    """The checks promtool would make that matter here, for a machine without it."""
    problems = []
    for family in text_string_to_metric_families(text):
        name = family.name
        if not name.startswith("authgate_"):
            problems.append(f"{name}: no authgate_ prefix")
        if not family.documentation:
            problems.append(f"{name}: no help text")
        if family.type == "counter" and f"# TYPE {name}_total counter" not in text.splitlines():
            # The parser adds _total to a counter's samples itself: read the declaration.
            problems.append(f"{name}: a counter without _total")
        if family.type == "histogram" and not name.endswith(("_seconds", "_bytes")):
            problems.append(f"{name}: a histogram not in a base unit")
        if family.type != "counter" and name.endswith("_total"):
            problems.append(f"{name}: _total on a {family.type}")
        for unit in ("_milliseconds", "_ms", "_minutes", "_kilobytes"):
            if unit in name:
                problems.append(f"{name}: not a base unit")
    return problems


def test_the_fallback_check_finds_misnamed_series() -> None:
    """The parser check stands in for promtool where it is missing: it must catch what
    promtool would."""
    bad = (
        "# HELP requests Requests.\n# TYPE requests counter\nrequests 1\n"
        "# HELP authgate_latency_ms Latency.\n# TYPE authgate_latency_ms histogram\n"
        'authgate_latency_ms_bucket{le="+Inf"} 1\nauthgate_latency_ms_count 1\n'
        "authgate_latency_ms_sum 1\n"
    )
    assert convention_problems(bad) == [
        "requests: no authgate_ prefix",
        "requests: a counter without _total",
        "authgate_latency_ms: a histogram not in a base unit",
        "authgate_latency_ms: not a base unit",
    ]
