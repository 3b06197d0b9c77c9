"""Every request has one id: on each log line written while handling it, on the answer's
X-Request-Id, and on what the gate sends upstream. A trusted proxy's id is kept; anyone
else's is replaced, so a client cannot choose what the logs and upstreams record."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer, free_port
from tests.integration.proxy_support import PROXY, arrived, route
from tests.integration.upstream_app import Upstream

STRANGER = "127.0.0.3"
GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"  # the id is the listeners' business, not the database's


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory, upstream: Upstream) -> AuthgateServer:
    return make_server(
        gateway={
            "trusted_proxies": [f"{PROXY}/32"],
            "upstreams": {
                "main": {"targets": [upstream.url]},
                "dead": {"targets": [f"http://127.0.0.1:{free_port()}"]},
            },
            "routes": [
                route("echo", "/echo/**", "main", strip_prefix="/echo"),
                route("dead", "/dead/**", "dead"),
            ],
        },
        logging={"format": "json"},
    )


def client_from(gate: AuthgateServer, address: str) -> httpx.Client:
    return httpx.Client(
        base_url=gate.public, transport=httpx.HTTPTransport(local_address=address), timeout=10
    )


@pytest.fixture(scope="module")
def stranger(gate: AuthgateServer) -> Iterator[httpx.Client]:
    with client_from(gate, STRANGER) as http:
        yield http


@pytest.fixture(scope="module")
def proxy(gate: AuthgateServer) -> Iterator[httpx.Client]:
    with client_from(gate, PROXY) as http:
        yield http


def lines_with(gate: AuthgateServer, request_id: str) -> list[dict[str, Any]]:
    """The log lines carrying `request_id` (the access line is written just after the
    answer, so wait for it a little)."""
    deadline = time.monotonic() + 5
    while True:
        found = [r for r in gate.log_records() if r.get("request_id") == request_id]
        if any(r["logger"] == "authgate.access" for r in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_an_answer_carries_a_generated_request_id(stranger: httpx.Client) -> None:
    answer = stranger.get("/healthz")
    assert GENERATED.fullmatch(answer.headers["x-request-id"])
    assert stranger.get("/healthz").headers["x-request-id"] != answer.headers["x-request-id"]


def test_the_upstream_receives_the_answers_request_id(stranger: httpx.Client) -> None:
    answer = stranger.get("/echo/id")
    seen = arrived(answer)
    assert [v for k, v in seen["header_list"] if k == "x-request-id"] == [
        answer.headers["x-request-id"]
    ]


def test_a_trusted_proxys_request_id_is_kept_and_passed_upstream(proxy: httpx.Client) -> None:
    answer = proxy.get("/echo/id", headers={"X-Request-Id": "nginx-7f3a9c"})
    assert answer.headers["x-request-id"] == "nginx-7f3a9c"
    assert arrived(answer)["headers"]["x-request-id"] == "nginx-7f3a9c"


def test_an_untrusted_clients_request_id_is_replaced(stranger: httpx.Client) -> None:
    answer = stranger.get("/echo/id", headers={"X-Request-Id": "chosen-by-client"})
    request_id = answer.headers["x-request-id"]
    assert GENERATED.fullmatch(request_id)
    seen = arrived(answer)
    assert [v for k, v in seen["header_list"] if k.replace("_", "-") == "x-request-id"] == [
        request_id
    ]


def test_an_untrusted_client_cannot_smuggle_an_id_by_another_spelling(
    stranger: httpx.Client,
) -> None:
    answer = stranger.get("/echo/id", headers={"X_Request_Id": "chosen-by-client"})
    spellings = [k for k, _ in arrived(answer)["header_list"] if "request" in k.lower()]
    assert spellings == ["x-request-id"]


@pytest.mark.parametrize("value", ["has space", "x" * 129, 'quote"d', "new\tline"])
def test_a_trusted_proxys_unsafe_request_id_is_replaced(proxy: httpx.Client, value: str) -> None:
    answer = proxy.get("/echo/id", headers={"X-Request-Id": value})
    assert GENERATED.fullmatch(answer.headers["x-request-id"])
    assert arrived(answer)["headers"]["x-request-id"] == answer.headers["x-request-id"]


def test_the_gates_access_line_carries_the_request_id(
    gate: AuthgateServer, stranger: httpx.Client
) -> None:
    request_id = stranger.get("/echo/logged").headers["x-request-id"]
    (line,) = [r for r in lines_with(gate, request_id) if r["logger"] == "authgate.access"]
    assert line["route"] == "echo"
    assert line["path"] == "/echo/logged"


def test_every_line_of_one_request_shares_its_id(gate: AuthgateServer, proxy: httpx.Client) -> None:
    """An upstream that refuses connections: the gate logs the failure, then the access
    line; both carry the request's id, and no other request's line does."""
    answer = proxy.get("/dead/x", headers={"X-Request-Id": "trace-dead-1"})
    assert answer.status_code == 502
    lines = lines_with(gate, "trace-dead-1")
    assert {r["logger"] for r in lines} == {"authgate.gate.proxy", "authgate.access"}
    assert len(lines) == 2
    assert [r["level"] for r in lines] == ["WARNING", "INFO"]
