"""A small real upstream for the gate's tests, run as its own process on a loopback port.

`python -m tests.integration.upstream_app --port P --id NAME --flag FILE` serves:

- any path: JSON of what arrived (server id, method, raw path, query, headers in order,
  body byte count);
- `/_ready`: 200, for the harness to know it is up;
- `/health`: 200, or 503 while the flag file exists;
- `/slow?seconds=S`: answers after S seconds;
- `/stream?bytes=N`: N bytes of a known pattern, streamed without a Content-Length;
- `/upload`: reads the body as a stream and answers its byte count and sha256;
- `/hop`: an answer carrying hop-by-hop headers (and one named by Connection);
- `/set-cookie`: an answer setting authgate's own cookies (and one other);
- `/abort`: announces a long body, sends a little, then drops the connection;
- any path as a WebSocket: first a JSON text of what arrived, then an echo of every
  message (`close:CODE` closes with CODE).

`Upstream` runs one such process; `GarbageServer` is a TCP listener that answers anything
with bytes that are not HTTP, for the 502 path.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx

from tests.ports import free_port

CHUNK = 64 * 1024
PATTERN = bytes(range(256)) * (CHUNK // 256)
ROOT = Path(__file__).resolve().parents[2]


def pattern_bytes(count: int) -> bytes:
    """The first `count` bytes of what `/stream?bytes=` sends (for small checks)."""
    whole, rest = divmod(count, CHUNK)
    return PATTERN * whole + PATTERN[:rest]


def _json(status: int, body: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    return status, headers, data


def make_app(server_id: str, flag: Path | None) -> Any:
    async def read_body(receive: Any) -> tuple[int, str]:
        digest = hashlib.sha256()
        count = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ConnectionError("client went away")
            chunk = message.get("body", b"")
            digest.update(chunk)
            count += len(chunk)
            if not message.get("more_body", False):
                return count, digest.hexdigest()

    async def websocket(scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Says what arrived, then echoes; the text `close:CODE` closes with CODE."""
        await receive()  # websocket.connect
        offered = scope.get("subprotocols") or []
        await send({"type": "websocket.accept", "subprotocol": offered[0] if offered else None})
        seen = {
            "server": server_id,
            "path": (scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
            "query": scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        }
        await send({"type": "websocket.send", "text": json.dumps(seen)})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is not None and text.startswith("close:"):
                await send({"type": "websocket.close", "code": int(text[6:])})
                return
            await send({"type": "websocket.send", "text": text, "bytes": message.get("bytes")})

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        query = parse_qs(scope["query_string"].decode("latin-1"))

        async def answer(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        if path == "/_ready":
            await answer(*_json(200, {"server": server_id}))
        elif path == "/health":
            healthy = flag is None or not flag.exists()
            await answer(*_json(200 if healthy else 503, {"server": server_id}))
        elif path == "/stream":
            remaining = int(query["bytes"][0])
            await send({"type": "http.response.start", "status": 200, "headers": []})
            while remaining > 0:
                piece = PATTERN[: min(CHUNK, remaining)]
                remaining -= len(piece)
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/upload":
            count, sha = await read_body(receive)
            await answer(*_json(200, {"server": server_id, "bytes": count, "sha256": sha}))
        elif path == "/hop":
            headers = [
                (b"connection", b"X-Upstream-Secret"),
                (b"x-upstream-secret", b"1"),
                (b"keep-alive", b"timeout=5"),
                (b"proxy-authenticate", b'Basic realm="upstream"'),
                (b"trailer", b"X-Checksum"),
                (b"upgrade", b"h2c"),
                (b"x-kept", b"yes"),
                (b"content-length", b"2"),
            ]
            await answer(200, headers, b"ok")
        elif path == "/set-cookie":
            # An upstream that tries to plant authgate's own cookies in the browser.
            headers = [
                (b"set-cookie", b"authgate_session=planted; Path=/; HttpOnly"),
                (b"set-cookie", b"theme=dark; Path=/"),
                (b"set-cookie", b"__Host-authgate_csrf=known; Path=/; Secure"),
                (b"set-cookie", b" AUTHGATE_CSRF =known"),
                (b"content-length", b"2"),
            ]
            await answer(200, headers, b"ok")
        elif path.endswith("/cors"):
            # An upstream with permissive CORS of its own, which a CORS route replaces.
            headers = [(b"access-control-allow-origin", b"*"), (b"content-length", b"2")]
            await answer(200, headers, b"ok")
        elif path == "/abort":
            start = {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"1000000")],
            }
            await send(start)
            await send({"type": "http.response.body", "body": b"x" * 1000, "more_body": True})
            raise RuntimeError("dropping the connection on purpose")
        else:
            if path == "/slow":
                await asyncio.sleep(float(query.get("seconds", ["1"])[0]))
            count, _ = await read_body(receive)
            raw_path = scope.get("raw_path") or path.encode()
            seen = {
                "server": server_id,
                "method": scope["method"],
                "path": raw_path.decode("latin-1"),
                "query": scope["query_string"].decode("latin-1"),
                "headers": [
                    [k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]
                ],
                "body_bytes": count,
            }
            await answer(*_json(200, seen))

    return app


class Upstream:
    """One upstream_app process; `start()` returns once it answers."""

    def __init__(
        self,
        workdir: Path,
        server_id: str,
        port: int | None = None,
        host: str = "127.0.0.1",
        keep_alive: int = 5,
    ) -> None:
        self.workdir = workdir
        self.server_id = server_id
        self.host = host
        self.keep_alive = keep_alive
        self.port = port or free_port()
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"
        self.flag = workdir / f"{server_id}.unhealthy"
        self.log = workdir / f"{server_id}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Upstream:
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "tests.integration.upstream_app",
            "--port",
            str(self.port),
            "--host",
            self.host,
            "--keep-alive",
            str(self.keep_alive),
            "--id",
            self.server_id,
            "--flag",
            str(self.flag),
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ)
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"upstream {self.server_id} exited:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/_ready", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"upstream {self.server_id} did not start:\n{self.log.read_text()}")

    def set_healthy(self, healthy: bool) -> None:
        if healthy:
            self.flag.unlink(missing_ok=True)
        else:
            self.flag.touch()

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        self._end(signal.SIGKILL)

    def _end(self, sig: signal.Signals) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class GarbageServer:
    """Accepts connections on loopback and answers each with bytes that are not HTTP."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> GarbageServer:
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(b"THIS IS NOT HTTP\r\n\x00\x01\r\n\r\n")
                except OSError:
                    pass

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._sock.close()


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--keep-alive", type=int, default=5)
    parser.add_argument("--id", required=True)
    parser.add_argument("--flag", type=Path)
    args = parser.parse_args()
    uvicorn.run(
        make_app(args.id, args.flag),
        host=args.host,
        port=args.port,
        timeout_keep_alive=args.keep_alive,
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
