"""The webhook caller on its own, against a real receiver and a real SQLite store: strict
timeouts, bounded answers, no redirects, and notices drained or cancelled at shutdown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from authgate.audit import SYSTEM
from authgate.hooks.settings import HookEndpoint
from authgate.hooks.transport import HookCallFailed, HookTransport, Target, target
from authgate.store import Store
from authgate.store.migrate import upgrade
from tests.integration.hook_receiver import Answer, HookReceiver, running_receiver


@pytest.fixture(scope="module")
def receiver() -> Iterator[HookReceiver]:
    with running_receiver() as running:
        yield running


def hook(receiver: HookReceiver, path: str, timeout: float = 0.3) -> Target:
    endpoint = HookEndpoint(
        url=f"{receiver.url}{path}", secret=receiver.secret, timeout=timeout, on_error="deny"
    )
    return target("post_authentication", endpoint)


async def transport_on(tmp_path: Path, max_bytes: int = 1024) -> HookTransport:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'hooks.db'}")
    await upgrade(store)
    return HookTransport(store, max_response_bytes=max_bytes, retries=2, retry_backoff=0.05)


async def failure_of(transport: HookTransport, where: Target) -> str:
    try:
        await transport.call(where, {"type": "test"}, SYSTEM)
    except HookCallFailed as failed:
        return failed.outcome
    finally:
        await transport.close()
    return "ok"


def test_a_slow_hook_times_out_on_time(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.reply("/slow", Answer({}, delay=2))

    async def run() -> tuple[str, float]:
        transport = await transport_on(tmp_path)
        started = time.monotonic()
        outcome = await failure_of(transport, hook(receiver, "/slow"))
        return outcome, time.monotonic() - started

    outcome, seconds = asyncio.run(run())
    assert outcome == "timeout"
    assert seconds < 1.0  # the hook answers after 2 s; authgate stopped waiting at 0.3 s


def test_an_answer_over_the_bound_is_refused(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.reply("/big", Answer({"padding": "x" * 5000}))

    async def run() -> str:
        return await failure_of(await transport_on(tmp_path), hook(receiver, "/big"))

    assert asyncio.run(run()) == "too_large"


def test_an_answer_that_is_not_an_object_is_malformed(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    receiver.reply("/list", Answer([1, 2, 3]))

    async def run() -> str:
        return await failure_of(await transport_on(tmp_path), hook(receiver, "/list"))

    assert asyncio.run(run()) == "bad_answer"


def test_a_redirect_is_not_followed(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.reply("/moved", Answer({}, status=307))

    async def run() -> str:
        return await failure_of(await transport_on(tmp_path), hook(receiver, "/moved"))

    assert asyncio.run(run()) == "http_error"


def test_notices_still_in_flight_are_cancelled_at_shutdown(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    receiver.reply("/stuck", Answer({}, delay=3))

    async def run() -> float:
        transport = await transport_on(tmp_path)
        transport.notify(hook(receiver, "/stuck", timeout=10), {"type": "test"}, SYSTEM, None)
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await transport.close(grace=0.2)
        return time.monotonic() - started

    assert asyncio.run(run()) < 1.5


def test_a_notice_that_finishes_within_the_grace_is_delivered(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    receiver.reply("/quick", Answer({}, delay=0.2))

    async def run() -> None:
        transport = await transport_on(tmp_path)
        transport.notify(hook(receiver, "/quick"), {"type": "drained"}, SYSTEM, None)
        await transport.close(grace=2)

    asyncio.run(run())
    assert [c.payload for c in receiver.calls("/quick")] == [{"type": "drained"}]
