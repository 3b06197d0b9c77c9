"""The real server's output when it is no terminal (a container, a service manager, a pipe):
every line any logger writes, authgate's, uvicorn's and the access log, is one JSON object.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.harness import AuthgateServer, free_port

SECRET_QUERY = "access_token=query-secret-3f9a"


def gated(dead_port: int) -> dict[str, Any]:
    return {
        "gateway": {
            "upstreams": {"gone": {"targets": [f"http://127.0.0.1:{dead_port}"]}},
            "routes": [
                {
                    "name": "open",
                    "path": "/open/**",
                    "upstream": "gone",
                    "authenticate": ["anonymous"],
                    "authorize": "allow",
                }
            ],
        }
    }


def run_traffic(server: AuthgateServer) -> None:
    """Requests that make each part log: the gate (an upstream that is down), uvicorn (a
    request that is not HTTP), and the start and stop of the server itself."""
    with server.public_client() as client:
        assert client.get(f"/open/thing?{SECRET_QUERY}").status_code in (502, 503)
        assert client.get("/no-route-here").status_code == 404
    with socket.create_connection(("127.0.0.1", server.public_port), timeout=5) as raw:
        raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        raw.recv(1024)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if '"/no-route-here"' in server.log.read_text():
            break
        time.sleep(0.1)


def served(workdir: Path, overrides: dict[str, Any]) -> tuple[AuthgateServer, str]:
    server = AuthgateServer(workdir, f"sqlite+aiosqlite:///{workdir / 'authgate.db'}", overrides)
    server.start()
    try:
        run_traffic(server)
    finally:
        server.stop()
    return server, server.log.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def json_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AuthgateServer, str]]:
    """A server with no `logging` settings at all, its output going to a file."""
    yield served(tmp_path_factory.mktemp("json-log"), gated(free_port()))


def entries(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines()]


def test_every_line_the_server_writes_is_one_json_object(json_run: tuple[Any, str]) -> None:
    _, output = json_run
    lines = output.splitlines()

    assert len(lines) > 3
    for line in lines:
        entry = json.loads(line)
        assert isinstance(entry, dict), line
        assert {"time", "level", "logger", "message"} <= set(entry), line


def test_uvicorns_lines_are_json_too(json_run: tuple[Any, str]) -> None:
    loggers = {entry["logger"] for entry in entries(json_run[1])}

    assert any(name.startswith("uvicorn") for name in loggers), loggers
    assert {"authgate", "authgate.access"} <= loggers


def test_the_access_log_gives_the_request_as_fields(json_run: tuple[Any, str]) -> None:
    access = [e for e in entries(json_run[1]) if e["logger"] == "authgate.access"]

    (gone,) = [e for e in access if e["path"] == "/open/thing"]
    assert gone["route"] == "open"
    assert gone["status"] in (502, 503)
    assert gone["method"] == "GET"
    assert {"subject", "client", "peer", "total_ms", "upstream_target"} <= set(gone)
    assert [e["status"] for e in access if e["path"] == "/no-route-here"] == [404]


def test_nothing_secret_is_written(json_run: tuple[AuthgateServer, str]) -> None:
    server, output = json_run

    assert server.admin_token not in output
    assert SECRET_QUERY not in output
    (kek,) = [(server.data_dir / "kek").read_text().strip()]
    assert kek not in output


def test_the_generated_admin_token_is_announced_by_where_it_is(
    json_run: tuple[AuthgateServer, str],
) -> None:
    server, output = json_run
    (told,) = [e for e in entries(output) if "admin token" in e["message"]]

    assert str(server.data_dir / "admin-token") in told["message"]


def test_logging_format_text_writes_plain_lines(tmp_path: Path) -> None:
    overrides = {**gated(free_port()), "logging": {"format": "text"}}

    _, output = served(tmp_path, overrides)

    access = [line for line in output.splitlines() if line.startswith("INFO authgate.access: ")]
    assert any('"path":"/open/thing"' in line for line in access), output
    with pytest.raises(json.JSONDecodeError):
        json.loads(output.splitlines()[0])


def serve_fails(workdir: Path, config: dict[str, Any]) -> list[str]:
    path = workdir / "authgate.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHGATE_")}
    result = subprocess.run(
        [sys.executable, "-m", "authgate", "serve", "--config", str(path)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    return result.stderr.splitlines()


def test_a_start_that_fails_on_a_taken_port_says_so_in_json(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = {
            "data_dir": str(tmp_path),
            "admin": {"listen": f"127.0.0.1:{port}"},
            # Not the default port, which another worker's server may hold: then the start
            # would fail on that one first and name it instead.
            "public": {"listen": f"127.0.0.1:{free_port()}"},
        }
        lines = serve_fails(tmp_path, config)

    problems = [json.loads(line) for line in lines]
    assert any(f"127.0.0.1:{port}" in p["message"] and p["level"] == "ERROR" for p in problems)


def test_a_configuration_error_at_start_is_a_json_line_naming_the_key(tmp_path: Path) -> None:
    lines = serve_fails(tmp_path, {"data_dir": str(tmp_path), "public": {"listen": "nowhere"}})

    (problem,) = [json.loads(line) for line in lines]
    assert "public.listen" in problem["message"]
    assert str(tmp_path / "authgate.yaml") in problem["message"]
