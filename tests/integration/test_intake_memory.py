"""A 1 GiB image upload through the gate to the intake service with flat memory in both.

Peak resident memory (VmHWM) of the authgate process and of the intake process may each grow
by less than MEMORY_BOUND while the upload streams through: neither holds the body.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.integration.harness import AuthgateServer
from tests.integration.intake_support import IntakeService, bearer, token_for
from tests.integration.intake_support import backend as backend
from tests.integration.intake_support import gate as gate
from tests.integration.intake_support import intake as intake
from tests.integration.intake_support import intake_env as intake_env
from tests.integration.intake_support import intake_overrides as intake_overrides
from tests.integration.intake_support import port as port

GIB = 1024**3
BLOCK = bytes(range(256)) * 4096  # 1 MiB
MEMORY_BOUND = 50 * 1024 * 1024


def peak_rss(pid: int) -> int:
    """VmHWM of a process, in bytes: the most memory it ever held resident."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def test_a_1gib_upload_through_the_gate_keeps_both_processes_memory_flat(
    gate: AuthgateServer, intake: IntakeService
) -> None:
    assert gate.process is not None
    token = token_for(gate)
    expected = hashlib.sha256()
    for _ in range(GIB // len(BLOCK)):
        expected.update(BLOCK)

    def body() -> Iterator[bytes]:
        for _ in range(GIB // len(BLOCK)):
            yield BLOCK

    before = {"gate": peak_rss(gate.process.pid), "intake": peak_rss(intake.pid)}
    with httpx.Client(base_url=gate.public, timeout=300) as http:
        answer = http.post(
            "/images",
            content=body(),
            headers={
                "Content-Type": "application/x-tar",
                "Content-Length": str(GIB),
                **bearer(token),
            },
        )
    grown = {
        "gate": peak_rss(gate.process.pid) - before["gate"],
        "intake": peak_rss(intake.pid) - before["intake"],
    }

    assert answer.status_code == 201, answer.text
    assert answer.json()["size"] == GIB
    assert answer.json()["sha256"] == expected.hexdigest()
    assert all(growth < MEMORY_BOUND for growth in grown.values()), grown
