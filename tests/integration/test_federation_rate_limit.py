"""Starting a sign-in with another provider stores a pending transaction, so the starts
from one client IP are limited (`throttle.federation_per_ip`)."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.federation_support import FakeProvider, Person
from tests.integration.harness import AuthgateServer


@pytest.fixture(scope="module")
def ours(make_server: ServerFactory, fake: FakeProvider) -> AuthgateServer:
    provider = {
        "name": "fake",
        "issuer": fake.issuer,
        "client_id": "fake-client",
        "client_secret": "fake-secret",
    }
    return make_server(
        identity_providers=[provider],
        throttle={"federation_per_ip": "2/hour"},
        gateway={"trusted_proxies": ["127.0.0.1/32"]},
    )


def from_address(address: str) -> Person:
    """A browser whose requests reach authgate through the trusted proxy from `address`."""
    person = Person()
    person.http.headers["X-Forwarded-For"] = address
    return person


def press_start(person: Person, server: AuthgateServer) -> httpx.Response:
    page = person.get(f"{server.public}/auth/login")
    assert page.status_code == 200, page.text
    return person.post_form(page, "/federation/fake/start")


def test_starts_beyond_the_limit_from_one_address_are_refused(ours: AuthgateServer) -> None:
    person = from_address("203.0.113.10")
    try:
        allowed = [press_start(person, ours) for _ in range(2)]

        refused = press_start(person, ours)

        assert [answer.status_code for answer in allowed] == [303, 303]
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert "Too many attempts" in refused.text
    finally:
        person.close()


def test_another_address_keeps_its_own_budget(ours: AuthgateServer) -> None:
    spent, other = from_address("203.0.113.20"), from_address("203.0.113.21")
    try:
        for _ in range(2):
            press_start(spent, ours)
        assert press_start(spent, ours).status_code == 429

        assert press_start(other, ours).status_code == 303
    finally:
        spent.close()
        other.close()
