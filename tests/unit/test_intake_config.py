"""The intake service's settings file: sizes, secret references, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from examples.intake.config import ConfigError, load_settings, parse_size, resolve_secret
from hypothesis import given
from hypothesis import strategies as st

UNITS = {
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(sorted(UNITS)))
def test_a_size_with_a_unit_is_that_many_bytes(count: int, unit: str) -> None:
    assert parse_size(f"{count}{unit}", "k") == count * UNITS[unit]


@given(st.text().filter(lambda t: not t.strip().isdigit()))
def test_a_size_parser_refuses_or_answers_a_non_negative_count(text: str) -> None:
    try:
        assert parse_size(text, "k") >= 0
    except ConfigError as exc:
        assert "k:" in str(exc)


def test_the_defaults_are_the_quickstart_ones() -> None:
    settings = load_settings(None, {})

    assert settings.quota.images == 20
    assert settings.quota.bytes == 10 * 1024**3
    assert (settings.storage.kind, settings.storage.path) == ("filesystem", "./.authgate/images")


def test_s3_keys_are_read_from_the_environment_and_from_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTAKE_KEY_ID", "AKIDEXAMPLE")
    (tmp_path / "secret").write_text("s3cr3t\n")
    config = tmp_path / "intake.yaml"
    config.write_text(
        "storage: {kind: s3, bucket: images, access_key_id: 'env:INTAKE_KEY_ID',"
        f" secret_access_key: 'file:{tmp_path / 'secret'}'}}\n"
    )

    storage = load_settings(config, {}).storage

    assert (storage.access_key_id, storage.secret_access_key) == ("AKIDEXAMPLE", "s3cr3t")


def test_a_secret_written_in_the_file_itself_is_refused() -> None:
    with pytest.raises(ConfigError, match="env:NAME or file:PATH"):
        resolve_secret("AKIDEXAMPLE", "storage.access_key_id")


def test_an_s3_part_under_5mib_is_refused() -> None:
    with pytest.raises(ConfigError, match="part_size"):
        load_settings(None, {"storage": {"kind": "s3", "bucket": "b", "part_size": "1MiB"}})


def test_an_unknown_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="quotas"):
        load_settings(None, {"quotas": {}})


def test_vetting_limits_take_sizes_and_counts() -> None:
    settings = load_settings(
        None, {"vetting": {"concurrency": 2, "limits": {"max_json_bytes": "2MiB", "max_layers": 8}}}
    )

    assert settings.vetting_concurrency == 2
    assert settings.vetting_limits == {"max_json_bytes": 2 * 1024**2, "max_layers": 8}
