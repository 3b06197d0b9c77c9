"""Upstream targets by DNS name, against a DNS server started here whose answers change
(TTL 1 s) and real upstream processes on loopback aliases (127.0.0.2-4 and ::1 share one
port)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.dns_server import LoopbackDns, Zone
from tests.integration.harness import AuthgateServer, free_port
from tests.integration.upstream_app import Upstream

NAME = "orders.test"
SRV_NAME = "_http._tcp.orders.test"
A, B, C = "127.0.0.2", "127.0.0.3", "127.0.0.4"
CHECKS = {"interval": "100ms", "timeout": "500ms", "healthy_threshold": 2, "unhealthy_threshold": 2}
WAIT = 20.0
"""Seconds a test waits for the gate to see a change (the records' TTL is 1 s)."""


def route(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "path": f"/{name}/**",
        "upstream": name,
        "strip_prefix": f"/{name}",
        "authenticate": ["anonymous"],
        "authorize": "allow",
    }


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def upstreams(tmp_path_factory: pytest.TempPathFactory, port: int) -> Iterator[dict[str, Upstream]]:
    """`a`, `b`, `c` on 127.0.0.2-4 and `e` on ::1 at one port, and `d` on 127.0.0.1 at
    another port;
    idle connections are kept long, so only the gate closes them."""
    root = tmp_path_factory.mktemp("dns-upstreams")
    started: dict[str, Upstream] = {}
    try:
        for server_id, host in (("a", A), ("b", B), ("c", C), ("e", "::1")):
            started[server_id] = Upstream(
                root / server_id, server_id, port=port, host=host, keep_alive=300
            ).start()
        started["d"] = Upstream(root / "d", "d", keep_alive=300).start()
        yield started
    finally:
        for process in started.values():
            process.stop()


@pytest.fixture(scope="module")
def dns_server() -> Iterator[LoopbackDns]:
    server = LoopbackDns().start()
    yield server
    server.stop()


@pytest.fixture
def zone(dns_server: LoopbackDns, upstreams: dict[str, Upstream]) -> Zone:
    dns_server.zone.failing = False
    dns_server.zone.set_aaaa(NAME, [])
    for upstream in upstreams.values():
        upstream.set_healthy(True)
    return dns_server.zone


@pytest.fixture(scope="module")
def gate(
    make_server: ServerFactory,
    dns_server: LoopbackDns,
    upstreams: dict[str, Upstream],
    port: int,
) -> AuthgateServer:
    dns_server.zone.set_a(NAME, [A, B])
    config = {
        "dns": {"nameservers": [dns_server.address]},
        "upstreams": {
            "orders": {"targets": [f"http://{NAME}:{port}"]},
            "srv": {"targets": [f"srv+http://{SRV_NAME}"]},
            "ghost": {"targets": [f"http://ghost.test:{port}"]},
            "checked": {"targets": [f"http://{NAME}:{port}"], "health": CHECKS},
        },
        "routes": [route("orders"), route("srv"), route("ghost"), route("checked")],
    }
    return make_server(gateway=config)


@pytest.fixture
def http(gate: AuthgateServer) -> Iterator[httpx.Client]:
    with gate.public_client() as client:
        yield client


def served_by(http: httpx.Client, path: str) -> str:
    """The upstream that answered, or the gate's error code."""
    answer = http.get(path)
    if answer.status_code != 200:
        return f"{answer.status_code} {answer.json()['error']}"
    return str(answer.json()["server"])


def seen_over(http: httpx.Client, path: str, count: int = 12) -> set[str]:
    return {served_by(http, path) for _ in range(count)}


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {WAIT} s: {what}")


def established_to(host: str, port: int) -> int:
    """Open TCP connections whose server end is host:port (from /proc/net/tcp)."""
    wanted = "{}:{:04X}".format(
        "".join(f"{int(part):02X}" for part in reversed(host.split("."))), port
    )
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1] == wanted and line.split()[3] == "01")


def test_requests_spread_over_every_a_record(zone: Zone, http: httpx.Client) -> None:
    zone.set_a(NAME, [A, B])
    eventually(lambda: seen_over(http, "/orders/x") == {"a", "b"}, "both A records served")


def test_aaaa_records_are_targets_too(zone: Zone, http: httpx.Client) -> None:
    zone.set_a(NAME, [A])
    zone.set_aaaa(NAME, ["::1"])
    eventually(lambda: seen_over(http, "/orders/x") == {"a", "e"}, "the A and AAAA records served")


def test_health_checks_apply_per_resolved_address(
    zone: Zone, http: httpx.Client, upstreams: dict[str, Upstream]
) -> None:
    zone.set_a(NAME, [A, B])
    eventually(lambda: seen_over(http, "/checked/x") == {"a", "b"}, "both A records served")
    upstreams["b"].set_healthy(False)
    eventually(lambda: seen_over(http, "/checked/x") == {"a"}, "the unhealthy address left")
    upstreams["b"].set_healthy(True)
    eventually(lambda: seen_over(http, "/checked/x") == {"a", "b"}, "the address came back")


def test_the_host_header_is_the_target_name(zone: Zone, http: httpx.Client, port: int) -> None:
    zone.set_a(NAME, [A])
    eventually(lambda: seen_over(http, "/orders/x") == {"a"}, "only a served")
    headers = dict(http.get("/orders/x").json()["headers"])
    assert headers["host"] == f"{NAME}:{port}"


def test_a_new_record_is_picked_up_after_its_ttl(zone: Zone, http: httpx.Client) -> None:
    zone.set_a(NAME, [A])
    eventually(lambda: seen_over(http, "/orders/x") == {"a"}, "only a served")
    zone.set_a(NAME, [A, C])
    eventually(lambda: seen_over(http, "/orders/x") == {"a", "c"}, "the new record served")


def test_a_removed_record_gets_no_requests_and_its_connections_close(
    zone: Zone, http: httpx.Client, port: int
) -> None:
    zone.set_a(NAME, [A, B])
    eventually(lambda: seen_over(http, "/orders/x") == {"a", "b"}, "both A records served")
    assert established_to(B, port) > 0
    zone.set_a(NAME, [A])
    eventually(lambda: seen_over(http, "/orders/x") == {"a"}, "the removed record left")
    assert seen_over(http, "/orders/x", 30) == {"a"}
    eventually(lambda: established_to(B, port) == 0, "the removed address's connections closed")


def test_a_request_in_flight_to_a_removed_record_finishes(
    zone: Zone, http: httpx.Client, gate: AuthgateServer
) -> None:
    zone.set_a(NAME, [B])
    eventually(lambda: seen_over(http, "/orders/x") == {"b"}, "only b served")
    answers: list[httpx.Response] = []

    def slow() -> None:
        with gate.public_client() as client:
            answers.append(client.get("/orders/slow", params={"seconds": "4"}, timeout=30))

    worker = threading.Thread(target=slow)
    worker.start()
    zone.set_a(NAME, [A])
    eventually(lambda: seen_over(http, "/orders/x") == {"a"}, "the removed record left")
    worker.join(timeout=30)
    assert len(answers) == 1
    assert answers[0].status_code == 200
    assert answers[0].json()["server"] == "b"


def test_srv_records_give_hosts_and_ports_of_the_lowest_priority(
    zone: Zone, http: httpx.Client, upstreams: dict[str, Upstream], port: int
) -> None:
    zone.set_a("a.orders.test", [A])
    zone.set_a("c.orders.test", [C])
    zone.set_a("d.orders.test", ["127.0.0.1"])
    zone.set_srv(
        SRV_NAME,
        [
            (10, 5, port, "a.orders.test"),
            (10, 5, upstreams["d"].port, "d.orders.test"),
            (20, 5, port, "c.orders.test"),
        ],
    )
    eventually(lambda: seen_over(http, "/srv/x") == {"a", "d"}, "both priority-10 records served")


def test_srv_falls_back_to_the_next_priority_when_the_first_has_no_address(
    zone: Zone, http: httpx.Client, port: int
) -> None:
    zone.set_a("c.orders.test", [C])
    zone.set_srv(SRV_NAME, [(10, 5, port, "gone.orders.test"), (20, 5, port, "c.orders.test")])
    eventually(lambda: seen_over(http, "/srv/x") == {"c"}, "the priority-20 record served")


def test_a_resolution_failure_keeps_the_last_set(
    zone: Zone, dns_server: LoopbackDns, http: httpx.Client
) -> None:
    zone.set_a(NAME, [A, B])
    eventually(lambda: seen_over(http, "/orders/x") == {"a", "b"}, "both A records served")
    before = zone.failures
    zone.failing = True
    eventually(lambda: zone.failures >= before + 3, "the gate asked while the server failed")
    assert seen_over(http, "/orders/x") == {"a", "b"}


def test_a_name_never_resolved_is_unavailable(zone: Zone, http: httpx.Client) -> None:
    answer = http.get("/ghost/x")
    assert answer.status_code == 503
    assert answer.json()["error"] == "no_healthy_upstream"
