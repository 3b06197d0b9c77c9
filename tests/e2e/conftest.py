"""Real-browser tests reuse the integration fixtures: a real server per module and backend."""

from tests.integration.conftest import backend, make_server, server

__all__ = ["backend", "make_server", "server"]
