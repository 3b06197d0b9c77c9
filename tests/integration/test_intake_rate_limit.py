"""The quickstart's per-subject rate limit on `/images/**`, enforced by the gate.

The gate runs the quickstart's `images` route as written in examples/quickstart/authgate.yaml
(to this test's intake service) except for its rate, lowered to BUDGET per hour so that a
test spends it in a few requests and no budget refills while it runs (outcomes never depend
on timing). The key, what the limit is counted against, is the quickstart's own.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
import yaml

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.intake_support import (
    ROOT,
    TAR,
    IntakeService,
    bearer,
    docker_save,
    intake_gateway,
    token_for,
)
from tests.integration.intake_support import backend as backend
from tests.integration.intake_support import http as http
from tests.integration.intake_support import intake as intake
from tests.integration.intake_support import intake_env as intake_env
from tests.integration.intake_support import intake_overrides as intake_overrides
from tests.integration.intake_support import port as port

QUICKSTART = ROOT / "examples/quickstart/authgate.yaml"
BUDGET = 3


def quickstart_images_route() -> dict[str, Any]:
    config = yaml.safe_load(QUICKSTART.read_text())
    (route,) = [r for r in config["gateway"]["routes"] if r["name"] == "images"]
    return dict(route)


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory, port: int) -> AuthgateServer:
    route = quickstart_images_route()
    route["rate_limit"] = {**route["rate_limit"], "rate": f"{BUDGET}/hour"}
    return make_server(gateway={**intake_gateway(port), "routes": [route]})


def upload(http: httpx.Client, token: str, body: bytes) -> httpx.Response:
    return http.post("/images", content=body, headers={**TAR, **bearer(token)})


def test_the_quickstart_limits_image_requests_per_subject() -> None:
    route = quickstart_images_route()

    assert route["path"] == "/images/**"
    assert route["rate_limit"]["key"] == "subject"


def test_a_subject_over_the_rate_gets_429_from_the_gate_and_the_service_sees_nothing(
    http: httpx.Client, gate: AuthgateServer, intake: IntakeService
) -> None:
    token = token_for(gate)
    spent = [upload(http, token, docker_save(marker=f"budget-{n}")) for n in range(BUDGET)]
    refused_image = docker_save(marker="over-budget")

    refused = upload(http, token, refused_image)

    assert [answer.status_code for answer in spent] == [201] * BUDGET
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"] == "rate_limited"
    assert refused.json()["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    assert refused.headers["cache-control"] == "no-store"
    stored = [path.name for path in intake.stored_objects()]
    assert hashlib.sha256(refused_image).hexdigest() not in stored
    assert intake.incoming() == []


def test_another_subject_still_gets_through_while_one_is_limited(
    http: httpx.Client, gate: AuthgateServer
) -> None:
    limited, other = token_for(gate), token_for(gate)
    for n in range(BUDGET):
        assert http.get("/images", headers=bearer(limited)).status_code == 200, n
    assert http.get("/images", headers=bearer(limited)).status_code == 429

    answer = upload(http, other, docker_save(marker="other-subject"))

    assert answer.status_code == 201, answer.text
    assert http.get("/images", headers=bearer(other)).status_code == 200
