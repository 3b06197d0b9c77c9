"""The decision endpoint as the server mounts it ahead of its router: on its own, with no
Starlette app around it, it still answers every outcome itself."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from authgate.gateway.authorize import Denied
from authgate.gateway.forward_auth import DecisionEndpoint, describe, identity_headers
from authgate.gateway.mutate import SUB, HeaderPatch
from authgate.gateway.runtime import GateRuntime

ASKED = [
    (b"host", b"auth.internal"),
    (b"x-original-method", b"GET"),
    (b"x-original-uri", b"/orders/1"),
]


class Gate:
    """A pipeline that trusts 127.0.0.1 and answers each decision with `outcome`."""

    def __init__(self, outcome: HeaderPatch | Exception) -> None:
        self.outcome = outcome
        self.asked: list[Any] = []

    def trusts(self, peer: str | None) -> bool:
        return peer == "127.0.0.1"

    async def decide(self, request: Any) -> Any:
        self.asked.append(request)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return type("Decision", (), {"patch": self.outcome})()


class Runtime:
    def __init__(self, gate: Gate) -> None:
        self.pipeline = gate


async def answer(outcome: HeaderPatch | Exception, peer: str = "127.0.0.1") -> dict[str, Any]:
    gate = Gate(outcome)
    endpoint = DecisionEndpoint(describe, identity_headers).bound(cast(GateRuntime, Runtime(gate)))
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": "/_authgate/forward",
        "headers": ASKED,
        "client": (peer, 50000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await endpoint(scope, receive, send)
    start, body = sent
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return {"status": start["status"], "headers": headers, "body": body["body"], "gate": gate}


async def test_a_yes_is_an_empty_200_with_the_identity_headers() -> None:
    got = await answer(HeaderPatch({SUB: "u-1"}))
    assert got["status"] == 200
    assert got["headers"][SUB] == "u-1"
    assert got["headers"]["content-length"] == "0" and got["body"] == b""
    assert got["gate"].asked[0].raw_path == "/orders/1"


async def test_a_no_is_the_gates_refusal() -> None:
    got = await answer(Denied("not_allowed", "No."))
    assert got["status"] == 403
    assert json.loads(got["body"])["reason_id"] == "not_allowed"


async def test_an_untrusted_peer_is_refused_before_anything_is_decided() -> None:
    got = await answer(HeaderPatch(), peer="10.9.9.9")
    assert got["status"] == 403 and got["gate"].asked == []
    assert json.loads(got["body"])["reason_id"] == "untrusted_peer"


async def test_an_unexpected_error_is_a_bare_500_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    got = await answer(RuntimeError("secret detail"))
    assert got["status"] == 500
    assert json.loads(got["body"])["error"] == "server_error"
    assert b"secret detail" not in got["body"] and b"Traceback" not in got["body"]
    assert any(record.exc_info for record in caplog.records)
