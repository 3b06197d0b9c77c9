"""Registering a client's redirect URIs through every path that stores them (admin API create
and update, the CLI), and what happens to a bad URI stored before the rules: it is never
redirected to (authorize shows an error page, logout the signed-out page)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import httpx
import pytest
import yaml

from authgate.store import Store
from tests.integration.browser import (
    LOGOUT_URI,
    PASSWORD,
    REDIRECT_URI,
    Browser,
    code_request,
    create_client,
    create_user,
)
from tests.integration.conftest import unique_email
from tests.integration.harness import AuthgateServer

SCRIPT_URIS = [
    "javascript://%0Aalert(document.domain)",
    "JavaScript://%0Aalert(1)",
    " javascript://x",
    "java\tscript://x",
    "data://text/html;base64,PHNjcmlwdD4=",
    "vbscript://msgbox(1)",
]


def post_client(server: AuthgateServer, **fields: Any) -> httpx.Response:
    body = {"client_name": "reg", "token_endpoint_auth_method": "none", **fields}
    with server.admin_client() as admin:
        return admin.post("/admin/clients", json=body)


def assert_invalid_redirect_uri(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_redirect_uri"
    assert body["field"] == field


@pytest.mark.parametrize("uri", SCRIPT_URIS, ids=repr)
def test_admin_api_refuses_a_script_redirect_uri(server: AuthgateServer, uri: str) -> None:
    response = post_client(
        server, grant_types=["authorization_code"], redirect_uris=[REDIRECT_URI, uri]
    )
    assert_invalid_redirect_uri(response, "redirect_uris")


@pytest.mark.parametrize("uri", SCRIPT_URIS, ids=repr)
def test_admin_api_refuses_a_script_post_logout_redirect_uri(
    server: AuthgateServer, uri: str
) -> None:
    response = post_client(server, post_logout_redirect_uris=[uri])
    assert_invalid_redirect_uri(response, "post_logout_redirect_uris")


@pytest.mark.parametrize(
    "uri",
    ["http://app.example/cb", "https://good.example@evil.example/cb", "https://bücher.example/"],
)
def test_admin_api_refuses_plain_http_userinfo_and_raw_idn(
    server: AuthgateServer, uri: str
) -> None:
    response = post_client(server, grant_types=["authorization_code"], redirect_uris=[uri])
    assert_invalid_redirect_uri(response, "redirect_uris")


def test_admin_api_accepts_loopback_http_and_a_reverse_domain_scheme(
    server: AuthgateServer,
) -> None:
    uris = ["http://127.0.0.1:53682/cb", "http://localhost/cb", "com.example.app:/oauth2redirect"]
    response = post_client(server, grant_types=["authorization_code"], redirect_uris=uris)
    assert response.status_code == 201, response.text
    assert response.json()["redirect_uris"] == uris


def test_admin_api_update_refuses_a_script_redirect_uri_and_keeps_the_old_ones(
    server: AuthgateServer,
) -> None:
    client = create_client(server)
    with server.admin_client() as admin:
        path = f"/admin/clients/{client['client_id']}"
        patched = admin.patch(path, json={"redirect_uris": ["javascript://%0Aalert(1)"]})
        fetched = admin.get(path).json()
    assert_invalid_redirect_uri(patched, "redirect_uris")
    assert fetched["redirect_uris"] == [REDIRECT_URI]


def clients_create(server: AuthgateServer, *args: str) -> subprocess.CompletedProcess[str]:
    config = server.workdir / "cli.yaml"
    config.write_text(yaml.safe_dump(server.config))
    return subprocess.run(
        [sys.executable, "-m", "authgate", "clients", "create", *args, "--config", str(config)],
        cwd=server.workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_refuses_a_script_redirect_uri(server: AuthgateServer) -> None:
    result = clients_create(
        server,
        *("--client-name", "cli", "--grant-type", "authorization_code"),
        *("--token-endpoint-auth-method", "none", "--redirect-uri", "javascript://%0Aalert(1)"),
    )
    assert result.returncode != 0
    assert "redirect_uris" in result.stdout + result.stderr
    with server.admin_client() as admin:
        names = [c["client_name"] for c in admin.get("/admin/clients").json()["items"]]
    assert "cli" not in names


def test_cli_registers_a_private_key_jwt_client_by_its_jwks_uri(server: AuthgateServer) -> None:
    result = clients_create(
        server,
        *("--client-name", "keyed", "--grant-type", "client_credentials", "--json"),
        *("--token-endpoint-auth-method", "private_key_jwt"),
        *("--jwks-uri", "https://keys.example/jwks.json"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"private_key_jwt"' in result.stdout
    assert "client_secret" not in result.stdout


# -- URIs stored before the rules ---------------------------------------------------------


def store_uris(server: AuthgateServer, client_id: str, **uris: list[str]) -> None:
    """Write redirect URIs straight into the database, as an older version could have."""

    async def write() -> None:
        store = Store(server.database_url)
        try:
            async with store.transaction() as tx:
                record = await tx.clients.get(client_id)
                assert record is not None
                record.metadata = {**record.metadata, **uris}
                await tx.clients.update(record)
        finally:
            await store.close()

    asyncio.run(write())


def test_a_stored_script_redirect_uri_gets_an_error_page_not_a_redirect(
    server: AuthgateServer,
) -> None:
    client = create_client(server)
    bad = "javascript://%0Aalert(document.cookie)"
    store_uris(server, client["client_id"], redirect_uris=[REDIRECT_URI, bad])
    with Browser(server) as browser:
        response = browser.authorize(code_request(client, redirect_uri=bad))
        assert response.status_code == 400
        assert "location" not in response.headers
        still = browser.authorize(code_request(client))
    assert still.status_code == 303


def test_a_stored_script_post_logout_uri_gets_the_signed_out_page(
    server: AuthgateServer,
) -> None:
    client = create_client(
        server,
        grant_types=["authorization_code", "password"],
        post_logout_redirect_uris=[LOGOUT_URI],
    )
    bad = "javascript://%0Aalert(document.cookie)"
    store_uris(server, client["client_id"], post_logout_redirect_uris=[LOGOUT_URI, bad])
    email = unique_email("logout")
    create_user(server, email)
    with server.public_client() as http:
        login = {"username": email, "password": PASSWORD, "client_id": client["client_id"]}
        hint = http.post("/v1/login", json=login).json()["id_token"]
    with Browser(server) as browser:
        response = browser.http.get(
            "/oauth2/logout", params={"id_token_hint": hint, "post_logout_redirect_uri": bad}
        )
    assert response.status_code == 200
    assert "location" not in response.headers
    assert "You are signed out" in response.text


def test_a_client_with_a_stored_script_uri_must_be_fixed_before_other_updates(
    server: AuthgateServer,
) -> None:
    client = create_client(server)
    store_uris(server, client["client_id"], redirect_uris=["vbscript://x"])
    with server.admin_client() as admin:
        path = f"/admin/clients/{client['client_id']}"
        renamed = admin.patch(path, json={"client_name": "renamed"})
        fixed = admin.patch(path, json={"redirect_uris": [REDIRECT_URI]})
    assert_invalid_redirect_uri(renamed, "redirect_uris")
    assert fixed.status_code == 200, fixed.text
