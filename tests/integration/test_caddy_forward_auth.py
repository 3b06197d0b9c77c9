"""A real Caddy, configured by deploy/caddy/Caddyfile, in front of a real upstream.

Caddy asks a real authgate (`/_authgate/forward`, through `forward_auth`) about every
request and passes the identity it is given on to the upstream, which answers with the
headers it received. The file under test is the shipped Caddyfile, its placeholders filled
in, behind a global block that only turns the admin endpoint and automatic HTTPS off.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.front_proxy_support import (
    binary_or_skip,
    call,
    echo_upstream,
    forward_auth_gateway,
    headers_seen,
    identity_seen,
    render,
    stop,
    wait_until_serving,
)
from tests.integration.harness import AuthgateServer, free_port
from tests.integration.oauth_support import RESOURCE_SCOPES, client_token, jose_parts, machine

CADDYFILE = Path(__file__).resolve().parents[2] / "deploy" / "caddy" / "Caddyfile"
GLOBAL = "{\n\tadmin off\n\tauto_https off\n}\n"


@pytest.fixture(scope="module")
def backend() -> str:
    """Caddy is what is tested here: one authgate backend is enough."""
    return "sqlite"


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with echo_upstream() as address:
        yield address


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory, upstream: str) -> AuthgateServer:
    return make_server(oauth={"scopes": RESOURCE_SCOPES}, gateway=forward_auth_gateway(upstream))


@dataclass(frozen=True)
class Caddy:
    port: int
    log: Path


@pytest.fixture(scope="module")
def caddy(
    gate: AuthgateServer, upstream: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Caddy]:
    binary = binary_or_skip("caddy", "apt-get install caddy")
    home = tmp_path_factory.mktemp("caddy")
    port = free_port()
    site = render(
        CADDYFILE.read_text(),
        {
            "SITE": f"http://127.0.0.1:{port}",
            "AUTHGATE": f"127.0.0.1:{gate.public_port}",
            "UPSTREAM": upstream,
        },
    )
    config = home / "Caddyfile"
    config.write_text(GLOBAL + site)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }
    command = [binary, "run", "--adapter", "caddyfile", "--config", str(config)]
    checked = subprocess.run(
        [binary, "validate", "--adapter", "caddyfile", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert checked.returncode == 0, checked.stderr
    log = home / "caddy.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(process, port, "/public/ready", log)
        yield Caddy(port, log)
    finally:
        stop(process)


def bearer(gate: AuthgateServer, scope: str) -> str:
    token: str = client_token(gate, machine(gate, scope=scope))["access_token"]
    return token


def test_no_token_is_authgates_401_with_its_challenge_and_body(caddy: Caddy) -> None:
    status, response, body = call(caddy.port, "/orders/1")
    assert status == 401
    assert (response.getheader("WWW-Authenticate") or "").startswith("Bearer")
    assert json.loads(body)["error"] == "unauthorized"


def test_a_token_without_the_scope_is_authgates_403(caddy: Caddy, gate: AuthgateServer) -> None:
    token = bearer(gate, "orders:write")
    status, _, body = call(caddy.port, "/orders/1", [("Authorization", f"Bearer {token}")])
    assert status == 403
    assert json.loads(body)["error"] == "forbidden"


def test_a_token_with_the_scope_reaches_the_upstream_with_its_identity(
    caddy: Caddy, gate: AuthgateServer
) -> None:
    client = machine(gate, scope="orders:read")
    token = client_token(gate, client)["access_token"]
    status, _, body = call(caddy.port, "/orders/1?x=1", [("Authorization", f"Bearer {token}")])
    assert status == 200, body
    assert json.loads(body)["path"] == "/orders/1?x=1"
    received = identity_seen(body)
    assert received["x-authgate-sub"] == [client["client_id"]]
    assert received["x-authgate-client"] == [client["client_id"]]
    [identity] = received["x-authgate-identity"]
    _, claims = jose_parts(identity)
    assert claims["sub"] == client["client_id"]
    assert "x-authgate-username" not in received  # a machine has none: the header is absent


def test_the_method_and_body_reach_the_upstream_as_sent(caddy: Caddy) -> None:
    status, _, body = call(caddy.port, "/public/form", method="POST", body=b"a=1&b=2")
    assert status == 200, body
    assert json.loads(body)["method"] == "POST"
    assert json.loads(body)["body"] == "a=1&b=2"


def test_the_bearer_token_stays_at_the_gate(caddy: Caddy, gate: AuthgateServer) -> None:
    token = bearer(gate, "orders:read")
    status, _, body = call(caddy.port, "/orders/1", [("Authorization", f"Bearer {token}")])
    assert status == 200, body
    assert headers_seen(body, "authorization") == []


@pytest.mark.parametrize(
    "name", ["X-Authgate-Sub", "X-Authgate_Sub", "x-authgate-identity", "X-Authgate-Other"]
)
def test_client_sent_identity_headers_never_reach_the_upstream(
    caddy: Caddy, gate: AuthgateServer, name: str
) -> None:
    token = bearer(gate, "orders:read")
    spoof = [(name, "admin")]
    status, _, body = call(caddy.port, "/orders/1", [("Authorization", f"Bearer {token}"), *spoof])
    assert status == 200, body
    assert all("admin" not in values for values in identity_seen(body).values())
    status, _, body = call(caddy.port, "/public/x", spoof)
    assert status == 200, body
    assert identity_seen(body) == {}


def test_a_client_cannot_describe_another_request(caddy: Caddy) -> None:
    described = [("X-Original-URI", "/public/x"), ("X-Original-Method", "GET")]
    status, _, body = call(caddy.port, "/orders/1", described)
    assert status == 401, body


@pytest.mark.parametrize("path", ["/orders/../public/x", "/public/../orders/1", "/public/%2e%2e/x"])
def test_path_tricks_do_not_pass(caddy: Caddy, path: str) -> None:
    status, _, body = call(caddy.port, path)
    assert status in (400, 401, 403, 404), body


@pytest.mark.parametrize(
    "name", ["X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override", "X-Method-Override"]
)
def test_headers_that_rename_the_request_never_reach_the_upstream(caddy: Caddy, name: str) -> None:
    status, _, body = call(caddy.port, "/public/x", [(name, "/orders/1")])
    assert status == 200, body
    assert headers_seen(body, name.lower()) == []


def test_authgate_cookies_never_reach_the_upstream(caddy: Caddy, gate: AuthgateServer) -> None:
    cookie = "theme=dark; authgate_session=sso; __Host-authgate_csrf=c; lang=en-GB"
    status, _, body = call(caddy.port, "/public/x", [("Cookie", cookie)])
    assert status == 200, body
    assert headers_seen(body, "cookie") == ["theme=dark; lang=en-GB"]
    token = bearer(gate, "orders:read")
    signed = [("Authorization", f"Bearer {token}"), ("Cookie", cookie)]
    status, _, body = call(caddy.port, "/orders/1", signed)
    assert status == 200, body
    assert headers_seen(body, "cookie") == ["theme=dark; lang=en-GB"]


def test_a_cookie_header_of_authgate_cookies_only_is_not_sent_upstream(caddy: Caddy) -> None:
    status, _, body = call(caddy.port, "/public/x", [("Cookie", "authgate_session=sso")])
    assert status == 200, body
    assert headers_seen(body, "cookie") == []


def test_other_cookies_reach_the_upstream_as_sent(caddy: Caddy) -> None:
    status, _, body = call(caddy.port, "/public/x", [("Cookie", "theme=dark; lang=en-GB")])
    assert status == 200, body
    assert headers_seen(body, "cookie") == ["theme=dark; lang=en-GB"]
