"""panva's openid-client (npm), which nobody here wrote, through the whole OIDC code flow.

tests/interop/flow.mjs does discovery, authorization code + PKCE through the hosted pages,
the token exchange with ID token validation against the JWKS, userinfo, refresh (and reuse
detection), RP-initiated logout and a prompt=none check after it, and prints a JSON
summary. This wrapper starts a real server, registers a user and a client through the admin
API, runs the script with `node` once per kind of client, and reads the summary.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer

INTEROP_DIR = Path(__file__).resolve().parents[1] / "interop"
PASSWORD = "lemon tree 4 harbour"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never contacted: the script reads Location
LOGGED_OUT_URI = "http://127.0.0.1:9/logged-out"
SCOPE = "openid profile email offline_access"


@pytest.fixture(scope="module")
def node() -> str:
    """The node binary with openid-client installed; skipped without node, except on CI."""
    found = shutil.which("node")
    if found is None:
        message = "node is not installed: the openid-client interop test needs Node 20+"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    if not (INTEROP_DIR / "node_modules" / "openid-client").is_dir():
        npm = shutil.which("npm")
        assert npm, "npm is missing: run `npm ci --prefix tests/interop` (make test does)"
        subprocess.run(
            [npm, "ci", "--prefix", str(INTEROP_DIR), "--no-audit", "--no-fund"],
            check=True,
            timeout=300,
        )
    return found


# flow.mjs replays a spent refresh token at once and expects the family revoked: without a
# reuse interval, since within one the same client gets the same pair back.
NO_REUSE_INTERVAL = {"refresh_reuse_interval": 0}


@pytest.fixture(scope="module")
def provider(make_server: ServerFactory) -> AuthgateServer:
    return make_server(tokens=NO_REUSE_INTERVAL)


def create_person(provider: AuthgateServer) -> dict[str, Any]:
    address = unique_email("openid-client")
    body = {"email": address, "password": PASSWORD, "email_verified": True}
    with provider.admin_client() as admin:
        created = admin.post("/admin/users", json=body)
    assert created.status_code == 201, created.text
    return {"sub": created.json()["sub"], "email": address}


@pytest.fixture(scope="module")
def person(provider: AuthgateServer) -> dict[str, Any]:
    return create_person(provider)


def register(provider: AuthgateServer, method: str, first_party: bool) -> dict[str, Any]:
    body = {
        "client_name": "openid-client interop",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [REDIRECT_URI],
        "post_logout_redirect_uris": [LOGGED_OUT_URI],
        "scope": SCOPE,
        "token_endpoint_auth_method": method,
        "first_party": first_party,
    }
    with provider.admin_client() as admin:
        created = admin.post("/admin/clients", json=body)
    assert created.status_code == 201, created.text
    client: dict[str, Any] = created.json()
    return client


def run_flow(node: str, config: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    env = {**os.environ, "INTEROP_CONFIG": json.dumps(config)}
    done = subprocess.run(
        [node, str(INTEROP_DIR / "flow.mjs")],
        cwd=INTEROP_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = done.stdout.strip().splitlines()
    summary = json.loads(lines[-1]) if lines else {}
    return done.returncode, summary, done.stderr


CASES = {
    "confidential first-party client, client_secret_basic": ("client_secret_basic", True),
    "confidential third-party client, client_secret_post": ("client_secret_post", False),
    "public third-party client": ("none", False),
}


def run_case(
    node: str, provider: AuthgateServer, person: dict[str, Any], method: str, first_party: bool
) -> dict[str, Any]:
    """Register a client, run the script with it, insist on exit 0; the summary."""
    client = register(provider, method, first_party)
    config = {
        "issuer": provider.public,
        "client_id": client["client_id"],
        "client_secret": client.get("client_secret"),
        "token_endpoint_auth_method": method,
        "redirect_uri": REDIRECT_URI,
        "post_logout_redirect_uri": LOGGED_OUT_URI,
        "scope": SCOPE,
        "email": person["email"],
        "password": PASSWORD,
    }
    code, summary, stderr = run_flow(node, config)
    assert code == 0, f"openid-client failed:\n{json.dumps(summary, indent=2)}\n{stderr}"
    return {**summary, "client": client}


@pytest.fixture(scope="module", params=list(CASES))
def flow(
    request: pytest.FixtureRequest,
    node: str,
    provider: AuthgateServer,
    person: dict[str, Any],
) -> dict[str, Any]:
    """One run of the script per kind of client; its summary, asserted on by each test."""
    method, first_party = CASES[request.param]
    return run_case(node, provider, person, method, first_party)


def test_every_step_passes(flow: dict[str, Any]) -> None:
    expected = ["discovery", "authorize", "token", "userinfo", "refresh"]
    assert flow["ok"] is True
    assert [s for s in flow["steps"] if s in expected] == expected
    assert "refresh token reuse" in flow["steps"]


def test_rp_initiated_logout_returns_to_the_client_and_ends_the_session(
    flow: dict[str, Any],
) -> None:
    assert "logout" in flow["steps"]  # 303 to the registered address, with state, no page
    assert flow["prompt_none_error"] == "login_required"


def test_consent_page_only_for_third_party_clients(flow: dict[str, Any]) -> None:
    assert flow["consented"] is (not flow["client"]["first_party"])


def test_id_token_was_issued_to_the_client_for_the_person(
    flow: dict[str, Any], person: dict[str, Any], provider: AuthgateServer
) -> None:
    claims = flow["id_token_claims"]
    assert claims["iss"] == provider.public
    assert claims["sub"] == person["sub"]
    assert claims["aud"] in (flow["client"]["client_id"], [flow["client"]["client_id"]])
    assert {"nonce", "at_hash", "auth_time", "iat", "exp"} <= claims.keys()


def test_userinfo_matches_the_id_token_before_and_after_refresh(
    flow: dict[str, Any], person: dict[str, Any]
) -> None:
    assert flow["userinfo"]["sub"] == person["sub"]
    assert flow["userinfo"]["email"] == person["email"]
    assert flow["userinfo_after_refresh"]["sub"] == person["sub"]


def test_authorization_response_carries_the_issuer(
    flow: dict[str, Any], provider: AuthgateServer
) -> None:
    assert flow["authorization_response_iss"] == provider.public  # RFC 9207


def test_sign_in_session_cookie_is_httponly_and_samesite_lax(flow: dict[str, Any]) -> None:
    cookies = flow["cookies"]
    assert cookies, "the hosted pages set no cookie"
    for name, attributes in cookies.items():
        assert attributes.get("httponly") is True, name
        assert str(attributes.get("samesite", "")).lower() == "lax", name
        assert "secure" not in attributes, f"{name}: Secure on an http issuer"


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_whole_flow_passes_with_other_signing_algorithms(
    alg: str, node: str, make_server: ServerFactory
) -> None:
    provider = make_server(tokens={"signing_alg": alg, **NO_REUSE_INTERVAL})
    summary = run_case(node, provider, create_person(provider), "client_secret_basic", True)
    assert summary["ok"] is True
    assert summary["id_token_alg"] == alg
