"""The ports tests hand their servers: workers never share one, and none is in use."""

from __future__ import annotations

import itertools
import socket

import pytest

from tests import ports


def slice_of(monkeypatch: pytest.MonkeyPatch, worker: str, count: int) -> range:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(count))
    low, high = ports._slice()
    return range(low, high)


@pytest.mark.parametrize("count", [1, 2, 3, 8])
def test_workers_take_ports_from_slices_that_do_not_meet(
    monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    slices = [slice_of(monkeypatch, f"gw{i}", count) for i in range(count)]
    taken = [port for part in slices for port in part]
    assert len(taken) == len(set(taken))
    assert min(taken) >= ports.LOW and max(taken) < ports.HIGH


def test_every_slice_lies_below_the_kernels_ephemeral_ports() -> None:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as found:
        ephemeral_low = int(found.read().split()[0])
    assert ephemeral_low >= ports.HIGH


def test_a_port_handed_out_is_free_and_not_handed_out_again_at_once() -> None:
    handed = [ports.free_port() for _ in range(50)]
    assert len(set(handed)) == 50
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", handed[-1]))


def test_a_port_in_use_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    start = ports.free_port() - ports._LOW  # free now, and next in line below
    monkeypatch.setattr(ports, "_next", itertools.count(start))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", ports._LOW + start))
        busy.listen()
        assert ports.free_port() != ports._LOW + start
