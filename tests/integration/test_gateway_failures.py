"""Every failure status through the gate's proxy, with a real server and real upstreams:
400 path tricks, 401, 403, 404, 405, 413, 502, 503, 504."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import client_token, machine
from tests.integration.proxy_support import (
    assert_failure,
    bearer,
    raw_get,
    start_gate,
)
from tests.integration.upstream_app import GarbageServer, Upstream


@pytest.fixture(scope="module")
def garbage() -> Iterator[GarbageServer]:
    server = GarbageServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gate(
    make_server: ServerFactory,
    upstream: Upstream,
    garbage: GarbageServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AuthgateServer:
    return start_gate(make_server, upstream.url, garbage.url, tmp_path_factory)


@pytest.fixture(scope="module")
def http(gate: AuthgateServer) -> Iterator[httpx.Client]:
    with gate.public_client() as client:
        yield client


@pytest.fixture(scope="module")
def worker(gate: AuthgateServer) -> dict[str, Any]:
    return machine(gate)


@pytest.fixture(scope="module")
def token(gate: AuthgateServer, worker: dict[str, Any]) -> str:
    return str(client_token(gate, worker, scope="orders:read")["access_token"])


# -- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/admin/../echo/x", "/echo/%2e%2e/admin/x", "/echo/a%2fb", "//echo/x", "/echo/./x"],
)
def test_ambiguous_paths_are_400(gate: AuthgateServer, token: str, path: str) -> None:
    status, body = raw_get(gate, path, bearer(token))
    assert status == 400
    assert b"ambiguous_path" in body


@pytest.mark.parametrize("path", ["/ECHO/x", "/Open/x", "/nowhere", "/V1/me"])
def test_a_path_no_route_serves_is_404(http: httpx.Client, token: str, path: str) -> None:
    assert_failure(http.get(path, headers=bearer(token)), 404, "not_found")


def test_authgates_own_paths_are_served_first(http: httpx.Client) -> None:
    assert http.get("/.well-known/jwks.json").json()["keys"]
    assert http.get("/%76%31/me").status_code == 401  # /v1/me, decoded: authgate's own


def test_no_credential_is_401_and_never_forwarded(http: httpx.Client) -> None:
    answer = http.get("/echo/x")
    assert_failure(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_missing_group_is_403(http: httpx.Client, token: str) -> None:
    assert_failure(http.get("/admin/x", headers=bearer(token)), 403, "forbidden")


def test_a_method_the_route_does_not_serve_is_405(http: httpx.Client) -> None:
    answer = http.post("/only-get", content=b"")
    assert_failure(answer, 405, "method_not_allowed")
    assert answer.headers["allow"] == "GET, HEAD"


def test_a_content_length_over_max_body_is_413_before_the_upstream(http: httpx.Client) -> None:
    # The route's only target is dead: a 413 (not 502) shows nothing was contacted.
    assert_failure(http.post("/sealed/x", content=b"x" * 1025), 413, "body_too_large")


def test_a_chunked_body_growing_over_max_body_is_413(http: httpx.Client) -> None:
    pieces = [b"x" * 512] * 8
    assert_failure(http.post("/tiny/upload", content=iter(pieces)), 413, "body_too_large")
    assert http.post("/tiny/upload", content=iter([b"x" * 512] * 2)).json()["bytes"] == 1024


def test_an_upstream_answering_garbage_is_502_without_internals(
    http: httpx.Client, garbage: GarbageServer
) -> None:
    answer = http.get("/garbage")
    assert_failure(answer, 502, "bad_gateway")
    port = garbage.url.rsplit(":", 1)[1]
    assert port not in answer.text
    assert "127.0.0.1" not in answer.text


def test_an_upstream_too_slow_to_answer_is_504(http: httpx.Client) -> None:
    assert_failure(http.get("/slow?seconds=3"), 504, "upstream_timeout")


def test_an_upstream_whose_targets_are_all_down_is_503(http: httpx.Client) -> None:
    statuses = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not statuses or statuses[-1] != 503):
        statuses.append(http.get("/down").status_code)
        time.sleep(0.05)
    assert statuses[-1] == 503
    assert set(statuses) <= {502, 503}
    assert_failure(http.get("/down"), 503, "no_healthy_upstream")


def test_without_routes_every_other_path_gets_the_gates_404(server: AuthgateServer) -> None:
    with server.public_client() as client:
        answer = client.get("/anything/at/all")
        assert_failure(answer, 404, "not_found")
        assert client.get("/healthz").status_code == 200
