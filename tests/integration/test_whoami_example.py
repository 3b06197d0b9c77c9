"""The quickstart's demo upstream (examples/whoami) refuses every identity it cannot verify.

It runs as its own process against a real authgate; genuine identities come from authgate's
forward-auth endpoint (asked from a trusted proxy address), signed for `whoami` or for another
upstream.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer, free_port
from tests.integration.oauth_support import PASSWORD, person
from tests.integration.test_readme import REPO, stop, wait_until_up

IDENTITY_TYP = "authgate-identity+jwt"

PROXY = "127.0.0.2"
GATEWAY = {
    "trusted_proxies": [f"{PROXY}/32"],
    "upstreams": {
        "whoami": {"targets": ["http://127.0.0.1:9"]},
        "other": {"targets": ["http://127.0.0.1:9"]},
    },
    "routes": [
        {
            "name": name,
            "path": f"/{name}/**",
            "upstream": name,
            "authenticate": ["jwt"],
            "authorize": "allow",
        }
        for name in ("whoami", "other")
    ],
}


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory) -> AuthgateServer:
    return make_server(gateway=GATEWAY)


@pytest.fixture(scope="module")
def whoami(gate: AuthgateServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo upstream for `gate`'s issuer, as audience `whoami`; yields its base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("whoami") / "whoami.log"
    args = ["--listen", f"127.0.0.1:{port}", "--issuer", gate.public, "--audience", "whoami"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "examples.whoami", *args],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_up(process, [f"http://127.0.0.1:{port}/health"], log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process, signal.SIGTERM)


@pytest.fixture(scope="module")
def access_token(gate: AuthgateServer) -> str:
    email, _ = person(gate)
    with gate.public_client() as http:
        login = http.post("/v1/login", json={"username": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return str(login.json()["access_token"])


def identity_for(gate: AuthgateServer, upstream: str, token: str) -> str:
    """The X-Authgate-Identity authgate signs for `upstream`, asked through forward-auth."""
    described = {
        "X-Forwarded-Method": "GET",
        "X-Forwarded-Proto": "http",
        "X-Forwarded-Host": "127.0.0.1",
        "X-Forwarded-Uri": f"/{upstream}/x",
        "Authorization": f"Bearer {token}",
    }
    with gate.public_client(local_address=PROXY) as http:
        decided = http.get("/_authgate/forward", headers=described)
    assert decided.status_code == 200, decided.text
    return decided.headers["x-authgate-identity"]


def call(whoami: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{whoami}/anything", headers=headers, timeout=10)


def test_whoami_answers_with_the_identity_authgate_signed_for_it(
    gate: AuthgateServer, whoami: str, access_token: str
) -> None:
    identity = identity_for(gate, "whoami", access_token)

    answer = call(whoami, **{"X-Authgate-Identity": identity})

    assert answer.status_code == 200, answer.text
    claims = jwt.decode(access_token, options={"verify_signature": False})
    assert answer.json()["sub"] == claims["sub"]
    assert answer.json()["username"] == claims["username"]
    assert answer.json()["path"] == "/anything"


def test_whoami_refuses_a_request_without_an_identity(whoami: str) -> None:
    answer = call(whoami)

    assert answer.status_code == 401
    assert answer.json()["error"] == "missing_identity"


def test_whoami_refuses_the_plain_identity_headers_alone(whoami: str) -> None:
    plain = {"X-Authgate-Sub": "a", "X-Authgate-Username": "root", "X-Authgate-Groups": "admin"}

    answer = call(whoami, **plain)

    assert answer.status_code == 401


def test_whoami_refuses_an_identity_signed_for_another_upstream(
    gate: AuthgateServer, whoami: str, access_token: str
) -> None:
    identity = identity_for(gate, "other", access_token)

    answer = call(whoami, **{"X-Authgate-Identity": identity})

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_identity"


def test_whoami_refuses_an_access_token_in_place_of_an_identity(
    whoami: str, access_token: str
) -> None:
    answer = call(whoami, **{"X-Authgate-Identity": access_token})

    assert answer.status_code == 401


def test_whoami_refuses_an_identity_forged_with_another_key_under_authgates_kid(
    gate: AuthgateServer, whoami: str, access_token: str
) -> None:
    genuine = identity_for(gate, "whoami", access_token)
    header = jwt.get_unverified_header(genuine)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    claims["groups"] = ["admin"]
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        claims, stranger, algorithm="RS256", headers={"kid": header["kid"], "typ": IDENTITY_TYP}
    )

    answer = call(whoami, **{"X-Authgate-Identity": forged})

    assert answer.status_code == 401


def test_whoami_refuses_an_unsigned_identity(
    gate: AuthgateServer, whoami: str, access_token: str
) -> None:
    genuine = identity_for(gate, "whoami", access_token)
    header_b64, payload_b64, _ = genuine.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=="))
    unsigned_header = json.dumps({**header, "alg": "none"}).encode()
    unsigned = base64.urlsafe_b64encode(unsigned_header).rstrip(b"=").decode()

    answer = call(whoami, **{"X-Authgate-Identity": f"{unsigned}.{payload_b64}."})

    assert answer.status_code == 401


BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64decode(segment: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except ValueError:
        return None


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(part=st.sampled_from([0, 1, 2]), where=st.floats(0, 1), char=st.sampled_from(BASE64URL))
def test_whoami_refuses_an_identity_changed_anywhere(
    gate: AuthgateServer, whoami: str, access_token: str, part: int, where: float, char: str
) -> None:
    genuine = identity_for(gate, "whoami", access_token)
    segments = genuine.split(".")
    segment = segments[part]
    position = min(int(where * len(segment)), len(segment) - 1)
    changed = segment[:position] + char + segment[position + 1 :]
    assume(b64decode(changed) != b64decode(segment))  # unused low bits decode the same
    segments[part] = changed

    answer = call(whoami, **{"X-Authgate-Identity": ".".join(segments)})

    assert answer.status_code == 401
