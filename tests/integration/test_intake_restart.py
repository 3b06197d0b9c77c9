"""Vettings cut short by a killed service are done when it starts again.

The service is killed with SIGKILL (no shutdown of its own) while one image is being vetted
and another waits its turn (one vetting at a time); the same service, started again on the
same database and storage, vets both. The slow image is a small upload whose layer inflates
to 2 GiB of zeros: its vetting takes seconds, while the second upload and the kill take
milliseconds.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.integration.harness import AuthgateServer
from tests.integration.intake_support import (
    TAR,
    IntakeService,
    bearer,
    docker_save,
    slow_image,
    token_for,
    wait_vetted,
)
from tests.integration.intake_support import backend as backend
from tests.integration.intake_support import gate as gate
from tests.integration.intake_support import http as http
from tests.integration.intake_support import intake as intake
from tests.integration.intake_support import intake_env as intake_env
from tests.integration.intake_support import port as port

SLOW_ZERO_BYTES = 2 * 1024**3


@pytest.fixture(scope="module")
def intake_overrides() -> dict[str, Any]:
    return {"vetting": {"concurrency": 1}}


def status_of(http: httpx.Client, image_id: str, headers: dict[str, str]) -> str:
    answer = http.get(f"/images/{image_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


def wait_status(
    http: httpx.Client, image_id: str, headers: dict[str, str], wanted: str, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while (status := status_of(http, image_id, headers)) != wanted:
        if time.monotonic() > deadline:
            raise AssertionError(f"image {image_id} is {status!r}, never {wanted!r}")
        time.sleep(0.02)


def test_images_left_vetting_and_received_by_a_killed_service_are_vetted_after_restart(
    http: httpx.Client, gate: AuthgateServer, intake: IntakeService
) -> None:
    who = bearer(token_for(gate))
    slow = http.post("/images", content=slow_image(SLOW_ZERO_BYTES), headers={**TAR, **who})
    assert slow.status_code == 201, slow.text
    wait_status(http, slow.json()["id"], who, "vetting")
    waiting = http.post("/images", content=docker_save(marker="queued"), headers={**TAR, **who})
    assert waiting.status_code == 201, waiting.text
    before_kill = {
        name: status_of(http, answer.json()["id"], who)
        for name, answer in (("slow", slow), ("waiting", waiting))
    }
    assert before_kill == {"slow": "vetting", "waiting": "received"}

    intake.kill()
    intake.start()

    vetted = {
        name: wait_vetted(http, answer.json()["id"], who, timeout=120)
        for name, answer in (("slow", slow), ("waiting", waiting))
    }
    assert {name: image["status"] for name, image in vetted.items()} == {
        "slow": "ok",
        "waiting": "ok",
    }
    (layer,) = vetted["slow"]["report"]["layers"]
    assert layer["entries"] == 1
    assert layer["uncompressed_size"] > SLOW_ZERO_BYTES
