"""Settings: dev defaults, YAML file, environment overrides, errors, secret references."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authgate.bootstrap import open_store
from authgate.config import ConfigError, Rate, json_schema, load_settings, resolve_secret

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No AUTHGATE_* variable of the machine running the tests leaks into a test."""
    for name in list(os.environ):
        if name.startswith("AUTHGATE_"):
            monkeypatch.delenv(name)
    yield


def write_config(tmp_path: Path, text: str, name: str = "authgate.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path | str | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return caught.value


def problem_for(error: ConfigError, key: str) -> str:
    """The one problem naming `key`, checked to name the file too in the message."""
    matching = [p for p in error.problems if p.startswith(f"{key}:")]
    assert len(matching) == 1, f"expected one problem for {key!r} in {error.problems}"
    assert f"{error.source}: {matching[0]}" in str(error)
    return matching[0]


# --- defaults -------------------------------------------------------------------------


def test_without_file_or_environment_the_dev_defaults_of_the_readme_apply() -> None:
    loaded = load_settings()

    assert loaded.data_dir == Path("./.authgate")
    assert loaded.issuer == "http://127.0.0.1:8080"
    assert loaded.public.listen == "127.0.0.1:8080"
    assert loaded.admin.listen == "127.0.0.1:8081"
    assert loaded.admin.token == "file:.authgate/admin-token"
    assert loaded.database.url == "sqlite+aiosqlite:///.authgate/authgate.db"
    assert loaded.secrets.key_encryption_key == "file:.authgate/kek"
    assert loaded.mail.sender == "file"
    assert loaded.mail.outbox_dir == Path("./.authgate/outbox")
    assert loaded.mail.from_ == "authgate <no-reply@localhost>"


def test_the_files_authgate_keeps_default_to_places_inside_data_dir(tmp_path: Path) -> None:
    loaded = load_settings(write_config(tmp_path, "data_dir: /var/lib/authgate\n"))

    assert loaded.admin.token == "file:/var/lib/authgate/admin-token"
    assert loaded.secrets.key_encryption_key == "file:/var/lib/authgate/kek"
    assert loaded.database.url == "sqlite+aiosqlite:////var/lib/authgate/authgate.db"
    assert loaded.mail.outbox_dir == Path("/var/lib/authgate/outbox")


def test_a_data_dir_from_the_environment_moves_the_defaults_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTHGATE_DATA_DIR", "/srv/ag")

    loaded = load_settings()

    assert loaded.secrets.key_encryption_key == "file:/srv/ag/kek"
    assert loaded.admin.token == "file:/srv/ag/admin-token"


def test_the_default_database_is_inside_data_dir_whatever_its_name_holds(tmp_path: Path) -> None:
    data = tmp_path / "odd?name %41#x"
    data.mkdir()
    loaded = load_settings(write_config(tmp_path, f"data_dir: '{data}'\n"))

    async def open_and_close() -> None:
        store = await open_store(loaded, migrate=True)
        await store.close()

    asyncio.run(open_and_close())

    assert (data / "authgate.db").is_file()


def test_keys_given_explicitly_keep_their_place_whatever_data_dir_is(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "data_dir: /var/lib/authgate\n"
        "admin: {listen: '127.0.0.1:9001', token: 'env:ADMIN_TOKEN'}\n"
        "secrets: {key_encryption_key: 'file:/run/secrets/kek'}\n"
        "database: {url: 'postgresql+asyncpg://authgate@db/authgate'}\n"
        "mail: {outbox_dir: /tmp/outbox}\n",
    )

    loaded = load_settings(path)

    assert loaded.admin.token == "env:ADMIN_TOKEN"
    assert loaded.secrets.key_encryption_key == "file:/run/secrets/kek"
    assert loaded.database.url == "postgresql+asyncpg://authgate@db/authgate"
    assert loaded.mail.outbox_dir == Path("/tmp/outbox")


def test_a_section_given_in_part_still_derives_its_other_files(tmp_path: Path) -> None:
    path = write_config(tmp_path, "data_dir: /d\nadmin: {listen: '127.0.0.1:9001'}\n")

    assert load_settings(path).admin.token == "file:/d/admin-token"


def test_defaults_of_the_other_sections_match_the_readme_table() -> None:
    loaded = load_settings()

    assert loaded.database.migrate_on_start is True
    assert loaded.mail.templates_dir is None
    assert (loaded.passwords.min_length, loaded.passwords.max_length) == (8, 256)
    assert loaded.passwords.block_common is True
    assert not any(
        (
            loaded.passwords.require_uppercase,
            loaded.passwords.require_lowercase,
            loaded.passwords.require_digit,
            loaded.passwords.require_symbol,
        )
    )
    argon2 = loaded.passwords.argon2
    assert (argon2.memory_kib, argon2.time_cost, argon2.parallelism) == (19456, 2, 1)
    assert loaded.tokens.signing_alg == "RS256"
    assert (loaded.tokens.access_ttl, loaded.tokens.id_ttl) == (3600, 3600)
    assert loaded.tokens.refresh_ttl == 30 * 86400
    throttle = loaded.throttle
    assert throttle.login_failures == 5
    assert (throttle.login_window, throttle.lockout_base, throttle.lockout_max) == (900, 60, 3600)
    for rate in (throttle.signup_per_ip, throttle.resend_per_ip, throttle.forgot_per_ip):
        assert (rate.count, rate.period) == (20, 3600)
    assert throttle.code_attempts == 5
    assert loaded.user_pool.username_from_email is True
    assert loaded.user_pool.custom_attributes == {}
    assert (loaded.user_pool.signup_code_ttl, loaded.user_pool.reset_code_ttl) == (86400, 3600)


# --- file and environment -------------------------------------------------------------


def test_a_yaml_file_sets_values(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "issuer: https://id.example.com/\n"
        "public: {listen: '0.0.0.0:9443'}\n"
        "database: {url: 'postgresql+asyncpg://authgate@db/authgate'}\n"
        "mail: {sender: console, from: 'Example <id@example.com>'}\n"
        "tokens: {signing_alg: ES256, access_ttl: 15m}\n"
        "user_pool: {custom_attributes: {plan: {type: string, mutable: false}}}\n",
    )

    loaded = load_settings(path)

    assert loaded.issuer == "https://id.example.com"
    assert loaded.public.listen == "0.0.0.0:9443"
    assert loaded.admin.listen == "127.0.0.1:8081"
    assert loaded.database.url == "postgresql+asyncpg://authgate@db/authgate"
    assert loaded.mail.sender == "console"
    assert loaded.mail.from_ == "Example <id@example.com>"
    assert loaded.tokens.signing_alg == "ES256"
    assert loaded.tokens.access_ttl == 900
    assert loaded.user_pool.custom_attributes["plan"].mutable is False


def test_an_empty_file_means_the_defaults(tmp_path: Path) -> None:
    loaded = load_settings(write_config(tmp_path, ""))

    assert loaded.public.listen == "127.0.0.1:8080"


def test_the_environment_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, "public: {listen: '127.0.0.1:7000'}\n")
    monkeypatch.setenv("AUTHGATE_PUBLIC__LISTEN", "127.0.0.1:9000")

    assert load_settings(path).public.listen == "127.0.0.1:9000"


def test_an_environment_override_keeps_the_files_other_keys_of_that_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, "admin: {listen: '127.0.0.1:7001', token: 'env:ADMIN_TOKEN'}\n")
    monkeypatch.setenv("AUTHGATE_ADMIN__LISTEN", "127.0.0.1:9001")

    loaded = load_settings(path)

    assert loaded.admin.listen == "127.0.0.1:9001"
    assert loaded.admin.token == "env:ADMIN_TOKEN"


def test_the_environment_sets_values_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHGATE_PUBLIC__LISTEN", "127.0.0.1:9000")
    monkeypatch.setenv("AUTHGATE_TOKENS__ACCESS_TTL", "90s")

    loaded = load_settings()

    assert loaded.public.listen == "127.0.0.1:9000"
    assert loaded.tokens.access_ttl == 90


def test_authgate_config_names_the_file_when_no_path_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, "public: {listen: '127.0.0.1:7000'}\n")
    monkeypatch.setenv("AUTHGATE_CONFIG", str(path))

    assert load_settings().public.listen == "127.0.0.1:7000"


def test_an_explicit_path_wins_over_authgate_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = write_config(tmp_path, "public: {listen: '127.0.0.1:7000'}\n", "chosen.yaml")
    other = write_config(tmp_path, "public: {listen: '127.0.0.1:7999'}\n", "other.yaml")
    monkeypatch.setenv("AUTHGATE_CONFIG", str(other))

    assert load_settings(chosen).public.listen == "127.0.0.1:7000"


# --- errors ---------------------------------------------------------------------------


def test_every_error_is_reported_at_once_with_its_key_path_and_the_file(
    tmp_path: Path,
) -> None:
    path = write_config(
        tmp_path,
        "public: {listen: nope}\n"
        "tokens: {access_ttl: 5x}\n"
        "colour: blue\n"
        "mail: {sendr: smtp}\n"
        "passwords: {min_length: many}\n",
    )

    error = config_error(path)

    assert error.source == str(path)
    assert len(error.problems) == 5
    for key in ("public.listen", "tokens.access_ttl", "colour", "mail.sendr"):
        problem_for(error, key)
    problem_for(error, "passwords.min_length")
    for line in str(error).splitlines():
        assert line.startswith(f"{path}: ")


def test_an_unknown_top_level_key_is_an_error(tmp_path: Path) -> None:
    error = config_error(write_config(tmp_path, "colour: blue\n"))

    problem_for(error, "colour")


def test_an_unknown_nested_key_is_an_error(tmp_path: Path) -> None:
    error = config_error(write_config(tmp_path, "mail: {sendr: smtp}\n"))

    problem_for(error, "mail.sendr")


def test_a_value_of_the_wrong_type_is_an_error(tmp_path: Path) -> None:
    error = config_error(
        write_config(tmp_path, "passwords: {min_length: many}\nthrottle: {login_failures: [1]}\n")
    )

    problem_for(error, "passwords.min_length")
    problem_for(error, "throttle.login_failures")


def test_a_section_that_is_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    error = config_error(write_config(tmp_path, "public: 127.0.0.1:9000\n"))

    assert any(p.startswith("public") for p in error.problems)


def test_a_bad_listen_address_is_an_error(tmp_path: Path) -> None:
    error = config_error(
        write_config(tmp_path, "public: {listen: nope}\nadmin: {listen: '127.0.0.1:70000'}\n")
    )

    problem_for(error, "public.listen")
    problem_for(error, "admin.listen")


def test_an_unknown_choice_is_an_error(tmp_path: Path) -> None:
    error = config_error(
        write_config(tmp_path, "mail: {sender: pigeon}\ntokens: {signing_alg: HS256}\n")
    )

    problem_for(error, "mail.sender")
    problem_for(error, "tokens.signing_alg")


def test_an_unsupported_database_url_is_an_error(tmp_path: Path) -> None:
    error = config_error(write_config(tmp_path, "database: {url: 'mysql://db/authgate'}\n"))

    problem_for(error, "database.url")


def test_an_issuer_that_is_not_an_http_url_is_an_error(tmp_path: Path) -> None:
    error = config_error(write_config(tmp_path, "issuer: 'ftp://id.example.com'\n"))

    problem_for(error, "issuer")


def test_a_bad_value_from_the_environment_names_its_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTHGATE_TOKENS__ACCESS_TTL", "5x")

    error = config_error()

    problem_for(error, "tokens.access_ttl")


def test_a_file_that_is_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, "- public\n- admin\n")

    error = config_error(path)

    assert error.source == str(path)
    assert len(error.problems) == 1
    assert str(path) in str(error)


def test_a_file_that_is_not_yaml_is_an_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, "public: {listen: [127.0.0.1\n")

    error = config_error(path)

    assert error.source == str(path)
    assert len(error.problems) == 1
    assert "YAML" in error.problems[0]
    assert str(path) in str(error)


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    error = config_error(path)

    assert error.source == str(path)
    assert len(error.problems) == 1
    assert str(path) in str(error)


def test_a_missing_file_named_by_authgate_config_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "absent.yaml"
    monkeypatch.setenv("AUTHGATE_CONFIG", str(path))

    error = config_error()

    assert str(path) in str(error)


# --- durations and rates --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("1h", 3600), ("30d", 30 * 86400), ("45", 45), ("2.5", 2.5)],
)
def test_durations_are_read_with_their_unit(tmp_path: Path, text: str, seconds: float) -> None:
    loaded = load_settings(write_config(tmp_path, f"tokens: {{access_ttl: '{text}'}}\n"))

    assert loaded.tokens.access_ttl == seconds


@pytest.mark.parametrize("number", ["120", "0.5"])
def test_a_duration_may_be_a_bare_yaml_number_of_seconds(tmp_path: Path, number: str) -> None:
    loaded = load_settings(write_config(tmp_path, f"throttle: {{login_window: {number}}}\n"))

    assert loaded.throttle.login_window == float(number)


@pytest.mark.parametrize("text", ["5x", "fast", "1 week", "-5m", "0s", "0", "h"])
def test_a_bad_duration_is_an_error_naming_its_key(tmp_path: Path, text: str) -> None:
    error = config_error(write_config(tmp_path, f"throttle: {{lockout_max: '{text}'}}\n"))

    problem_for(error, "throttle.lockout_max")


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("20/hour", Rate(count=20, period=3600)),
        ("5/minute", Rate(count=5, period=60)),
        ("1/second", Rate(count=1, period=1)),
        ("100 / day", Rate(count=100, period=86400)),
    ],
)
def test_rates_are_read_as_count_per_period(tmp_path: Path, text: str, rate: Rate) -> None:
    loaded = load_settings(write_config(tmp_path, f"throttle: {{signup_per_ip: '{text}'}}\n"))

    assert loaded.throttle.signup_per_ip == rate


@pytest.mark.parametrize("text", ["20", "20/fortnight", "many/hour", "0/hour", "-1/hour"])
def test_a_bad_rate_is_an_error_naming_its_key(tmp_path: Path, text: str) -> None:
    error = config_error(write_config(tmp_path, f"throttle: {{forgot_per_ip: '{text}'}}\n"))

    assert any(p.startswith("throttle.forgot_per_ip") for p in error.problems), error.problems


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(n=st.integers(min_value=1, max_value=10**9), unit=st.sampled_from(sorted(UNIT_SECONDS)))
def test_a_duration_of_n_units_is_n_times_the_units_seconds(n: int, unit: str) -> None:
    # The autouse fixture only removes variables; what this test sets it undoes itself.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTHGATE_TOKENS__REFRESH_TTL", f"{n}{unit}")
        loaded = load_settings()

    assert loaded.tokens.refresh_ttl == n * UNIT_SECONDS[unit]


# --- secret references ----------------------------------------------------------------


def test_an_env_reference_reads_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PASSWORD_FOR_TEST", "s3cret value")

    assert resolve_secret("env:SMTP_PASSWORD_FOR_TEST", "mail.smtp.password") == "s3cret value"


def test_an_env_reference_to_an_unset_variable_is_an_error_naming_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SMTP_PASSWORD_FOR_TEST", raising=False)

    with pytest.raises(ConfigError) as caught:
        resolve_secret("env:SMTP_PASSWORD_FOR_TEST", "mail.smtp.password")

    assert any("mail.smtp.password" in p for p in caught.value.problems)
    assert "mail.smtp.password" in str(caught.value)


def test_a_file_reference_reads_the_file_without_its_trailing_newline(tmp_path: Path) -> None:
    secret = tmp_path / "kek"
    secret.write_text("abc123\n", encoding="utf-8")

    assert resolve_secret(f"file:{secret}", "secrets.key_encryption_key") == "abc123"


def test_a_file_reference_to_a_missing_file_is_an_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_secret(f"file:{tmp_path / 'absent'}", "secrets.key_encryption_key")

    assert any("secrets.key_encryption_key" in p for p in caught.value.problems)
    assert "secrets.key_encryption_key" in str(caught.value)


@pytest.mark.parametrize("value", ["plain-admin-token-value", "s3cret: with colon", ""])
def test_a_literal_secret_is_taken_as_it_is(value: str) -> None:
    assert resolve_secret(value, "admin.token") == value


def test_an_absent_secret_stays_absent() -> None:
    assert resolve_secret(None, "mail.smtp.password") is None


# --- schema ---------------------------------------------------------------------------


def test_the_json_schema_describes_the_top_level_sections() -> None:
    schema = json_schema()

    assert {"issuer", "public", "database"} <= set(schema["properties"])
    assert {"data_dir", "admin", "secrets", "mail", "tokens", "throttle", "user_pool"} <= set(
        schema["properties"]
    )


# --- tokens.refresh_reuse_interval -----------------------------------------------------


def test_the_refresh_reuse_interval_is_ten_seconds_by_default() -> None:
    assert load_settings().tokens.refresh_reuse_interval == 10.0


@pytest.mark.parametrize(
    ("written", "seconds"), [("0", 0.0), ("0s", 0.0), ("2500ms", 2.5), ("1m", 60.0)]
)
def test_the_refresh_reuse_interval_takes_zero_and_durations(
    tmp_path: Path, written: str, seconds: float
) -> None:
    path = write_config(tmp_path, f"tokens:\n  refresh_reuse_interval: {written}\n")
    assert load_settings(path).tokens.refresh_reuse_interval == seconds


@pytest.mark.parametrize("written", ["-1", "61s", "2h", "soon"])
def test_a_negative_or_long_refresh_reuse_interval_is_refused(tmp_path: Path, written: str) -> None:
    error = config_error(write_config(tmp_path, f"tokens:\n  refresh_reuse_interval: {written}\n"))
    assert problem_for(error, "tokens.refresh_reuse_interval")


def test_the_json_schema_describes_the_refresh_reuse_interval() -> None:
    tokens = json_schema()["$defs"]["TokenSettings"]["properties"]
    interval = tokens["refresh_reuse_interval"]
    assert interval["default"] == 10.0
    assert interval["minimum"] == 0
    assert interval["maximum"] == 60.0
    assert "0 turns it off" in interval["description"]
