"""Every secret-bearing key takes a literal value or a reference (`env:NAME`, `file:PATH`),
and what uses the key gets the value referred to; a reference that cannot be resolved is an
error naming the key and the variable or file.

The keys come from the settings model itself (`secret_keys()`), so a secret key added later
is held to the same tests, and must name the code that uses it in USED_BY below.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from authgate.bootstrap import (
    load_admin_token,
    load_kek,
    open_store,
    provider_secrets,
    smtp_credentials,
)
from authgate.config import ConfigError, Settings, json_schema, secret_keys, secret_problems
from authgate.gateway.upstreams import basic_authorization
from authgate.hooks.settings import HOOK_NAMES
from authgate.hooks.transport import hook_secret, hook_url
from authgate.secret_refs import SECRET_MARK, _models
from authgate.tokens.keys import encode_kek, new_key_encryption_key

EVERY_SECRET_KEY = [
    "admin.token",
    "database.url",
    "secrets.key_encryption_key",
    "mail.smtp.username",
    "mail.smtp.password",
    "gateway.upstreams.*.basic_auth.username",
    "gateway.upstreams.*.basic_auth.password",
    "cognito.access_keys.*.secret_access_key",
    "redis.url",
    *(f"hooks.{name}.{part}" for name in HOOK_NAMES for part in ("url", "secret")),
    "identity_providers.*.client_secret",
]
SECRET_NAME = re.compile(r"(password|secret|token|username|credentials?|dsn|url)$|_key$")
"""Names that say a text key holds a secret (a database URL may carry a password)."""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("AUTHGATE_"):
            monkeypatch.delenv(name)
    yield


def _store_file(settings: Settings) -> str:
    async def run() -> str:
        store = await open_store(settings, migrate=True)
        await store.close()
        return settings.database.resolved_url()

    return asyncio.run(run())


def _basic(part: int) -> Callable[[Settings], str]:
    def used(settings: Settings) -> str:
        header = basic_authorization("orders", settings.gateway.upstreams["orders"])
        assert header is not None
        return base64.b64decode(header.removeprefix("Basic ")).decode().split(":")[part]

    return used


def _hook(name: str, part: str) -> Callable[[Settings], str]:
    def used(settings: Settings) -> str:
        endpoint = settings.hooks.endpoint(name)
        assert endpoint is not None
        return (hook_url if part == "url" else hook_secret)(name, endpoint)

    return used


USED_BY: dict[str, Callable[[Settings], Any]] = {
    "admin.token": lambda s: load_admin_token(s)[0],
    "database.url": _store_file,
    "secrets.key_encryption_key": lambda s: encode_kek(load_kek(s)),
    "mail.smtp.username": lambda s: smtp_credentials(s)[0],
    "mail.smtp.password": lambda s: smtp_credentials(s)[1],
    "gateway.upstreams.*.basic_auth.username": _basic(0),
    "gateway.upstreams.*.basic_auth.password": _basic(1),
    "cognito.access_keys.*.secret_access_key": lambda s: s.cognito.secret_for(ACCESS_KEY_ID),
    "redis.url": lambda s: s.redis.resolved_url() if s.redis is not None else "",
    **{
        f"hooks.{name}.{part}": _hook(name, part)
        for name in HOOK_NAMES
        for part in ("url", "secret")
    },
    "identity_providers.*.client_secret": lambda s: provider_secrets(s)["corp"],
}
"""What each secret key is for: the code that uses it, returning the value it got."""


ACCESS_KEY_ID = "AKIAEXAMPLEEXAMPLE00"


def concrete(key: str) -> str:
    """A key pattern as one setting: `*` is the upstream `orders`, or the first list item."""
    listed = key.startswith(("cognito.access_keys", "identity_providers"))
    return key.replace("*", "0" if listed else "orders")


def secret_value(key: str, tmp_path: Path) -> str:
    """A value each key's user accepts."""
    if key == "database.url":
        return f"sqlite+aiosqlite:///{tmp_path / 'referred.db'}"
    if key == "secrets.key_encryption_key":
        return encode_kek(new_key_encryption_key())
    if key == "redis.url":
        return "redis://:s3cret-value@127.0.0.1:6379/0"
    if key.startswith("hooks.") and key.endswith(".url"):
        return "https://hook:s3cret-value@hooks.example/" + key
    return "s3cret-value-" + key.replace("*", "x")


def settings_with(key: str, value: str, tmp_path: Path) -> Settings:
    """A configuration in which every secret key has a literal value, and `key` has `value`."""
    config: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "mail": {"sender": "smtp", "smtp": {"username": "u", "password": "p"}},
        "gateway": {
            "upstreams": {
                "orders": {
                    "targets": ["http://127.0.0.1:9"],
                    "basic_auth": {"username": "u", "password": "p"},
                }
            }
        },
    }
    config["cognito"] = {
        "access_keys": [{"access_key_id": ACCESS_KEY_ID, "secret_access_key": "s"}]
    }
    config["hooks"] = {
        name: {"url": "http://127.0.0.1:9/hook", "secret": "whsec_c2VjcmV0"} for name in HOOK_NAMES
    }
    config["identity_providers"] = [
        {"name": "corp", "issuer": "https://idp.example", "client_id": "a", "client_secret": "s"}
    ]
    node = config
    *parents, leaf = key.replace("*", "orders").split(".")
    for part in parents:
        node = node.setdefault(part, {}) if isinstance(node, dict) else node[0]
    node[leaf] = value
    (tmp_path / "data").mkdir(exist_ok=True)
    return Settings(**config)


def test_the_secret_keys_are_the_ones_the_readme_lists() -> None:
    assert secret_keys() == EVERY_SECRET_KEY


def test_every_secret_key_says_what_uses_it() -> None:
    assert set(USED_BY) == set(secret_keys())


def _named_like_secrets(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        if SECRET_NAME.search(name) and "str" in repr(field.annotation):
            yield key, field
        for part, inner in _models(field.annotation):
            yield from _named_like_secrets(inner, f"{key}.{part}." if part else f"{key}.")


def test_every_key_named_like_a_secret_is_a_secret_key() -> None:
    named = {key for key, _ in _named_like_secrets(Settings)}

    assert named <= set(secret_keys())


def test_the_json_schema_marks_the_secret_keys() -> None:
    text = str(json_schema())
    # The six hooks share one model: its two keys are marked once.
    shared = len(HOOK_NAMES) * 2 - 2

    assert text.count(f"'{SECRET_MARK}': True") == len(EVERY_SECRET_KEY) - shared


@pytest.mark.parametrize("key", secret_keys())
def test_a_secret_key_takes_a_literal_value(key: str, tmp_path: Path) -> None:
    value = secret_value(key, tmp_path)

    assert USED_BY[key](settings_with(key, value, tmp_path)) == value


@pytest.mark.parametrize("key", secret_keys())
def test_a_secret_key_takes_an_env_reference(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = secret_value(key, tmp_path)
    monkeypatch.setenv("AUTHGATE_TEST_SECRET", value)

    assert USED_BY[key](settings_with(key, "env:AUTHGATE_TEST_SECRET", tmp_path)) == value


@pytest.mark.parametrize("key", secret_keys())
def test_a_secret_key_takes_a_file_reference(key: str, tmp_path: Path) -> None:
    value = secret_value(key, tmp_path)
    secret = tmp_path / "secret"
    secret.write_text(value + "\n", encoding="utf-8")

    assert USED_BY[key](settings_with(key, f"file:{secret}", tmp_path)) == value


@pytest.mark.parametrize("key", secret_keys())
def test_an_unset_variable_is_an_error_naming_the_key_and_the_variable(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUTHGATE_TEST_UNSET", raising=False)
    settings = settings_with(key, "env:AUTHGATE_TEST_UNSET", tmp_path)

    with pytest.raises(ConfigError) as caught:
        USED_BY[key](settings)

    (problem,) = caught.value.problems
    assert problem.startswith(concrete(key) + ":")
    assert "AUTHGATE_TEST_UNSET" in problem


@pytest.mark.parametrize("key", secret_keys())
def test_an_unreadable_file_is_an_error_naming_the_key_and_the_file(
    key: str, tmp_path: Path
) -> None:
    absent = tmp_path / "elsewhere" / "absent"
    settings = settings_with(key, f"file:{absent}", tmp_path)

    with pytest.raises(ConfigError) as caught:
        USED_BY[key](settings)

    (problem,) = caught.value.problems
    assert problem.startswith(concrete(key) + ":")
    assert f"cannot read {absent}" in problem


def test_a_referred_database_url_with_an_unknown_driver_is_an_error_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHGATE_TEST_SECRET", "mysql://root:hunter2@db/authgate")
    settings = settings_with("database.url", "env:AUTHGATE_TEST_SECRET", tmp_path)

    with pytest.raises(ConfigError) as caught:
        settings.database.resolved_url()

    (problem,) = caught.value.problems
    assert problem.startswith("database.url: env:AUTHGATE_TEST_SECRET:")
    assert "hunter2" not in problem


def test_references_stay_unresolved_in_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHGATE_TEST_SECRET", "s3cret-value")

    settings = settings_with("mail.smtp.password", "env:AUTHGATE_TEST_SECRET", tmp_path)

    assert "s3cret-value" not in repr(settings)


@pytest.mark.parametrize("key", secret_keys())
def test_config_check_finds_a_reference_that_cannot_be_resolved(key: str, tmp_path: Path) -> None:
    absent = tmp_path / "elsewhere" / "absent"
    settings = settings_with(key, f"file:{absent}", tmp_path)

    (problem,) = secret_problems(settings)

    where = concrete(key)
    assert problem == f"{where}: cannot read {absent}: No such file or directory"


@pytest.mark.parametrize("key", ["admin.token", "secrets.key_encryption_key"])
def test_config_check_leaves_to_the_first_start_what_it_generates(key: str, tmp_path: Path) -> None:
    settings = settings_with(key, f"file:{tmp_path / 'data' / 'not-yet'}", tmp_path)

    assert secret_problems(settings) == []


def test_config_check_finds_nothing_when_every_reference_resolves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHGATE_TEST_SECRET", "s3cret-value")

    settings = settings_with("mail.smtp.password", "env:AUTHGATE_TEST_SECRET", tmp_path)

    assert secret_problems(settings) == []
