"""The intake service behind the real gate: uploads, ownership, quotas, broken uploads.

authgate runs as a subprocess (SQLite; the service does not depend on the gate's database)
with the quickstart's `/images/**` route, and examples/intake as its upstream, storing on the
filesystem. Each test signs up its own users.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.integration.harness import AuthgateServer
from tests.integration.intake_support import (
    MIB,
    TAR,
    IntakeService,
    bearer,
    docker_save,
    token_for,
    wait_until,
    wait_vetted,
)
from tests.integration.intake_support import backend as backend
from tests.integration.intake_support import gate as gate
from tests.integration.intake_support import http as http
from tests.integration.intake_support import intake as intake
from tests.integration.intake_support import intake_env as intake_env
from tests.integration.intake_support import port as port

QUOTA = {"images": 4, "bytes": 32 * MIB}


@pytest.fixture(scope="module")
def intake_overrides() -> dict[str, Any]:
    return {"quota": QUOTA}


def upload(http: httpx.Client, token: str, body: bytes, query: str = "") -> httpx.Response:
    return http.post(f"/images{query}", content=body, headers={**TAR, **bearer(token)})


def test_an_upload_answers_201_with_its_id_digest_and_size(
    http: httpx.Client, gate: AuthgateServer
) -> None:
    image = docker_save(marker="first")

    answer = upload(http, token_for(gate), image)

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["sha256"] == hashlib.sha256(image).hexdigest()
    assert body["size"] == len(image)
    assert body["status"] == "received"
    assert body["id"].startswith("img_")


def test_the_image_is_stored_once_at_its_content_address(
    http: httpx.Client, gate: AuthgateServer, intake: IntakeService
) -> None:
    image = docker_save(marker="address")
    digest = hashlib.sha256(image).hexdigest()

    upload(http, token_for(gate), image)

    stored = [p for p in intake.stored_objects() if p.name == digest]
    assert len(stored) == 1
    assert stored[0].read_bytes() == image


def test_the_same_content_by_the_same_user_answers_200_with_the_same_id(
    http: httpx.Client, gate: AuthgateServer
) -> None:
    token = token_for(gate)
    image = docker_save(marker="again")
    first = upload(http, token, image)

    second = upload(http, token, image)

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]


def test_vetting_runs_after_the_upload_and_reports(
    http: httpx.Client, gate: AuthgateServer
) -> None:
    token = token_for(gate)
    image_id = upload(http, token, docker_save(marker="vet")).json()["id"]

    vetted = wait_vetted(http, image_id, bearer(token))

    assert vetted["status"] == "ok", vetted
    assert isinstance(vetted["report"]["findings"], list)


def test_a_baked_aws_key_is_rejected_unless_findings_are_accepted(
    http: httpx.Client, gate: AuthgateServer
) -> None:
    token = token_for(gate)
    env = [
        "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ]
    baked = upload(http, token, docker_save(env=env, marker="baked")).json()["id"]
    accepted = upload(http, token, docker_save(env=env, marker="ok"), "?accept_findings=1")

    assert wait_vetted(http, baked, bearer(token))["status"] == "rejected"
    assert wait_vetted(http, accepted.json()["id"], bearer(token))["status"] == "ok"


def test_a_list_shows_only_the_callers_images(http: httpx.Client, gate: AuthgateServer) -> None:
    alice, bob = token_for(gate), token_for(gate)
    mine = upload(http, alice, docker_save(marker="alice")).json()["id"]
    upload(http, bob, docker_save(marker="bob"))

    listed = http.get("/images", headers=bearer(alice))

    assert listed.status_code == 200
    assert [image["id"] for image in listed.json()["images"]] == [mine]


def test_another_users_image_is_404_to_read_and_to_delete(
    http: httpx.Client, gate: AuthgateServer
) -> None:
    alice, bob = token_for(gate), token_for(gate)
    image_id = upload(http, alice, docker_save(marker="private")).json()["id"]

    read = http.get(f"/images/{image_id}", headers=bearer(bob))
    deleted = http.delete(f"/images/{image_id}", headers=bearer(bob))

    assert (read.status_code, deleted.status_code) == (404, 404)
    assert read.json()["error"] == "not_found"
    assert http.get(f"/images/{image_id}", headers=bearer(alice)).status_code == 200


def test_members_of_admin_list_everyones_images_with_all(
    http: httpx.Client, gate: AuthgateServer
) -> None:
    alice, admin = token_for(gate), token_for(gate, groups=("admin",))
    image_id = upload(http, alice, docker_save(marker="seen-by-admin")).json()["id"]

    everyone = http.get("/images?all=1", headers=bearer(admin))
    refused = http.get("/images?all=1", headers=bearer(alice))

    assert image_id in [image["id"] for image in everyone.json()["images"]]
    assert refused.status_code == 403


def test_deleting_the_last_image_of_a_content_removes_the_object(
    http: httpx.Client, gate: AuthgateServer, intake: IntakeService
) -> None:
    alice, bob = token_for(gate), token_for(gate)
    image = docker_save(marker="shared")
    digest = hashlib.sha256(image).hexdigest()
    ids = [upload(http, who, image).json()["id"] for who in (alice, bob)]

    first = http.delete(f"/images/{ids[0]}", headers=bearer(alice))
    kept = digest in [p.name for p in intake.stored_objects()]
    second = http.delete(f"/images/{ids[1]}", headers=bearer(bob))

    assert (first.status_code, second.status_code) == (204, 204)
    assert kept
    assert digest not in [p.name for p in intake.stored_objects()]


def test_concurrent_uploads_of_the_same_content_make_one_image_and_one_object(
    http: httpx.Client, gate: AuthgateServer, intake: IntakeService
) -> None:
    token = token_for(gate)
    image = docker_save(marker="concurrent") + bytes(4 * MIB)
    digest = hashlib.sha256(image).hexdigest()

    def send(_: int) -> httpx.Response:
        with gate.public_client() as client:
            return upload(client, token, image)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(4)))

    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert [p.name for p in intake.stored_objects()].count(digest) == 1
    assert intake.incoming() == []


def test_over_the_image_quota_is_429(http: httpx.Client, gate: AuthgateServer) -> None:
    token = token_for(gate)
    for n in range(QUOTA["images"]):
        assert upload(http, token, docker_save(marker=f"quota-{n}")).status_code == 201

    answer = upload(http, token, docker_save(marker="one-too-many"))

    assert answer.status_code == 429
    assert answer.json()["error"] == "quota_exceeded"
    assert "4 images" in answer.json()["message"]


def test_an_announced_body_over_the_byte_quota_is_413_before_it_is_read(
    http: httpx.Client, gate: AuthgateServer, intake: IntakeService
) -> None:
    answer = upload(http, token_for(gate), bytes(QUOTA["bytes"] + 1))

    assert answer.status_code == 413
    assert answer.json()["error"] == "quota_exceeded"
    assert intake.incoming() == []


def test_a_streamed_body_is_cut_off_at_the_byte_quota(
    http: httpx.Client, gate: AuthgateServer, intake: IntakeService
) -> None:
    token = token_for(gate)

    def chunks() -> Iterator[bytes]:
        for _ in range(QUOTA["bytes"] // MIB + 8):
            yield bytes(MIB)

    answer = http.post("/images", content=chunks(), headers={**TAR, **bearer(token)})

    assert answer.status_code == 413
    assert answer.json()["error"] == "quota_exceeded"
    usage = http.get("/images", headers=bearer(token)).json()["usage"]
    assert usage == {"images": 0, "bytes": 0}
    assert intake.incoming() == []


def test_a_client_gone_mid_body_leaves_nothing_stored_and_the_quota_unchanged(
    http: httpx.Client, gate: AuthgateServer, intake: IntakeService
) -> None:
    token = token_for(gate)
    objects_before = intake.stored_objects()
    announced = 16 * MIB
    with socket.create_connection(("127.0.0.1", gate.public_port)) as raw:
        raw.sendall(
            (
                f"POST /images HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/x-tar\r\nContent-Length: {announced}\r\n\r\n"
            ).encode()
        )
        raw.sendall(bytes(4 * MIB))
        wait_until(lambda: any(p.stat().st_size > 0 for p in intake.incoming()))

    wait_until(lambda: intake.incoming() == [])
    assert intake.stored_objects() == objects_before
    listed = http.get("/images", headers=bearer(token)).json()
    assert listed["images"] == []
    assert listed["usage"] == {"images": 0, "bytes": 0}


def test_without_a_token_the_gate_answers_401_and_the_service_sees_nothing(
    http: httpx.Client, intake: IntakeService
) -> None:
    answer = http.post("/images", content=docker_save(marker="anonymous"), headers=TAR)

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert intake.incoming() == []


def test_the_service_called_around_the_gate_refuses_the_request(intake: IntakeService) -> None:
    answer = httpx.post(f"{intake.url}/images", content=b"x", headers=TAR, timeout=10)

    assert answer.status_code == 401
    assert answer.json()["error"] == "missing_identity"


def test_a_body_that_is_not_a_tarball_is_415(http: httpx.Client, gate: AuthgateServer) -> None:
    answer = http.post(
        "/images",
        content=b"{}",
        headers={"Content-Type": "application/json", **bearer(token_for(gate))},
    )

    assert answer.status_code == 415
    assert answer.json()["error"] == "unsupported_media_type"
