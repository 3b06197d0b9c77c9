"""A real nginx, configured by deploy/nginx/authgate.conf, in front of a real upstream.

nginx asks a real authgate (`/_authgate/forward`, through `auth_request`) about every
request and passes the identity it is given on to the upstream, a tiny HTTP server that
answers with the `X-Authgate-*` headers it received. The file under test is the shipped
template itself, with only its placeholders filled in.
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
    route,
    stop,
    wait_until_serving,
)
from tests.integration.harness import AuthgateServer, free_port
from tests.integration.oauth_support import RESOURCE_SCOPES, client_token, jose_parts, machine

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "authgate.conf"
IDENTITY_HEADERS = (
    "x-authgate-sub",
    "x-authgate-username",
    "x-authgate-groups",
    "x-authgate-scopes",
    "x-authgate-client",
    "x-authgate-identity",
)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with echo_upstream() as address:
        yield address


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory, upstream: str) -> AuthgateServer:
    admin = route("admin", "/admin/**", ["jwt"], {"require": {"groups_any": ["admin"]}})
    gateway = forward_auth_gateway(upstream, admin)
    return make_server(oauth={"scopes": RESOURCE_SCOPES}, gateway=gateway)


@dataclass(frozen=True)
class Nginx:
    port: int
    prefix: Path


@pytest.fixture(scope="module", params=["off", "on"], ids=["underscores_off", "underscores_on"])
def nginx(
    request: pytest.FixtureRequest,
    gate: AuthgateServer,
    upstream: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Nginx]:
    """nginx run from the shipped template; also with `underscores_in_headers on`, which
    lets `X-Authgate_Sub` in, for the template's clearing of that spelling to be seen."""
    binary = binary_or_skip("nginx", "apt-get install nginx-light")
    prefix = tmp_path_factory.mktemp("nginx")
    port = free_port()
    site = render(
        TEMPLATE.read_text(),
        {
            "LISTEN": f"127.0.0.1:{port}",
            "SERVER_NAME": "_",
            "UPSTREAM": upstream,
            "AUTHGATE": f"127.0.0.1:{gate.public_port}",
            "CACHE_DIR": str(prefix / "cache"),
        },
    )
    site = site.replace("underscores_in_headers off;", f"underscores_in_headers {request.param};")
    assert f"underscores_in_headers {request.param};" in site
    (prefix / "authgate.conf").write_text(site)
    temp = "".join(
        f"{kind}_temp_path {prefix / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = (
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} info;\n"
        + "worker_processes 1;\nevents { worker_connections 64; }\n"
        + f"http {{\naccess_log {prefix / 'access.log'};\n{temp}"
        + f"include {prefix / 'authgate.conf'};\n}}\n"
    )
    conf = prefix / "nginx.conf"
    conf.write_text(main)
    command = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    log = prefix / "stderr.log"
    with log.open("wb") as output:
        process = subprocess.Popen([*command, "-g", "daemon off;"], stderr=output)
    try:
        wait_until_serving(process, port, "/public/ready", log)
        yield Nginx(port, prefix)
    finally:
        stop(process)


def bearer(gate: AuthgateServer, scope: str) -> str:
    client = machine(gate, scope=scope)
    token: str = client_token(gate, client)["access_token"]
    return token


def test_no_token_is_401_with_a_bearer_challenge(nginx: Nginx) -> None:
    status, response, _ = call(nginx.port, "/orders/1")
    assert status == 401
    assert (response.getheader("WWW-Authenticate") or "").startswith("Bearer")


def test_token_with_the_scope_reaches_the_upstream_with_its_identity(
    nginx: Nginx, gate: AuthgateServer
) -> None:
    client = machine(gate, scope="orders:read")
    token = client_token(gate, client)["access_token"]
    status, _, body = call(nginx.port, "/orders/1", [("Authorization", f"Bearer {token}")])
    assert status == 200, body
    received = identity_seen(body)
    assert received["x-authgate-sub"] == [client["client_id"]]
    assert received["x-authgate-client"] == [client["client_id"]]
    [identity] = received["x-authgate-identity"]
    header, claims = jose_parts(identity)
    assert header["alg"] and claims["sub"] == client["client_id"]
    assert "authorization" not in dict(json.loads(body)["headers"])


def test_token_without_the_scope_is_403(nginx: Nginx, gate: AuthgateServer) -> None:
    token = bearer(gate, "orders:write")
    status, _, _ = call(nginx.port, "/orders/1", [("Authorization", f"Bearer {token}")])
    assert status == 403


def test_the_cached_decision_is_per_authorization_header(
    nginx: Nginx, gate: AuthgateServer
) -> None:
    allowed, refused = bearer(gate, "orders:read"), bearer(gate, "orders:write")
    for _ in range(2):
        assert call(nginx.port, "/orders/7", [("Authorization", f"Bearer {allowed}")])[0] == 200
        assert call(nginx.port, "/orders/7", [("Authorization", f"Bearer {refused}")])[0] == 403
        assert call(nginx.port, "/orders/7")[0] == 401
    assert any(entry.is_file() for entry in (nginx.prefix / "cache").rglob("*"))


@pytest.mark.parametrize("name", ["X-Authgate-Sub", "X-Authgate_Sub", "x-authgate-identity"])
def test_client_sent_identity_headers_never_reach_the_upstream(
    nginx: Nginx, gate: AuthgateServer, name: str
) -> None:
    token = bearer(gate, "orders:read")
    spoof = [(name, "admin")]
    status, _, body = call(nginx.port, "/orders/1", [("Authorization", f"Bearer {token}"), *spoof])
    assert status == 200, body
    assert all("admin" not in values for values in identity_seen(body).values())
    status, _, body = call(nginx.port, "/public/x", spoof)
    assert status == 200, body
    assert identity_seen(body) == {}


@pytest.mark.parametrize(
    "path",
    ["/orders/../admin/x", "/public/../admin/x", "/public/%2e%2e/admin", "/public/%00/../x"],
)
def test_path_tricks_do_not_reach_a_protected_route(nginx: Nginx, path: str) -> None:
    status, _, body = call(nginx.port, path)
    assert status != 200, body
    assert status in (400, 401, 403, 404, 500)


def test_the_anonymous_route_passes_without_identity(nginx: Nginx) -> None:
    status, _, body = call(nginx.port, "/public/hello?x=1")
    assert status == 200, body
    assert json.loads(body)["path"] == "/public/hello?x=1"
    assert identity_seen(body) == {}


@pytest.mark.parametrize(
    "name", ["X-Original-URL", "X-Rewrite-URL", "X-Original-URI", "X-HTTP-Method-Override"]
)
def test_headers_that_rename_the_request_never_reach_the_upstream(nginx: Nginx, name: str) -> None:
    status, _, body = call(nginx.port, "/public/x", [(name, "/admin/x")])
    assert status == 200, body
    received = {header for header, _ in json.loads(body)["headers"]}
    assert name.lower() not in received


def cookies_seen(body: bytes) -> list[str]:
    return headers_seen(body, "cookie")


def test_authgate_cookies_never_reach_the_upstream(nginx: Nginx, gate: AuthgateServer) -> None:
    cookie = "theme=dark; authgate_session=sso; __Host-authgate_csrf=c; lang=en-GB"
    status, _, body = call(nginx.port, "/public/x", [("Cookie", cookie)])
    assert status == 200, body
    assert cookies_seen(body) == ["theme=dark; lang=en-GB"]
    token = bearer(gate, "orders:read")
    signed = [("Authorization", f"Bearer {token}"), ("Cookie", cookie)]
    for _ in range(2):  # the second answer comes from nginx's decision cache
        status, _, body = call(nginx.port, "/orders/1", signed)
        assert status == 200, body
        assert cookies_seen(body) == ["theme=dark; lang=en-GB"]


def test_a_cookie_header_of_authgate_cookies_only_is_not_sent_upstream(nginx: Nginx) -> None:
    status, _, body = call(nginx.port, "/public/x", [("Cookie", "authgate_session=sso")])
    assert status == 200, body
    assert cookies_seen(body) == []


def test_other_cookies_reach_the_upstream_as_sent(nginx: Nginx) -> None:
    status, _, body = call(nginx.port, "/public/x", [("Cookie", "theme=dark; lang=en-GB")])
    assert status == 200, body
    assert cookies_seen(body) == ["theme=dark; lang=en-GB"]


def test_the_upstream_gets_nginx_request_id_not_the_clients(
    nginx: Nginx, gate: AuthgateServer
) -> None:
    token = bearer(gate, "orders:read")
    sent = [("Authorization", f"Bearer {token}"), ("X-Request-Id", "chosen-by-the-client")]
    status, _, body = call(nginx.port, "/orders/1", sent)
    assert status == 200, body
    [request_id] = headers_seen(body, "x-request-id")
    assert request_id != "chosen-by-the-client"
    assert len(request_id) == 32 and int(request_id, 16) >= 0  # nginx's $request_id
