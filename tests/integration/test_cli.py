"""The `authgate` command, run as a user runs it: a subprocess in a working directory.

Commands other than `migrate` do not depend on the storage backend, so they run on
SQLite; `migrate` runs on SQLite and on a fresh PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml
from argon2 import PasswordHasher

from tests.conftest import _drop_database, create_database_or_skip, postgres_base_url
from tests.integration.harness import free_port

PASSWORD = "lemon tree 4 harbour"


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AUTHGATE_")}


def authgate(
    workdir: Path,
    *args: str,
    config: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "authgate", *args]
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.run(
        command,
        cwd=workdir,
        env={**clean_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def json_out(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result).stdout)


def config_dict(workdir: Path, database_url: str | None = None, **overrides: Any) -> dict[str, Any]:
    data = workdir / "data"
    config: dict[str, Any] = {
        "data_dir": str(data),
        "admin": {"token": f"file:{data / 'admin-token'}"},
        "database": {"url": database_url or f"sqlite+aiosqlite:///{workdir / 'authgate.db'}"},
        "secrets": {"key_encryption_key": f"file:{data / 'kek'}"},
        "mail": {"sender": "file", "outbox_dir": str(workdir / "outbox")},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def write_config(workdir: Path, config: dict[str, Any], name: str = "authgate.yaml") -> Path:
    path = workdir / name
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A valid configuration on a SQLite database of its own in tmp_path."""
    return write_config(tmp_path, config_dict(tmp_path))


# --- config ---------------------------------------------------------------------------


def test_config_check_accepts_a_valid_file(tmp_path: Path, config: Path) -> None:
    result = authgate(tmp_path, "config", "check", config=config)

    assert result.returncode == 0, result.stderr


def test_config_check_lists_every_error_with_its_key_and_the_file(tmp_path: Path) -> None:
    bad = write_config(
        tmp_path,
        {
            "public": {"listen": "nope"},
            "tokens": {"access_ttl": "5x"},
            "colour": "blue",
            "mail": {"sendr": "smtp"},
        },
        name="bad.yaml",
    )

    result = authgate(tmp_path, "config", "check", config=bad)

    assert result.returncode == 1
    lines = result.stderr.splitlines()
    for key in ("public.listen", "tokens.access_ttl", "colour", "mail.sendr"):
        assert any(str(bad) in line and f"{key}:" in line for line in lines), (
            f"no line names both {key} and {bad}:\n{result.stderr}"
        )


def test_config_check_reports_a_missing_file(tmp_path: Path) -> None:
    absent = tmp_path / "absent.yaml"

    result = authgate(tmp_path, "config", "check", config=absent)

    assert result.returncode == 1
    assert str(absent) in result.stderr


def test_config_check_reads_authgate_config(tmp_path: Path) -> None:
    bad = write_config(tmp_path, {"public": {"listen": "nope"}}, name="bad.yaml")

    result = authgate(tmp_path, "config", "check", env={"AUTHGATE_CONFIG": str(bad)})

    assert result.returncode == 1
    assert "public.listen" in result.stderr


def test_config_schema_prints_the_json_schema(tmp_path: Path) -> None:
    schema = json_out(authgate(tmp_path, "config", "schema"))

    assert {"issuer", "public", "database"} <= set(schema["properties"])


# --- migrate --------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, never migrated."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    base = postgres_base_url()
    name = f"authgate_cli_{secrets.token_hex(4)}"
    create_database_or_skip(base, name)
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_drop_database(base, name))


def test_migrate_brings_an_empty_database_to_the_newest_schema(
    tmp_path: Path, fresh_database_url: str
) -> None:
    config = write_config(
        tmp_path, config_dict(tmp_path, fresh_database_url, database={"migrate_on_start": False})
    )

    ok(authgate(tmp_path, "migrate", config=config))

    assert json_out(authgate(tmp_path, "users", "list", "--json", config=config)) == []


def test_migrate_twice_is_harmless(tmp_path: Path, fresh_database_url: str) -> None:
    config = write_config(
        tmp_path, config_dict(tmp_path, fresh_database_url, database={"migrate_on_start": False})
    )

    ok(authgate(tmp_path, "migrate", config=config))
    ok(authgate(tmp_path, "migrate", config=config))

    assert json_out(authgate(tmp_path, "users", "list", "--json", config=config)) == []


def test_without_migrate_on_start_an_unmigrated_database_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, config_dict(tmp_path, database={"migrate_on_start": False}))

    result = authgate(tmp_path, "users", "list", "--json", config=config)

    assert result.returncode == 1
    assert "migrate" in result.stderr


# --- secrets and the data directory ---------------------------------------------------


def test_a_missing_secret_file_outside_data_dir_stops_with_an_error_naming_the_key(
    tmp_path: Path,
) -> None:
    config = write_config(
        tmp_path, config_dict(tmp_path, secrets={"key_encryption_key": "file:/nonexistent/kek"})
    )

    result = authgate(tmp_path, "keys", "list", config=config)

    assert result.returncode == 1
    assert "secrets.key_encryption_key" in result.stderr
    assert not Path("/nonexistent/kek").exists()


def test_an_env_reference_to_an_unset_variable_stops_with_an_error_naming_the_key(
    tmp_path: Path,
) -> None:
    variable = f"AUTHGATE_TEST_UNSET_{secrets.token_hex(4).upper()}"
    config = write_config(
        tmp_path, config_dict(tmp_path, secrets={"key_encryption_key": f"env:{variable}"})
    )

    result = authgate(tmp_path, "keys", "list", config=config)

    assert result.returncode == 1
    assert "secrets.key_encryption_key" in result.stderr


def test_an_unset_admin_token_variable_stops_with_an_error_naming_the_key(
    tmp_path: Path,
) -> None:
    variable = f"AUTHGATE_TEST_UNSET_{secrets.token_hex(4).upper()}"
    config = write_config(tmp_path, config_dict(tmp_path, admin={"token": f"env:{variable}"}))

    result = authgate(tmp_path, "keys", "list", config=config)

    assert result.returncode == 1
    assert "admin.token" in result.stderr


def test_config_check_names_a_secret_reference_that_cannot_be_resolved(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        config_dict(tmp_path, mail={"sender": "smtp", "smtp": {"password": "env:TEST_SMTP_UNSET"}}),
    )

    result = authgate(tmp_path, "config", "check", config=config)

    assert result.returncode == 1
    assert "mail.smtp.password: environment variable TEST_SMTP_UNSET is not set" in result.stderr


def test_a_config_that_sets_only_data_dir_keeps_every_file_there(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = write_config(tmp_path, {"data_dir": str(state)})

    ok(authgate(tmp_path, "keys", "list", config=config))

    assert {"kek", "admin-token", "authgate.db"} <= {path.name for path in state.iterdir()}
    assert not (tmp_path / ".authgate").exists()


def test_a_database_url_given_by_reference_is_the_database_migrated(tmp_path: Path) -> None:
    database = tmp_path / "referred.db"
    config = write_config(tmp_path, config_dict(tmp_path, database={"url": "env:TEST_DB_URL"}))

    ok(
        authgate(
            tmp_path,
            "migrate",
            config=config,
            env={"TEST_DB_URL": f"sqlite+aiosqlite:///{database}"},
        )
    )

    assert database.is_file()


def test_an_unset_database_url_variable_stops_migrate_with_an_error_naming_the_key(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, config_dict(tmp_path, database={"url": "env:TEST_DB_UNSET"}))

    result = authgate(tmp_path, "migrate", config=config)

    assert result.returncode == 1
    assert "database.url" in result.stderr and "TEST_DB_UNSET" in result.stderr
    assert "Traceback" not in result.stderr


def test_first_start_creates_a_private_data_dir_with_private_secret_files(
    tmp_path: Path, config: Path
) -> None:
    data = tmp_path / "data"
    assert not data.exists()

    ok(authgate(tmp_path, "keys", "list", config=config))

    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("kek", "admin-token"):
        secret = data / name
        assert secret.is_file()
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert secret.read_text().strip()


def test_secrets_generated_at_first_start_are_kept_afterwards(tmp_path: Path, config: Path) -> None:
    data = tmp_path / "data"
    ok(authgate(tmp_path, "keys", "list", config=config))
    kek, token = (data / "kek").read_text(), (data / "admin-token").read_text()

    ok(authgate(tmp_path, "keys", "list", config=config))

    assert (data / "kek").read_text() == kek
    assert (data / "admin-token").read_text() == token


def test_without_a_config_file_the_dev_defaults_live_in_dot_authgate(tmp_path: Path) -> None:
    ok(authgate(tmp_path, "keys", "list"))

    data = tmp_path / ".authgate"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert (data / "authgate.db").is_file()
    for name in ("kek", "admin-token"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600


# --- keys -----------------------------------------------------------------------------


def test_a_new_install_has_one_active_signing_key(tmp_path: Path, config: Path) -> None:
    keys = json_out(authgate(tmp_path, "keys", "list", "--json", config=config))

    assert len(keys) == 1
    assert keys[0]["active"] is True
    assert keys[0]["alg"] == "RS256"


def test_keys_rotate_makes_a_new_active_key_and_keeps_the_old_one(
    tmp_path: Path, config: Path
) -> None:
    [first] = json_out(authgate(tmp_path, "keys", "list", "--json", config=config))

    [rotated] = json_out(authgate(tmp_path, "keys", "rotate", "--json", config=config))
    keys = json_out(authgate(tmp_path, "keys", "list", "--json", config=config))

    assert rotated["kid"] != first["kid"]
    assert {k["kid"] for k in keys} == {first["kid"], rotated["kid"]}
    assert [k["kid"] for k in keys if k["active"]] == [rotated["kid"]]


# --- users ----------------------------------------------------------------------------


def users(workdir: Path, config: Path) -> dict[str, dict[str, Any]]:
    rows = json_out(authgate(workdir, "users", "list", "--json", config=config))
    return {row["username"]: row for row in rows}


def test_users_create_prints_the_new_account(tmp_path: Path, config: Path) -> None:
    [created] = json_out(
        authgate(
            tmp_path,
            "users",
            "create",
            "--email",
            "Ada@Example.com",
            "--password",
            PASSWORD,
            "--json",
            config=config,
        )
    )

    assert created["sub"]
    assert created["username"] == "ada@example.com"
    assert created["email"] == "ada@example.com"
    assert created["enabled"] is True


def test_users_list_includes_a_created_account(tmp_path: Path, config: Path) -> None:
    [created] = json_out(
        authgate(
            tmp_path,
            "users",
            "create",
            "--email",
            "bob@example.com",
            "--username",
            "bob",
            "--password",
            PASSWORD,
            "--json",
            config=config,
        )
    )

    listed = users(tmp_path, config)

    assert listed["bob"]["sub"] == created["sub"]
    assert listed["bob"]["email"] == "bob@example.com"


def test_users_disable_disables_the_account(tmp_path: Path, config: Path) -> None:
    for address in ("carol@example.com", "dave@example.com"):
        ok(
            authgate(
                tmp_path,
                "users",
                "create",
                "--email",
                address,
                "--password",
                PASSWORD,
                config=config,
            )
        )

    ok(authgate(tmp_path, "users", "disable", "carol@example.com", config=config))

    listed = users(tmp_path, config)
    assert listed["carol@example.com"]["enabled"] is False
    assert listed["dave@example.com"]["enabled"] is True


def test_users_disable_of_an_unknown_user_fails(tmp_path: Path, config: Path) -> None:
    result = authgate(tmp_path, "users", "disable", "nobody@example.com", config=config)

    assert result.returncode == 1


def test_users_create_refuses_a_weak_password(tmp_path: Path, config: Path) -> None:
    result = authgate(
        tmp_path,
        "users",
        "create",
        "--email",
        "erin@example.com",
        "--password",
        "password",
        "--json",
        config=config,
    )

    assert result.returncode == 1
    assert "invalid_password" in result.stderr
    assert "erin@example.com" not in users(tmp_path, config)


def jsonl(rows: list[Any]) -> str:
    return "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)


def test_users_import_reports_imported_and_refused_rows(tmp_path: Path, config: Path) -> None:
    argon2_hash = PasswordHasher().hash(PASSWORD)
    bcrypt_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, 100_000)
    source = tmp_path / "users.jsonl"
    source.write_text(
        jsonl(
            [
                {"email": "imp-argon@example.com", "password_hash": argon2_hash},
                {"email": "imp-bcrypt@example.com", "password_hash": bcrypt_hash},
                {"email": "imp-legacy@example.com", "salt": salt.hex(), "hash": digest.hex()},
                {"username": "no-email", "password_hash": argon2_hash},
                "{not json",
                {"email": "imp-odd@example.com", "password_hash": "md5$abc$def"},
            ]
        ),
        encoding="utf-8",
    )

    report = json_out(authgate(tmp_path, "users", "import", str(source), "--json", config=config))

    assert report["imported"] == 3
    assert [r["line"] for r in report["refused"]] == [4, 5, 6]
    assert all(isinstance(r["reason"], str) and r["reason"] for r in report["refused"])
    listed = users(tmp_path, config)
    for address in ("imp-argon@example.com", "imp-bcrypt@example.com", "imp-legacy@example.com"):
        assert listed[address]["email"] == address
    assert "imp-odd@example.com" not in listed


def test_users_import_refuses_a_duplicate_of_an_existing_user(tmp_path: Path, config: Path) -> None:
    ok(
        authgate(
            tmp_path,
            "users",
            "create",
            "--email",
            "frank@example.com",
            "--password",
            PASSWORD,
            config=config,
        )
    )
    source = tmp_path / "users.jsonl"
    hashed = PasswordHasher().hash(PASSWORD)
    source.write_text(
        jsonl(
            [
                {"email": "frank@example.com", "password_hash": hashed},
                {"email": "grace@example.com", "password_hash": hashed},
            ]
        ),
        encoding="utf-8",
    )

    report = json_out(authgate(tmp_path, "users", "import", str(source), "--json", config=config))

    assert report["imported"] == 1
    assert [r["line"] for r in report["refused"]] == [1]


def test_users_export_prints_one_json_line_per_user_with_its_hash(
    tmp_path: Path, config: Path
) -> None:
    argon2_hash = PasswordHasher().hash(PASSWORD)
    source = tmp_path / "users.jsonl"
    source.write_text(
        jsonl([{"email": "heidi@example.com", "password_hash": argon2_hash}]), encoding="utf-8"
    )
    ok(authgate(tmp_path, "users", "import", str(source), "--json", config=config))
    ok(
        authgate(
            tmp_path,
            "users",
            "create",
            "--email",
            "ivan@example.com",
            "--password",
            PASSWORD,
            config=config,
        )
    )

    result = ok(authgate(tmp_path, "users", "export", config=config))

    rows = {row["username"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert set(rows) == {"heidi@example.com", "ivan@example.com"}
    assert rows["heidi@example.com"]["email"] == "heidi@example.com"
    assert rows["heidi@example.com"]["password_hash"] == argon2_hash
    assert rows["ivan@example.com"]["email"] == "ivan@example.com"
    assert rows["ivan@example.com"]["password_hash"].startswith("$argon2id$")


def test_an_export_imports_into_another_install(tmp_path: Path, config: Path) -> None:
    ok(
        authgate(
            tmp_path,
            "users",
            "create",
            "--email",
            "judy@example.com",
            "--password",
            PASSWORD,
            config=config,
        )
    )
    exported = tmp_path / "export.jsonl"
    exported.write_text(ok(authgate(tmp_path, "users", "export", config=config)).stdout)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = write_config(other_dir, config_dict(other_dir))

    report = json_out(authgate(other_dir, "users", "import", str(exported), "--json", config=other))

    assert report == {"imported": 1, "refused": []}
    assert "judy@example.com" in users(other_dir, other)


# --- clients --------------------------------------------------------------------------


def test_clients_create_prints_the_id_and_the_secret_once(tmp_path: Path, config: Path) -> None:
    [created] = json_out(
        authgate(tmp_path, "clients", "create", "--client-name", "web", "--json", config=config)
    )

    assert created["client_id"]
    assert created["client_secret"]
    assert created["client_name"] == "web"

    listed = json_out(authgate(tmp_path, "clients", "list", "--json", config=config))

    [row] = [c for c in listed if c["client_id"] == created["client_id"]]
    assert row["client_name"] == "web"
    assert "client_secret" not in row
    assert created["client_secret"] not in json.dumps(listed)


def test_a_public_client_has_no_secret(tmp_path: Path, config: Path) -> None:
    [created] = json_out(
        authgate(
            tmp_path,
            "clients",
            "create",
            "--client-name",
            "spa",
            "--token-endpoint-auth-method",
            "none",
            "--json",
            config=config,
        )
    )

    assert created["client_id"]
    assert created["token_endpoint_auth_method"] == "none"
    assert created.get("client_secret") is None


def test_clients_create_can_turn_refresh_token_rotation_off(tmp_path: Path, config: Path) -> None:
    [created] = json_out(
        authgate(
            tmp_path,
            "clients",
            "create",
            "--client-name",
            "cognito-app",
            "--no-refresh-token-rotation",
            "--json",
            config=config,
        )
    )

    assert created["refresh_token_rotation"] is False


# --- serve ----------------------------------------------------------------------------


@pytest.mark.parametrize("busy", ["public", "admin"])
def test_serve_exits_with_an_error_when_a_port_is_taken(tmp_path: Path, busy: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = {"public": free_port(), "admin": free_port()}
        ports[busy] = taken.getsockname()[1]
        config = write_config(
            tmp_path,
            config_dict(
                tmp_path,
                public={"listen": f"127.0.0.1:{ports['public']}"},
                admin={"listen": f"127.0.0.1:{ports['admin']}"},
            ),
        )

        try:
            result = authgate(tmp_path, "serve", config=config, timeout=30)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"serve kept running with the {busy} port taken: {exc.stderr!r}")

    assert result.returncode != 0
    assert result.stderr.strip()
