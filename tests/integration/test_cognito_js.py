"""The AWS SDK for JavaScript v3 (npm, which nobody here wrote) signs in by SRP, with the
SRP helper of amazon-cognito-identity-js, against a real server on both backends.

tests/cognito_js/srp.mjs runs USER_SRP_AUTH and PASSWORD_VERIFIER, GetUser with the
AccessToken, and a wrong password, and prints a JSON summary. The SDK is pointed at the
server's loopback address with dummy credentials: it never reaches AWS.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cognito_support import (
    DUMMY_AWS_ENVIRONMENT,
    PASSWORD,
    WRONG_PASSWORD,
    new_client,
)
from tests.integration.conftest import unique_email
from tests.integration.harness import AuthgateServer

JS_DIR = Path(__file__).resolve().parents[1] / "cognito_js"
PACKAGES = ("@aws-sdk/client-cognito-identity-provider", "amazon-cognito-identity-js")


@pytest.fixture(scope="module")
def node() -> str:
    """The node binary with the packages installed; skipped without node, except on CI."""
    found = shutil.which("node")
    if found is None:
        message = "node is not installed: the AWS SDK for JavaScript test needs Node 20+"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    if not all((JS_DIR / "node_modules" / name).is_dir() for name in PACKAGES):
        npm = shutil.which("npm")
        assert npm, "npm is missing: run `npm ci --prefix tests/cognito_js` (make test does)"
        subprocess.run(
            [npm, "ci", "--prefix", str(JS_DIR), "--no-audit", "--no-fund"],
            check=True,
            timeout=300,
        )
    return found


def run_script(node: str, config: dict[str, Any]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(DUMMY_AWS_ENVIRONMENT)
    env["COGNITO_JS_CONFIG"] = json.dumps(config)
    done = subprocess.run(
        [node, str(JS_DIR / "srp.mjs")],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr or done.stdout
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def test_aws_sdk_for_javascript_signs_in_by_srp(server: AuthgateServer, node: str) -> None:
    client_id, _ = new_client(server, secret=False)
    username = unique_email("js-srp")
    with server.admin_client() as admin:
        created = admin.post("/admin/users", json={"email": username, "password": PASSWORD})
    assert created.status_code == 201, created.text

    summary = run_script(
        node,
        {
            "endpoint": f"{server.public}/cognito",
            "client_id": client_id,
            "pool_id": "us-east-1_authgate",
            "username": username,
            "password": PASSWORD,
            "wrong_password": WRONG_PASSWORD,
        },
    )

    assert summary["token_type"] == "Bearer"
    assert summary["has_refresh_token"] is True
    assert summary["username"] == username
    assert summary["wrong_password"] == "NotAuthorizedException"
    assert summary["wrong_password_message"] == "Incorrect username or password."
