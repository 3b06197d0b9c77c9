"""boto3's real `cognito-idp` client pointed at a test server on loopback.

botocore must never look for AWS: dummy credentials come from the environment, the
instance-metadata lookup is off and no AWS config file is read, and the only endpoint is
the server's loopback address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.integration.harness import AuthgateServer

PASSWORD = "lemon tree 4 harbour"
NEW_PASSWORD = "quiet river 7 lantern"
WRONG_PASSWORD = "wrong guess 9 meadow"
DUMMY_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "AKIDUMMYDUMMYDUMMY00",
    "AWS_SECRET_ACCESS_KEY": "dummy-secret-not-used-for-unsigned-calls",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


@pytest.fixture(scope="module", autouse=True)
def no_real_aws() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in DUMMY_AWS_ENVIRONMENT}
    for name in [n for n in os.environ if n.startswith("AWS_") and n not in saved]:
        saved[name] = os.environ.pop(name)
    os.environ.update(DUMMY_AWS_ENVIRONMENT)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def cognito(server: AuthgateServer) -> Any:
    return boto3.client(
        "cognito-idp", region_name="us-east-1", endpoint_url=f"{server.public}/cognito"
    )


def new_client(server: AuthgateServer, *, secret: bool, **metadata: Any) -> tuple[str, str]:
    """An app client made through the admin API: (client_id, client_secret or "")."""
    method = "client_secret_basic" if secret else "none"
    body = {"client_name": "cognito-app", "token_endpoint_auth_method": method, **metadata}
    with server.admin_client() as admin:
        created = admin.post("/admin/clients", json=body)
    assert created.status_code == 201, created.text
    return created.json()["client_id"], created.json().get("client_secret") or ""


def secret_hash(client_id: str, client_secret: str, username: str) -> str:
    digest = hmac.new(
        client_secret.encode(), (username + client_id).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()
