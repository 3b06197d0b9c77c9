"""GateRuntime.reload in one process, against real upstream processes: what a reload keeps,
what it closes and when, and that a failed build changes nothing.

The gate is called as the ASGI app it is; the routes are anonymous, so no token service
is involved (storage does not matter here, hence no backend parameter).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any, cast

import pytest

from authgate.config import ConfigError
from authgate.gateway.authenticate import Backends
from authgate.gateway.config import GatewaySettings
from authgate.gateway.mutate import IdentitySigner
from authgate.gateway.observe import Observer
from authgate.gateway.runtime import GateRuntime
from tests.integration.upstream_app import Upstream


@pytest.fixture(scope="module")
def one(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    process = Upstream(tmp_path_factory.mktemp("one"), "one").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    process = Upstream(tmp_path_factory.mktemp("two"), "two").start()
    yield process
    process.stop()


def settings(routes: dict[str, str], upstreams: dict[str, Any]) -> GatewaySettings:
    return GatewaySettings.model_validate(
        {
            "upstreams": upstreams,
            "routes": [
                {
                    "name": name,
                    "path": f"/{name}/**",
                    "strip_prefix": f"/{name}",
                    "upstream": upstream,
                    "authenticate": ["anonymous"],
                    "authorize": "allow",
                }
                for name, upstream in routes.items()
            ],
        }
    )


def runtime(config: GatewaySettings) -> GateRuntime:
    nobody = cast(Any, None)  # anonymous routes never ask the token service
    backends = Backends(nobody, nobody, nobody, nobody, nobody, nobody)
    signer = cast(IdentitySigner, None)  # nor sign an identity
    return GateRuntime(config, backends, signer, Observer(access_log=False))


async def get(gate: GateRuntime, path: str) -> tuple[int, dict[str, Any]]:
    """One GET through the gate's ASGI interface: (status, JSON body)."""
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"gate.test")],
        "client": ("127.0.0.1", 50000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await gate(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


async def test_an_unchanged_upstream_keeps_its_pool_and_a_changed_one_gets_a_new_one(
    one: Upstream, two: Upstream
) -> None:
    gate = runtime(
        settings({"a": "a", "b": "b"}, {"a": {"targets": [one.url]}, "b": {"targets": [two.url]}})
    )
    await gate.start()
    try:
        kept, replaced = gate.pools["a"], gate.pools["b"]
        await gate.reload(
            settings(
                {"a": "a", "b": "b"},
                {
                    "a": {"targets": [one.url]},
                    "b": {"targets": [two.url], "timeouts": {"read": "5s"}},
                },
            )
        )
        assert gate.pools["a"] is kept
        assert gate.pools["b"] is not replaced
        assert (await get(gate, "/b/x"))[1]["server"] == "two"
    finally:
        await gate.aclose()


async def test_a_request_in_flight_finishes_on_the_pool_a_reload_removed(
    one: Upstream, two: Upstream
) -> None:
    gate = runtime(settings({"a": "a"}, {"a": {"targets": [one.url]}}))
    await gate.start()
    try:
        old = gate.pools["a"]
        slow = asyncio.create_task(get(gate, "/a/slow?seconds=1"))
        await asyncio.sleep(0.3)  # the request is now waiting on the upstream
        await gate.reload(settings({"a": "c"}, {"c": {"targets": [two.url]}}))
        assert (await get(gate, "/a/x"))[1]["server"] == "two"
        status, seen = await slow
        assert (status, seen["server"]) == (200, "one")
        for _ in range(100):  # the old pool closes once its last request is done
            if not old.is_open:
                break
            await asyncio.sleep(0.01)
        assert not old.is_open
    finally:
        await gate.aclose()


async def test_a_reload_that_cannot_be_built_changes_nothing(
    one: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUTHGATE_TEST_NO_SUCH_SECRET", raising=False)
    gate = runtime(settings({"a": "a"}, {"a": {"targets": [one.url]}}))
    await gate.start()
    try:
        before = gate.settings
        secret = {"username": "env:AUTHGATE_TEST_NO_SUCH_SECRET", "password": "x"}
        broken = settings({"a": "a"}, {"a": {"targets": [one.url], "basic_auth": secret}})
        with pytest.raises(ConfigError, match="gateway.upstreams.a.basic_auth.username"):
            await gate.reload(broken)
        assert gate.settings is before
        assert (await get(gate, "/a/x"))[0] == 200
    finally:
        await gate.aclose()
