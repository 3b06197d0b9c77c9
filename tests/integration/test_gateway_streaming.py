"""Bodies stream through the gate with bounded memory: a 1 GiB upload and a 1 GiB download
pass while the authgate process's peak RSS (VmHWM) grows by less than MEMORY_BOUND."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.upstream_app import PATTERN, Upstream

GIB = 1024**3
CHUNK = 1024 * 1024
MEMORY_BOUND = 150 * 1024 * 1024


def peak_rss(pid: int) -> int:
    """VmHWM of a process, in bytes: the most memory it ever held resident."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    process = Upstream(tmp_path_factory.mktemp("upstream"), "big").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory, upstream: Upstream) -> AuthgateServer:
    config = {
        "upstreams": {"big": {"targets": [upstream.url], "timeouts": {"read": "120s"}}},
        "routes": [
            {
                "name": "big",
                "path": "/big/**",
                "upstream": "big",
                "strip_prefix": "/big",
                "authenticate": ["anonymous"],
                "authorize": "allow",
                "max_body": "2GiB",
            }
        ],
    }
    return make_server(gateway=config)


@pytest.fixture
def pid(gate: AuthgateServer) -> int:
    assert gate.process is not None
    return gate.process.pid


def test_a_1gib_upload_streams_through_with_flat_memory(gate: AuthgateServer, pid: int) -> None:
    block = PATTERN * (CHUNK // len(PATTERN))
    expected = hashlib.sha256()
    for _ in range(GIB // CHUNK):
        expected.update(block)

    def body() -> Iterator[bytes]:
        for _ in range(GIB // CHUNK):
            yield block

    before = peak_rss(pid)
    with httpx.Client(base_url=gate.public, timeout=300) as http:
        answer = http.post("/big/upload", content=body(), headers={"Content-Length": str(GIB)})
    assert answer.status_code == 200, answer.text
    assert answer.json()["bytes"] == GIB
    assert answer.json()["sha256"] == expected.hexdigest()
    assert peak_rss(pid) - before < MEMORY_BOUND


def test_a_1gib_download_streams_through_with_flat_memory(gate: AuthgateServer, pid: int) -> None:
    before = peak_rss(pid)
    total = 0
    with (
        httpx.Client(base_url=gate.public, timeout=300) as http,
        http.stream("GET", f"/big/stream?bytes={GIB}") as answer,
    ):
        assert answer.status_code == 200
        for chunk in answer.iter_raw(CHUNK):
            total += len(chunk)
    assert total == GIB
    assert peak_rss(pid) - before < MEMORY_BOUND
