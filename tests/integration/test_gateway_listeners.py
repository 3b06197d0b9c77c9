"""Listeners: the gate on its own (TLS) listener, TLS on public/admin, and start errors.

Which listener serves what does not depend on the storage backend, so these run on SQLite
only. The certificates come from `authgate dev-cert`'s own code; clients trust exactly that
file, as a user would with `curl --cacert`.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from authgate.cli.devcert import DevCert, write_dev_cert
from tests.integration.harness import AuthgateServer, deep_merge, free_port
from tests.integration.upstream_app import Upstream

ANONYMOUS = {"authenticate": ["anonymous"], "authorize": "allow"}


def trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def wait_until_answering(url: str, verify: ssl.SSLContext | bool = True) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1, verify=verify).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer in time")


def gateway(upstream: str, listen: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "upstreams": {"echo": {"targets": [upstream]}},
        "routes": [
            {"name": "open", "path": "/open/**", "upstream": "echo", **ANONYMOUS},
            {
                "name": "closed",
                "path": "/closed",
                "upstream": "echo",
                "authenticate": ["anonymous"],
                "authorize": "deny",
            },
        ],
    }
    if listen is not None:
        config["listen"] = listen
    return config


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> DevCert:
    return write_dev_cert(tmp_path_factory.mktemp("tls"), [], 2, force=False)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    server = Upstream(tmp_path_factory.mktemp("upstream"), "echo").start()
    yield server
    server.stop()


def sqlite_server(workdir: Path, overrides: dict[str, Any]) -> AuthgateServer:
    return AuthgateServer(workdir, f"sqlite+aiosqlite:///{workdir / 'authgate.db'}", overrides)


@pytest.fixture(scope="module")
def gated(
    tmp_path_factory: pytest.TempPathFactory, pair: DevCert, upstream: Upstream
) -> Iterator[tuple[AuthgateServer, str]]:
    """A server whose gate has a TLS listener of its own (public and admin stay plain)."""
    port = free_port()
    tls = {"cert": str(pair.cert), "key": str(pair.key)}
    listen = [{"listen": f"127.0.0.1:{port}", "tls": tls}]
    server = sqlite_server(
        tmp_path_factory.mktemp("gated"), {"gateway": gateway(upstream.url, listen)}
    ).start()
    url = f"https://127.0.0.1:{port}"
    wait_until_answering(url, trusting(pair.cert))
    yield server, url
    server.stop()


def test_the_gate_listener_answers_over_https_for_a_client_trusting_the_dev_cert(
    gated: tuple[AuthgateServer, str], pair: DevCert
) -> None:
    _, url = gated
    response = httpx.get(f"{url}/open/thing?x=1", verify=trusting(pair.cert))
    assert response.status_code == 200
    seen = response.json()
    assert (seen["server"], seen["path"], seen["query"]) == ("echo", "/open/thing", "x=1")


def test_the_gate_tells_the_upstream_the_request_came_over_https(
    gated: tuple[AuthgateServer, str], pair: DevCert
) -> None:
    _, url = gated
    seen = httpx.get(f"{url}/open/thing", verify=trusting(pair.cert)).json()
    assert ["x-forwarded-proto", "https"] in seen["headers"]


def test_the_gate_listener_serves_authgate_paths_first(
    gated: tuple[AuthgateServer, str], pair: DevCert
) -> None:
    _, url = gated
    response = httpx.get(f"{url}/.well-known/jwks.json", verify=trusting(pair.cert))
    assert response.status_code == 200
    assert response.json()["keys"]


def test_the_gate_listener_applies_the_routes_authorization(
    gated: tuple[AuthgateServer, str], pair: DevCert
) -> None:
    _, url = gated
    assert httpx.get(f"{url}/closed", verify=trusting(pair.cert)).status_code == 403


def test_a_client_that_does_not_trust_the_dev_cert_cannot_connect(
    gated: tuple[AuthgateServer, str],
) -> None:
    _, url = gated
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{url}/healthz", verify=ssl.create_default_context())


def test_plain_http_to_the_tls_port_gets_no_http_answer(gated: tuple[AuthgateServer, str]) -> None:
    _, url = gated
    with pytest.raises(httpx.TransportError):
        httpx.get(url.replace("https://", "http://") + "/healthz", timeout=5)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_a_client_limited_to_tls_1_1_is_refused(
    gated: tuple[AuthgateServer, str], pair: DevCert
) -> None:
    _, url = gated
    old = trusting(pair.cert)
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # the client would; only the server refuses
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz", verify=old)


def test_a_tls_1_2_client_is_served(gated: tuple[AuthgateServer, str], pair: DevCert) -> None:
    _, url = gated
    tls12 = trusting(pair.cert)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    assert httpx.get(f"{url}/healthz", verify=tls12).status_code == 200


def test_with_gate_listeners_the_public_listener_404s_routed_paths(
    gated: tuple[AuthgateServer, str],
) -> None:
    server, _ = gated
    response = httpx.get(f"{server.public}/open/thing")
    assert response.status_code == 404


def test_with_gate_listeners_the_public_listener_still_serves_authgate(
    gated: tuple[AuthgateServer, str],
) -> None:
    server, _ = gated
    assert httpx.get(f"{server.public}/.well-known/jwks.json").status_code == 200


def test_without_gate_listeners_the_public_listener_serves_the_gate(
    tmp_path: Path, upstream: Upstream
) -> None:
    server = sqlite_server(tmp_path, {"gateway": gateway(upstream.url)}).start()
    try:
        response = httpx.get(f"{server.public}/open/thing")
        assert response.status_code == 200
        assert response.json()["server"] == "echo"
    finally:
        server.stop()


def test_public_and_admin_listeners_take_tls_too(tmp_path: Path, pair: DevCert) -> None:
    tls = {"cert": str(pair.cert), "key": str(pair.key)}
    server = sqlite_server(tmp_path, {"public": {"tls": tls}, "admin": {"tls": tls}})
    process = spawn(server)
    try:
        public = f"https://127.0.0.1:{server.public_port}"
        admin = f"https://127.0.0.1:{server.admin_port}"
        wait_until_answering(public, trusting(pair.cert))
        wait_until_answering(admin, trusting(pair.cert))
        token = server.admin_token
        keys = httpx.get(
            f"{admin}/admin/keys",
            headers={"Authorization": f"Bearer {token}"},
            verify=trusting(pair.cert),
        )
        assert keys.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=15)


def spawn(server: AuthgateServer) -> subprocess.Popen[bytes]:
    """`authgate serve` with the server's config, without the harness's plain-HTTP wait."""
    server.workdir.mkdir(parents=True, exist_ok=True)
    config = server.workdir / "authgate.yaml"
    config.write_text(yaml.safe_dump(server.config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHGATE_")}
    with server.log.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "authgate", "serve", "--config", str(config)],
            cwd=server.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def serve_fails(tmp_path: Path, overrides: dict[str, Any]) -> str:
    """Start `authgate serve` with `overrides`; it must exit 1 at once. Returns its stderr."""
    server = sqlite_server(tmp_path, {})
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "authgate.yaml"
    config.write_text(yaml.safe_dump(deep_merge(server.config, overrides)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHGATE_")}
    result = subprocess.run(
        [sys.executable, "-m", "authgate", "serve", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert not (tmp_path / "authgate.db").exists(), "start went past the listeners"
    return result.stderr


def gate_listener(cert: Path | str, key: Path | str) -> dict[str, Any]:
    tls = {"cert": str(cert), "key": str(key)}
    return {"gateway": {"listen": [{"listen": f"127.0.0.1:{free_port()}", "tls": tls}]}}


def test_a_missing_certificate_stops_start_naming_the_key_and_the_file(
    tmp_path: Path, pair: DevCert
) -> None:
    missing = tmp_path / "nowhere" / "cert.pem"
    stderr = serve_fails(tmp_path, gate_listener(missing, pair.key))
    assert f"gateway.listen[0].tls.cert: cannot read {missing}: No such file" in stderr


def test_an_unreadable_key_stops_start_naming_the_key_and_the_file(
    tmp_path: Path, pair: DevCert
) -> None:
    stderr = serve_fails(tmp_path, gate_listener(pair.cert, tmp_path))
    assert f"gateway.listen[0].tls.key: cannot read {tmp_path}:" in stderr


def test_a_file_that_is_not_a_certificate_stops_start(tmp_path: Path, pair: DevCert) -> None:
    stderr = serve_fails(tmp_path, gate_listener(pair.key, pair.key))
    assert f"gateway.listen[0].tls.cert: {pair.key} is not a PEM certificate" in stderr


def test_a_key_that_does_not_fit_the_certificate_stops_start(tmp_path: Path, pair: DevCert) -> None:
    other = write_dev_cert(tmp_path / "other", [], 2, force=False)
    stderr = serve_fails(tmp_path, gate_listener(pair.cert, other.key))
    assert f"gateway.listen[0].tls: the key {other.key} does not fit" in stderr


def test_every_tls_problem_is_reported_at_once(tmp_path: Path, pair: DevCert) -> None:
    missing = tmp_path / "missing.pem"
    overrides = deep_merge(
        gate_listener(pair.cert, missing),
        {"public": {"tls": {"cert": str(missing), "key": str(pair.key)}}},
    )
    stderr = serve_fails(tmp_path, overrides)
    assert f"public.tls.cert: cannot read {missing}" in stderr
    assert f"gateway.listen[0].tls.key: cannot read {missing}" in stderr


def test_a_taken_gate_listener_address_stops_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        overrides = {"gateway": {"listen": [{"listen": f"127.0.0.1:{port}"}]}}
        stderr = serve_fails(tmp_path, overrides)
    assert f"cannot listen on 127.0.0.1:{port}" in stderr


def test_config_check_reports_tls_problems_too(tmp_path: Path, pair: DevCert) -> None:
    missing = tmp_path / "missing.pem"
    config = tmp_path / "authgate.yaml"
    overrides = {"admin": {"tls": {"cert": str(pair.cert), "key": str(missing)}}}
    config.write_text(yaml.safe_dump(overrides))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHGATE_")}
    result = subprocess.run(
        [sys.executable, "-m", "authgate", "config", "check", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"admin.tls.key: cannot read {missing}: No such file" in result.stderr


@pytest.fixture
def renewable(tmp_path: Path, upstream: Upstream) -> Iterator[tuple[AuthgateServer, str, Path]]:
    """A server whose TLS gate listener uses a pair in a directory the test may rewrite."""
    directory = tmp_path / "tls"
    made = write_dev_cert(directory, [], 2, force=False)
    port = free_port()
    tls = {"cert": str(made.cert), "key": str(made.key)}
    listen = [{"listen": f"127.0.0.1:{port}", "tls": tls}]
    server = sqlite_server(tmp_path / "srv", {"gateway": gateway(upstream.url, listen)}).start()
    url = f"https://127.0.0.1:{port}"
    wait_until_answering(url, trusting(made.cert))
    yield server, url, directory
    server.stop()


def test_a_reload_picks_up_a_renewed_certificate(
    renewable: tuple[AuthgateServer, str, Path], tmp_path: Path
) -> None:
    server, url, directory = renewable
    old = tmp_path / "old-cert.pem"
    old.write_bytes((directory / "cert.pem").read_bytes())
    write_dev_cert(directory, [], 2, force=True)
    with server.admin_client() as admin:
        assert admin.post("/admin/gateway/reload").status_code == 200
    fresh = httpx.get(f"{url}/healthz", verify=trusting(directory / "cert.pem"))
    assert fresh.status_code == 200
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{url}/healthz", verify=trusting(old))


def test_a_reload_with_a_broken_certificate_is_refused_and_the_old_one_serves(
    renewable: tuple[AuthgateServer, str, Path], tmp_path: Path
) -> None:
    server, url, directory = renewable
    kept = tmp_path / "kept-cert.pem"
    kept.write_bytes((directory / "cert.pem").read_bytes())
    (directory / "cert.pem").write_text("not a certificate\n")
    with server.admin_client() as admin:
        response = admin.post("/admin/gateway/reload")
    assert response.status_code == 400
    assert any(
        f"gateway.listen[0].tls.cert: {directory / 'cert.pem'} is not a PEM certificate" in p
        for p in response.json()["problems"]
    ), response.json()
    assert httpx.get(f"{url}/healthz", verify=trusting(kept)).status_code == 200


def test_a_large_upload_over_tls_streams_whole_and_keeps_the_connection(
    gated: tuple[AuthgateServer, str], pair: DevCert
) -> None:
    _, url = gated
    body = os.urandom(3 * 1024 * 1024)

    answer = httpx.post(f"{url}/open/upload", content=body, verify=trusting(pair.cert))

    assert answer.json()["body_bytes"] == len(body)
    assert "connection" not in answer.headers
