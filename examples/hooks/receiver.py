"""What both example receivers share: a small threaded HTTP server that accepts only
requests signed per Standard Webhooks with the configured secret."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

MAX_BODY = 1024 * 1024

Answer = tuple[int, Any]
"""(HTTP status, JSON body)."""
Handle = Callable[[Any, dict[str, str]], Answer]
"""(the verified JSON payload, the request headers) -> the answer."""


def secret_from_environment(name: str = "HOOK_SECRET") -> str:
    """The Standard Webhooks secret (`whsec_...`) from an environment variable."""
    value = os.environ.get(name, "")
    if not value:
        raise SystemExit(f"set {name} to the hook's secret (whsec_...)")
    return value


def serve(listen: str, secret: str, handle: Handle) -> ThreadingHTTPServer:
    """A server on `listen` (HOST:PORT) answering verified POSTs with `handle`; call
    serve_forever() on it."""
    webhook = Webhook(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY:
                self._answer(413, {"error": "body too large"})
                return
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                payload = webhook.verify(body, headers)
            except (WebhookVerificationError, ValueError):
                self._answer(401, {"error": "bad signature"})
                return
            status, answer = handle(payload, headers)
            self._answer(status, answer)

        def _answer(self, status: int, answer: Any) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    host, _, port = listen.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    return server
