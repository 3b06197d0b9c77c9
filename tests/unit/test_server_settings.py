"""`server.workers`: a count of serving processes, or `auto` (issue 12)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from authgate.config import ConfigError, cpu_count, json_schema, load_settings


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "authgate.yaml"
    path.write_text(text)
    return load_settings(path).server.workers


def test_one_worker_by_default() -> None:
    settings = load_settings()
    assert settings.server.workers == 1
    assert settings.server.resolved_workers() == 1


@pytest.mark.parametrize(("written", "count"), [("1", 1), ("4", 4), ('"3"', 3)])
def test_a_worker_count_is_taken(tmp_path: Path, written: str, count: int) -> None:
    assert load(tmp_path, f"server:\n  workers: {written}\n") == count


def test_auto_is_one_worker_per_cpu_this_process_may_use(tmp_path: Path) -> None:
    path = tmp_path / "authgate.yaml"
    path.write_text("server:\n  workers: auto\n")
    server = load_settings(path).server
    assert server.workers == "auto"
    assert server.resolved_workers() == cpu_count() == len(os.sched_getaffinity(0))


def test_the_environment_sets_the_worker_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHGATE_SERVER__WORKERS", "3")
    assert load_settings().server.workers == 3


@pytest.mark.parametrize("written", ["0", "-2", "many", "1.5", "true", "null", "[2]"])
def test_a_bad_worker_count_is_refused_naming_the_key(tmp_path: Path, written: str) -> None:
    path = tmp_path / "authgate.yaml"
    path.write_text(f"server:\n  workers: {written}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.source == str(path)
    assert [p for p in caught.value.problems if p.startswith("server.workers: ")]


def test_the_json_schema_describes_the_workers() -> None:
    workers = json_schema()["$defs"]["ServerSettings"]["properties"]["workers"]
    assert "auto" in workers["description"]
