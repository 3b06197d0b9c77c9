"""The database goes away mid-run (issue 12's fault): writes answer 503 storage_unavailable
in bounded time, the gate and forward-auth keep admitting valid JWTs, /readyz says 503, and
when the database returns everything works again without a restart.

authgate reaches a real PostgreSQL through a relay this module controls: closed (a stopped
server: connections refused) or a black hole (connections accepted, never answered: only
`database.timeout` ends the wait). Every client here gives up after HANG seconds: a request
that outlives it is a hang, which is the failure looked for; it is no performance bound.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import _drop_database, create_database_or_skip, postgres_base_url
from tests.integration.browser import Browser
from tests.integration.cluster_support import PROXY, eventually
from tests.integration.conftest import unique_email
from tests.integration.harness import AuthgateServer, free_port
from tests.integration.oauth_support import PASSWORD, RESOURCE_SCOPES, client_token, machine
from tests.integration.proxy_support import described
from tests.integration.tcp_relay import TcpRelay
from tests.integration.upstream_app import Upstream

TIMEOUT = 1.0
"""`database.timeout` of the server under test."""
HANG = 4 * TIMEOUT + 2
"""Past this a request counts as hung (a generous ceiling, not a performance figure)."""
STORAGE_UNAVAILABLE = "storage_unavailable"


def gateway(upstream: Upstream) -> dict[str, Any]:
    return {
        "trusted_proxies": [f"{PROXY}/32"],
        "upstreams": {"orders": {"targets": [upstream.url]}},
        "routes": [
            {
                "name": "orders",
                "path": "/orders/**",
                "upstream": "orders",
                "authenticate": ["jwt"],
                "authorize": "allow",
            }
        ],
    }


@dataclass
class Deployment:
    server: AuthgateServer
    relay: TcpRelay
    user_token: str
    refresh_token: str
    machine_token: str
    machine: dict[str, Any]
    browser: Browser
    """Signed in to the hosted pages before any outage."""
    unseen_token: str = ""
    """A user's access token the gate has not seen before the outage."""

    def public(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.public, timeout=HANG)

    def admin(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.server.admin_token}"}
        return httpx.Client(base_url=self.server.admin, timeout=HANG, headers=headers)

    def through_gate(self, token: str) -> int:
        with self.public() as http:
            answer = http.get("/orders/1", headers={"Authorization": f"Bearer {token}"})
        return answer.status_code

    def forward_auth(self, token: str) -> int:
        asking = described(Authorization=f"Bearer {token}")
        transport = httpx.HTTPTransport(local_address=PROXY)
        with httpx.Client(base_url=self.server.public, timeout=HANG, transport=transport) as http:
            return http.get("/_authgate/forward", headers=asking).status_code

    def ready(self) -> int:
        with self.public() as http:
            return http.get("/readyz").status_code


def _signed_in(server: AuthgateServer, address: str | None = None) -> tuple[str, str]:
    """(access, refresh) token of a new confirmed user, signed in through the REST API."""
    address = address or unique_email("fault")
    with server.admin_client() as admin:
        body = {"email": address, "password": PASSWORD, "email_verified": True}
        assert admin.post("/admin/users", json=body).status_code == 201
    with server.public_client() as http:
        answer = http.post("/v1/login", json={"username": address, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"]), str(answer.json()["refresh_token"])


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    process = Upstream(tmp_path_factory.mktemp("upstream"), "orders").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def deployment(
    upstream: Upstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    base = postgres_base_url()
    name = f"authgate_fault_{secrets.token_hex(4)}"
    create_database_or_skip(base, name)
    relay = TcpRelay(base.host or "127.0.0.1", base.port or 5432, free_port())
    relay.forward()
    url = base.set(host="127.0.0.1", port=relay.port, database=name)
    relayed = url.render_as_string(hide_password=False)
    settings = {
        "database": {"timeout": TIMEOUT},
        "oauth": {"scopes": RESOURCE_SCOPES, "revocation_sync_interval": "1s"},
        "gateway": gateway(upstream),
        "cognito": {"enabled": True},
    }
    server = AuthgateServer(tmp_path_factory.mktemp("authgate"), relayed, settings)
    server.start()
    try:
        address = unique_email("fault")
        access, refresh = _signed_in(server, address)
        robot = machine(server)
        machine_token = str(client_token(server, robot)["access_token"])
        browser = Browser(server)
        browser.http.timeout = httpx.Timeout(HANG)
        page = browser.http.get("/auth/login", params={"return_to": "/auth/account"})
        assert browser.sign_in(page, address).status_code == 303
        yield Deployment(server, relay, access, refresh, machine_token, robot, browser)
        browser.http.close()
    finally:
        server.stop()
        relay.close()
        asyncio.run(_drop_database(base, name))


@pytest.fixture(params=["closed", "black_hole"])
def database_away(request: pytest.FixtureRequest, deployment: Deployment) -> Iterator[Deployment]:
    """The database unreachable (port closed, or black-holed) for one test, then back."""
    # Warm the gate's view of both tokens while the database is there, as traffic would.
    assert deployment.through_gate(deployment.user_token) == 200
    assert deployment.through_gate(deployment.machine_token) == 200
    deployment.unseen_token = _signed_in(deployment.server)[0]
    if request.param == "closed":
        deployment.relay.close()
    else:
        deployment.relay.black_hole()
    yield deployment
    deployment.relay.forward()
    assert eventually(deployment.ready, lambda status: status == 200) == 200


def assert_storage_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == STORAGE_UNAVAILABLE
    assert int(answer.headers["retry-after"]) >= 1


def test_a_sign_up_answers_503_storage_unavailable(database_away: Deployment) -> None:
    with database_away.public() as http:
        answer = http.post("/v1/signup", json={"email": unique_email(), "password": PASSWORD})
    assert_storage_unavailable(answer)


def test_a_refresh_answers_503_storage_unavailable(database_away: Deployment) -> None:
    with database_away.public() as http:
        answer = http.post("/v1/token/refresh", json={"refresh_token": database_away.refresh_token})
    assert_storage_unavailable(answer)


def test_an_oauth_revocation_answers_503_in_oauth_shape(database_away: Deployment) -> None:
    robot = database_away.machine
    with database_away.public() as http:
        answer = http.post(
            "/oauth2/revoke",
            data={"token": database_away.machine_token},
            auth=(robot["client_id"], robot["client_secret"]),
        )
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "temporarily_unavailable"
    assert "retry-after" in answer.headers


def test_a_client_credentials_grant_is_still_served_from_the_client_cache(
    database_away: Deployment,
) -> None:
    robot = database_away.machine
    with database_away.public() as http:
        answer = http.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(robot["client_id"], robot["client_secret"]),
        )
    assert answer.status_code == 200, answer.text
    assert database_away.through_gate(answer.json()["access_token"]) == 200


def test_a_cognito_sign_up_answers_a_retryable_internal_error(database_away: Deployment) -> None:
    robot, name = database_away.machine, unique_email()
    digest = hmac.new(
        robot["client_secret"].encode(), (name + robot["client_id"]).encode(), hashlib.sha256
    ).digest()
    call = {
        "ClientId": robot["client_id"],
        "Username": name,
        "SecretHash": base64.b64encode(digest).decode(),
    }
    headers = {
        "X-Amz-Target": "AWSCognitoIdentityProviderService.SignUp",
        "Content-Type": "application/x-amz-json-1.1",
    }
    with database_away.public() as http:
        answer = http.post("/cognito", json={**call, "Password": PASSWORD}, headers=headers)
    assert answer.status_code == 503, answer.text
    assert answer.json()["__type"] == "InternalErrorException"
    assert "retry-after" in answer.headers


def test_an_admin_write_answers_503_storage_unavailable(database_away: Deployment) -> None:
    with database_away.admin() as admin:
        answer = admin.post("/admin/users", json={"email": unique_email(), "password": PASSWORD})
    assert_storage_unavailable(answer)


def test_the_gate_keeps_admitting_a_user_token(database_away: Deployment) -> None:
    assert database_away.through_gate(database_away.user_token) == 200


def test_the_gate_admits_a_valid_token_of_a_user_it_has_not_seen_yet(
    database_away: Deployment,
) -> None:
    assert database_away.through_gate(database_away.unseen_token) == 200


def test_the_gate_keeps_admitting_a_machine_token(database_away: Deployment) -> None:
    assert database_away.through_gate(database_away.machine_token) == 200


def test_forward_auth_keeps_admitting_a_user_token(database_away: Deployment) -> None:
    assert database_away.forward_auth(database_away.user_token) == 200


def test_readiness_says_503(database_away: Deployment) -> None:
    assert database_away.ready() == 503
    with httpx.Client(base_url=database_away.server.admin, timeout=HANG) as admin:
        assert admin.get("/readyz").status_code == 503


def test_a_hosted_page_says_to_try_again_shortly(database_away: Deployment) -> None:
    page = database_away.browser.http.get("/auth/account")
    assert page.status_code == 503, page.text[:300]
    assert page.headers["content-type"].startswith("text/html")
    assert "try again" in page.text
    assert "retry-after" in page.headers


def test_the_jwks_is_still_served(database_away: Deployment) -> None:
    with database_away.public() as http:
        answer = http.get("/.well-known/jwks.json")
    assert answer.status_code == 200
    assert answer.json()["keys"]


def test_everything_works_again_once_the_database_is_back(deployment: Deployment) -> None:
    for break_it in (deployment.relay.close, deployment.relay.black_hole):
        break_it()
        with deployment.public() as http:
            signup = {"email": unique_email(), "password": PASSWORD}
            assert http.post("/v1/signup", json=signup).status_code == 503
        deployment.relay.forward()
        assert eventually(deployment.ready, lambda status: status == 200) == 200
        with deployment.public() as http:
            signup = {"email": unique_email(), "password": PASSWORD}
            assert http.post("/v1/signup", json=signup).status_code == 201
        fresh_access, fresh_refresh = _signed_in(deployment.server)
        assert deployment.through_gate(fresh_access) == 200
        with deployment.public() as http:
            answer = http.post("/v1/token/refresh", json={"refresh_token": fresh_refresh})
        assert answer.status_code == 200, answer.text
