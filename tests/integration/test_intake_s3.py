"""The intake service storing in S3: moto in server mode on loopback as the S3 endpoint.

Uploads go through the real gate; the service sends each body as a multipart upload (5 MiB
parts) while it streams in, then keeps one object per content at `objects/<sha256>`.
"""

from __future__ import annotations

import hashlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest

from tests.integration.harness import AuthgateServer, free_port
from tests.integration.intake_support import (
    MIB,
    TAR,
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
from tests.integration.intake_support import port as port

BUCKET = "images"
KEY_ID, SECRET = "AKIDINTAKETEST000000", "intake-test-secret"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on a loopback port, with the bucket made."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"moto did not start:\n{log.read_text()}")
            time.sleep(0.1)
    s3(url).create_bucket(Bucket=BUCKET)
    yield url
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=15)


def s3(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


@pytest.fixture(scope="module")
def intake_env() -> dict[str, str]:
    return {"INTAKE_TEST_S3_KEY_ID": KEY_ID}


@pytest.fixture(scope="module")
def intake_overrides(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """S3 storage; the key id comes by `env:`, the secret by `file:`."""
    secret = tmp_path_factory.mktemp("s3-secret") / "s3-secret"
    secret.write_text(SECRET)
    storage = {
        "kind": "s3",
        "endpoint_url": s3_endpoint,
        "bucket": BUCKET,
        "access_key_id": "env:INTAKE_TEST_S3_KEY_ID",
        "secret_access_key": f"file:{secret}",
        "part_size": "5MiB",
    }
    return {"storage": storage}


def keys(endpoint: str) -> list[str]:
    listed = s3(endpoint).list_objects_v2(Bucket=BUCKET)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def open_multipart_uploads(endpoint: str) -> list[str]:
    listed = s3(endpoint).list_multipart_uploads(Bucket=BUCKET)
    return [item["Key"] for item in listed.get("Uploads", [])]


def big_image(marker: str) -> bytes:
    """Over two 5 MiB parts: a multipart upload of three parts."""
    return docker_save(marker=marker) + bytes(11 * MIB)


def test_an_upload_becomes_one_object_at_its_content_address(
    http: httpx.Client, gate: AuthgateServer, s3_endpoint: str
) -> None:
    image = big_image("s3")
    digest = hashlib.sha256(image).hexdigest()

    answer = http.post("/images", content=image, headers={**TAR, **bearer(token_for(gate))})

    assert answer.status_code == 201, answer.text
    assert answer.json()["sha256"] == digest
    stored = s3(s3_endpoint).get_object(Bucket=BUCKET, Key=f"objects/{digest}")
    assert stored["Body"].read() == image
    assert not [key for key in keys(s3_endpoint) if key.startswith("incoming/")]
    assert open_multipart_uploads(s3_endpoint) == []


def test_an_image_in_s3_is_vetted(http: httpx.Client, gate: AuthgateServer) -> None:
    token = token_for(gate)
    answer = http.post(
        "/images", content=docker_save(marker="s3-vet"), headers={**TAR, **bearer(token)}
    )

    assert wait_vetted(http, answer.json()["id"], bearer(token))["status"] == "ok"


def test_two_users_share_one_object_until_both_delete_it(
    http: httpx.Client, gate: AuthgateServer, s3_endpoint: str
) -> None:
    alice, bob = token_for(gate), token_for(gate)
    image = docker_save(marker="s3-shared")
    key = f"objects/{hashlib.sha256(image).hexdigest()}"
    ids = [
        http.post("/images", content=image, headers={**TAR, **bearer(who)}).json()["id"]
        for who in (alice, bob)
    ]

    http.delete(f"/images/{ids[0]}", headers=bearer(alice))
    kept = key in keys(s3_endpoint)
    http.delete(f"/images/{ids[1]}", headers=bearer(bob))

    assert kept
    assert key not in keys(s3_endpoint)


def test_a_client_gone_mid_body_leaves_no_object_and_no_open_upload(
    http: httpx.Client, gate: AuthgateServer, s3_endpoint: str
) -> None:
    token = token_for(gate)
    before = keys(s3_endpoint)
    with socket.create_connection(("127.0.0.1", gate.public_port)) as raw:
        raw.sendall(
            (
                f"POST /images HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/x-tar\r\nContent-Length: {32 * MIB}\r\n\r\n"
            ).encode()
        )
        raw.sendall(bytes(12 * MIB))
        wait_until(lambda: open_multipart_uploads(s3_endpoint) != [])

    wait_until(lambda: open_multipart_uploads(s3_endpoint) == [])
    assert keys(s3_endpoint) == before
    listed = http.get("/images", headers=bearer(token)).json()
    assert listed["usage"] == {"images": 0, "bytes": 0}
