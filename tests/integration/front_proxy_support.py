"""What the tests of a real proxy in front of authgate share: the proxy binary (absent is a
skip locally, a failure in CI), an upstream that echoes what reached it, a shipped
template with its placeholders filled in, and raw requests through the proxy."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


def route(name: str, path: str, authenticate: list[str], authorize: Any, **extra: Any) -> Any:
    """A gate route to the upstream `app`, as the proxies' tests configure it."""
    return {
        "name": name,
        "path": path,
        "upstream": "app",
        "authenticate": authenticate,
        "authorize": authorize,
        **extra,
    }


def forward_auth_gateway(upstream: str, *extra_routes: Any) -> dict[str, Any]:
    """The gate the proxies' forward-auth tests ask: a JWT route needing orders:read, an
    anonymous one, and any others; the proxy on 127.0.0.1 is trusted."""
    orders = route("orders", "/orders/**", ["jwt"], {"require": {"scopes_any": ["orders:read"]}})
    return {
        "trusted_proxies": ["127.0.0.1/32"],
        "upstreams": {"app": {"targets": [f"http://{upstream}"]}},
        "routes": [orders, *extra_routes, route("public", "/public/**", ["anonymous"], "allow")],
    }


def binary_or_skip(name: str, install: str) -> str:
    """The path of `name`; missing, a skip that says how to install it (a failure in CI,
    where .ci/run installs it)."""
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if found is None:
        message = f"{name} is not installed ({install}); .ci/run installs it"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


class Echo(BaseHTTPRequestHandler):
    """Answers every request with its method, body, path and headers, as JSON."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        received = self.rfile.read(length) if length else b""
        body = json.dumps(
            {
                "method": self.command,
                "body": received.decode("latin-1"),
                "path": self.path,
                "headers": [[k.lower(), v] for k, v in self.headers.items()],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read answers, not logs."""


@contextmanager
def echo_upstream() -> Iterator[str]:
    """An Echo server on loopback, as host:port."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def render(template: str, values: dict[str, str]) -> str:
    """The template with every @NAME@ replaced; one left over is a test error."""
    text = template
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    leftover = re.findall(r"@[A-Z_]+@", text)
    assert not leftover, f"unfilled placeholders: {leftover}"
    return text


def call(
    port: int,
    path: str,
    headers: list[tuple[str, str]] | None = None,
    method: str = "GET",
    body: bytes = b"",
) -> tuple[int, http.client.HTTPResponse, bytes]:
    """One request sent as written (http.client does no dot-segment cleanup)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers or []:
            conn.putheader(name, value)
        if body:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        response = conn.getresponse()
        return response.status, response, response.read()
    finally:
        conn.close()


def identity_seen(body: bytes) -> dict[str, list[str]]:
    """The X-Authgate-* headers (any spelling) the upstream received."""
    received: dict[str, list[str]] = {}
    for name, value in json.loads(body)["headers"]:
        if name.replace("_", "-").startswith("x-authgate-"):
            received.setdefault(name, []).append(value)
    return received


def headers_seen(body: bytes, name: str) -> list[str]:
    """Every value of one header the upstream received."""
    return [value for key, value in json.loads(body)["headers"] if key == name]


def wait_until_serving(process: subprocess.Popen[bytes], port: int, probe: str, log: Path) -> None:
    """Block until the proxy answers `probe` on `port`; its exit is a test error."""
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise AssertionError(f"the proxy exited at start:\n{log.read_text()}")
        try:
            call(port, probe)
            return
        except OSError:
            assert time.monotonic() < deadline, "the proxy did not start in time"
            time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
