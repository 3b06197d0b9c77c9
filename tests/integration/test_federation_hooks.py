"""An account made by signing in with another provider passes the pre_signup hook like
every other new account: a hook that refuses a domain cannot be walked around through a
provider that vouches for an address in it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.federation_support import Person, start_pair, upstream_user
from tests.integration.harness import AuthgateServer
from tests.integration.hook_receiver import Answer, HookReceiver, running_receiver


@dataclass
class Setup:
    ours: AuthgateServer
    upstream: AuthgateServer
    hook: HookReceiver


@pytest.fixture(scope="module")
def hook() -> Iterator[HookReceiver]:
    with running_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def setup(
    make_server: ServerFactory, hook: HookReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Setup:
    pre_signup = {"url": f"{hook.url}/pre_signup", "secret": hook.secret, "on_error": "deny"}
    ours, upstream = start_pair(
        make_server, tmp_path_factory.mktemp("secrets"), [], hooks={"pre_signup": pre_signup}
    )
    return Setup(ours, upstream, hook)


@pytest.fixture
def person() -> Iterator[Person]:
    browser = Person()
    yield browser
    browser.close()


def accounts_with(server: AuthgateServer, email: str) -> list[str]:
    with server.admin_client() as admin:
        found = admin.get("/admin/users", params={"email_prefix": email}).json()["items"]
    return [user["sub"] for user in found if user["email"] == email]


def asked_about(hook: HookReceiver, email: str) -> list[dict[str, object]]:
    return [c.payload for c in hook.calls("/pre_signup") if c.payload["user"]["email"] == email]


def test_a_refused_external_sign_up_makes_no_account(setup: Setup, person: Person) -> None:
    email = unique_email("refused")
    upstream_user(setup.upstream, email=email)
    setup.hook.reply("/pre_signup", Answer({"allow": False, "message": "Not this domain."}))

    answer = person.sign_in_via_authgate(setup.ours, email)

    assert answer.status_code == 403
    assert accounts_with(setup.ours, email) == []
    [asked] = asked_about(setup.hook, email)
    assert asked["source"] == "external_provider"


def test_an_allowed_external_sign_up_makes_the_account(setup: Setup, person: Person) -> None:
    email = unique_email("allowed")
    upstream_user(setup.upstream, email=email)
    setup.hook.reply("/pre_signup", Answer({"allow": True}))

    answer = person.sign_in_via_authgate(setup.ours, email)

    assert answer.status_code == 303, answer.text[:300]
    assert len(accounts_with(setup.ours, email)) == 1
    assert len(asked_about(setup.hook, email)) == 1


def test_a_hook_that_cannot_answer_refuses_under_deny(setup: Setup, person: Person) -> None:
    email = unique_email("unanswered")
    upstream_user(setup.upstream, email=email)
    setup.hook.reply("/pre_signup", Answer({"oops": True}, status=500))

    answer = person.sign_in_via_authgate(setup.ours, email)

    assert answer.status_code == 403
    assert accounts_with(setup.ours, email) == []
