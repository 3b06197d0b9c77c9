"""Which X-Request-Id a request keeps: a trusted proxy's safe one, else a new one."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from authgate.request_ids import MAX_LENGTH, RequestIds, acceptable, current_request_id

PROXY = "10.0.0.5"
TRUSTED = [ipaddress.ip_network("10.0.0.0/24")]


def scope(peer: str, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http", "client": (peer, 50000), "headers": list(headers)}


def run(peer: str, *headers: tuple[bytes, bytes]) -> tuple[list[Any], list[Any], str | None]:
    """(headers the app saw, headers of the answer, the id in the app's context)."""
    seen: dict[str, Any] = {}
    sent: list[dict[str, Any]] = []

    async def app(inner: dict[str, Any], receive: Any, send: Any) -> None:
        seen["headers"] = inner["headers"]
        seen["id"] = current_request_id.get()
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    asyncio.run(RequestIds(app, TRUSTED)(scope(peer, *headers), receive, send))
    return seen["headers"], sent[0]["headers"], seen["id"]


def test_a_trusted_proxys_id_is_the_requests() -> None:
    headers, answer, request_id = run(PROXY, (b"x-request-id", b"abc-123"))
    assert request_id == "abc-123"
    assert headers == [(b"x-request-id", b"abc-123")]
    assert answer == [(b"x-request-id", b"abc-123")]


def test_a_strangers_id_is_replaced_in_every_spelling() -> None:
    headers, answer, request_id = run(
        "192.0.2.1", (b"x-request-id", b"mine"), (b"x_request_id", b"also-mine")
    )
    assert request_id is not None and request_id not in ("mine", "also-mine")
    assert headers == [(b"x-request-id", request_id.encode())]
    assert answer == [(b"x-request-id", request_id.encode())]


def test_two_ids_from_a_trusted_proxy_are_replaced_by_one_new_one() -> None:
    headers, _, request_id = run(PROXY, (b"x-request-id", b"one"), (b"x-request-id", b"two"))
    assert request_id not in ("one", "two")
    assert len(headers) == 1


def test_the_id_is_unset_after_the_request() -> None:
    run(PROXY, (b"x-request-id", b"abc"))
    assert current_request_id.get() is None


@given(st.text(max_size=300))
def test_an_accepted_id_is_short_and_cannot_break_a_line_or_a_header(value: str) -> None:
    if acceptable(value):
        assert 0 < len(value) <= MAX_LENGTH
        assert value.isascii() and value.isprintable()
        assert not any(c in value for c in " \t\r\n\"'\\,;")


@given(st.from_regex(r"[A-Za-z0-9._:@+=/-]{1,128}", fullmatch=True))
def test_ids_proxies_make_are_accepted(value: str) -> None:
    assert acceptable(value)
