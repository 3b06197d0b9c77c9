"""A real webhook receiver on loopback for the lifecycle-hook tests.

It verifies every request with standardwebhooks' own `Webhook.verify` (a request that
fails verification is recorded as such and answered 401), records what came, and answers
what the test set for the path: a JSON body, a status, a delay (to time a hook out), or
a sequence of answers (to fail a few attempts, then succeed).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.integration.harness import free_port


@dataclass
class Answer:
    body: Any = field(default_factory=dict)
    status: int = 200
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    payload: Any
    verified: bool


Reply = Answer | Callable[[Any], Answer]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class HookReceiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.received: list[Received] = []
        self._replies: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> HookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reply(self, path: str, *replies: Reply) -> None:
        """Answer `path` with these, one per request; the last one repeats."""
        with self._lock:
            self._replies[path] = list(replies)

    def calls(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls(path)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{count} calls to {path} expected, got {len(self.calls(path))}")

    def _next(self, path: str) -> Reply:
        with self._lock:
            queue = self._replies.get(path) or [Answer()]
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                    verified = True
                except WebhookVerificationError:
                    payload, verified = json.loads(body or b"null"), False
                with receiver._lock:
                    receiver.received.append(Received(self.path, headers, payload, verified))
                if not verified:
                    self._send(Answer({"error": "bad signature"}, 401))
                    return
                reply = receiver._next(self.path)
                answer = reply(payload) if callable(reply) else reply
                if answer.delay:
                    time.sleep(answer.delay)
                self._send(answer)

            def _send(self, answer: Answer) -> None:
                data = json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the caller gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler


@contextmanager
def running_receiver() -> Iterator[HookReceiver]:
    receiver = HookReceiver(new_secret()).start()
    try:
        yield receiver
    finally:
        receiver.stop()


def hooks_config(
    receiver: HookReceiver, on_error: str, timeout: float = 0.3, **extra: Any
) -> dict[str, Any]:
    """Every hook pointing at the receiver (path = the hook's name)."""
    names = (
        "pre_signup",
        "post_confirmation",
        "pre_token",
        "user_migration",
        "custom_message",
        "post_authentication",
    )
    config: dict[str, Any] = {
        name: {
            "url": f"{receiver.url}/{name}",
            "secret": receiver.secret,
            "timeout": timeout,
            "on_error": on_error,
        }
        for name in names
    }
    config.update({"retries": 3, "retry_backoff": 0.05, **extra})
    return config
