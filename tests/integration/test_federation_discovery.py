"""A provider's metadata and keys (federation/discovery.py), fetched from a provider served
on loopback by the test: cached, refetched once for an unknown kid (not more often than
every MIN_REFETCH seconds), and refused when too large or for another issuer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from authgate.federation.discovery import KEYS_TTL, MIN_REFETCH, Discovery
from authgate.federation.errors import ProviderUnavailable
from authgate.federation.settings import IdentityProvider
from tests.integration.federation_support import FakeProvider


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    yield provider
    provider.stop()


def settings(issuer: str) -> IdentityProvider:
    return IdentityProvider(name="fake", issuer=issuer, client_id="c", timeout=5)


def rotate(fake: FakeProvider, kid: str) -> None:
    fake.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fake.kid = kid


def kids(discovery: Discovery, provider: IdentityProvider, refresh: bool = False) -> list[str]:
    keys = asyncio.run(discovery.keys(provider, refresh=refresh))
    return [str(k.kid) for k in keys]


def test_keys_are_cached(fake: FakeProvider) -> None:
    clock, provider = Clock(), settings(fake.issuer)
    discovery = Discovery(clock)
    assert kids(discovery, provider) == ["fake-1"]
    rotate(fake, "fake-2")
    clock.now += KEYS_TTL - 1
    assert kids(discovery, provider) == ["fake-1"]
    clock.now += 2
    assert kids(discovery, provider) == ["fake-2"]


def test_an_unknown_kid_refetches_the_keys_but_not_within_the_minimum_interval(
    fake: FakeProvider,
) -> None:
    clock, provider = Clock(), settings(fake.issuer)
    discovery = Discovery(clock)
    assert kids(discovery, provider) == ["fake-1"]
    rotate(fake, "fake-2")
    clock.now += MIN_REFETCH - 1
    assert kids(discovery, provider, refresh=True) == ["fake-1"]
    clock.now += 2
    assert kids(discovery, provider, refresh=True) == ["fake-2"]


def test_metadata_for_another_issuer_is_refused(fake: FakeProvider) -> None:
    provider = settings(fake.issuer.replace("127.0.0.1", "localhost"))
    with pytest.raises(ProviderUnavailable, match="issuer differs"):
        asyncio.run(Discovery().metadata(provider))


def test_metadata_over_the_size_cap_is_refused(fake: FakeProvider) -> None:
    fake.padding = 70_000
    with pytest.raises(ProviderUnavailable, match="over 65536 bytes"):
        asyncio.run(Discovery().metadata(settings(fake.issuer)))


def test_a_provider_that_cannot_be_reached_is_unavailable() -> None:
    with pytest.raises(ProviderUnavailable, match="cannot be reached"):
        asyncio.run(Discovery().metadata(settings("http://127.0.0.1:9")))
