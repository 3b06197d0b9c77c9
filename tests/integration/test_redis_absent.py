"""Without Redis, a server on PostgreSQL says once, at start, what stays per process."""

from __future__ import annotations

from tests.integration.conftest import ServerFactory

PER_PROCESS = "PostgreSQL without Redis"


def test_serve_names_what_is_per_process_once_on_postgres_only(
    make_server: ServerFactory, backend: str
) -> None:
    server = make_server()
    lines = [r for r in server.log_records() if PER_PROCESS in str(r.get("message", ""))]
    assert len(lines) == (1 if backend == "postgres" else 0)
    if lines:
        assert lines[0]["level"].lower() == "warning"
        assert "rate limits" in lines[0]["message"]
