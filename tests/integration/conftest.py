"""Fixtures that run the real server, once per module and backend."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import _drop_database, create_database_or_skip, postgres_base_url
from tests.integration.harness import AuthgateServer
from tests.integration.upstream_app import Upstream

if TYPE_CHECKING:  # federation_support imports this module
    from tests.integration.federation_support import FakeProvider

ServerFactory = Callable[..., AuthgateServer]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def make_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """Start servers with config overrides; each gets a fresh database of `backend`."""
    started: list[AuthgateServer] = []
    databases: list[str] = []

    def factory(*, issuer_host: str | None = None, **overrides: Any) -> AuthgateServer:
        """`issuer_host` (e.g. "localhost", which WebAuthn needs) names the issuer's host;
        the server still listens on 127.0.0.1, which "localhost" reaches."""
        workdir: Path = tmp_path_factory.mktemp("authgate")
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{workdir / 'authgate.db'}"
        else:
            base = postgres_base_url()
            name = f"authgate_srv_{secrets.token_hex(4)}"
            create_database_or_skip(base, name)
            databases.append(name)
            url = base.set(database=name).render_as_string(hide_password=False)
        server = AuthgateServer(workdir, url, overrides)
        if issuer_host:
            server.overrides = {"issuer": f"http://{issuer_host}:{server.public_port}", **overrides}
        server.start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()
    for name in databases:
        asyncio.run(_drop_database(postgres_base_url(), name))


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    """A server with the default configuration (generous rate limits)."""
    return make_server()


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(4)}@example.com"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    """A real upstream process (tests/integration/upstream_app.py) echoing what it receives."""
    process = Upstream(tmp_path_factory.mktemp("upstream"), "main").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    """An OpenID Provider served by the test process, shared by a module's tests."""
    from tests.integration.federation_support import FakeProvider

    provider = FakeProvider()
    yield provider
    provider.stop()
