"""Fetching a client's jwks_uri: cached, at most one fetch per interval however it is asked,
bounded in size, no redirects followed, and nothing usable means nobody authenticates.
A real HTTP server on loopback serves the sets; the fetcher's clock is a test clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from joserfc.jwk import ECKey

from authgate.clients.keysets import MAX_BYTES, MIN_INTERVAL, KeySetFetcher, parse_key_set
from authgate.errors import InvalidClient
from tests.clock import Clock


class Host:
    """Answers each path from `routes`: (status, headers, body); counts the requests."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[str] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.requests.append(self.path)
                status, headers, body = host.routes.get(self.path, (404, {}, b""))
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def serve(self, path: str, document: Any, status: int = 200, **headers: str) -> str:
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        self.routes[path] = (status, headers, body)
        return self.base + path


@pytest.fixture
def host() -> Iterator[Host]:
    server = Host()
    yield server
    server.httpd.shutdown()


def key_set() -> dict[str, Any]:
    return {"keys": [ECKey.generate_key("P-256", private=False).as_dict()]}


async def test_a_key_set_is_fetched_once_and_served_from_the_cache(host: Host) -> None:
    url = host.serve("/jwks", key_set())
    fetcher = KeySetFetcher(Clock())
    for _ in range(5):
        assert len(await fetcher.keys(url)) == 1
    assert host.requests == ["/jwks"]


async def test_refresh_is_rate_limited_to_one_fetch_per_interval(host: Host) -> None:
    url = host.serve("/jwks", key_set())
    clock = Clock()
    fetcher = KeySetFetcher(clock)
    await fetcher.keys(url)
    for _ in range(5):
        await fetcher.keys(url, refresh=True)
    assert len(host.requests) == 1
    clock.now += MIN_INTERVAL
    await fetcher.keys(url, refresh=True)
    assert len(host.requests) == 2


async def test_a_refresh_picks_up_a_rotated_key(host: Host) -> None:
    url = host.serve("/jwks", key_set())
    clock = Clock()
    fetcher = KeySetFetcher(clock)
    first = await fetcher.keys(url)
    rotated = key_set()
    host.serve("/jwks", rotated)
    clock.now += MIN_INTERVAL
    second = await fetcher.keys(url, refresh=True)
    assert second != first
    assert second[0].jwk.key.public_numbers() == parse_key_set(rotated)[0].jwk.key.public_numbers()


async def test_an_oversized_key_set_authenticates_nobody(host: Host) -> None:
    url = host.serve("/big", b"{" + b" " * (MAX_BYTES + 1) + b"}")
    with pytest.raises(InvalidClient):
        await KeySetFetcher(Clock()).keys(url)


async def test_a_redirect_is_not_followed(host: Host) -> None:
    target = host.serve("/jwks", key_set())
    url = host.serve("/moved", b"", status=302, Location=target)
    with pytest.raises(InvalidClient):
        await KeySetFetcher(Clock()).keys(url)
    assert host.requests == ["/moved"]


@pytest.mark.parametrize(
    "document",
    [b"not json", {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, {"no": "keys"}],
    ids=["not-json", "symmetric-key", "not-a-key-set"],
)
async def test_an_unusable_key_set_authenticates_nobody(host: Host, document: Any) -> None:
    url = host.serve("/bad", document)
    with pytest.raises(InvalidClient):
        await KeySetFetcher(Clock()).keys(url)


async def test_an_error_status_authenticates_nobody(host: Host) -> None:
    url = host.serve("/gone", b"{}", status=500)
    with pytest.raises(InvalidClient):
        await KeySetFetcher(Clock()).keys(url)


async def test_an_unreachable_host_fails_within_the_timeout() -> None:
    with pytest.raises(InvalidClient):
        await KeySetFetcher(Clock(), timeout=1.0).keys("http://127.0.0.1:9/jwks")


async def test_a_failed_fetch_is_not_retried_within_the_interval(host: Host) -> None:
    url = host.serve("/flaky", b"{}", status=503)
    fetcher = KeySetFetcher(Clock())
    for _ in range(3):
        with pytest.raises(InvalidClient):
            await fetcher.keys(url)
    assert host.requests == ["/flaky"]


async def test_a_failed_refresh_keeps_the_fresh_keys(host: Host) -> None:
    url = host.serve("/jwks", key_set())
    clock = Clock()
    fetcher = KeySetFetcher(clock)
    keys = await fetcher.keys(url)
    host.serve("/jwks", b"{}", status=503)
    clock.now += MIN_INTERVAL
    assert await fetcher.keys(url, refresh=True) == keys
