"""`identity_providers:` is checked when the configuration loads, each problem naming its
key and the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from authgate.config import ConfigError, load_settings

CORP: dict[str, Any] = {
    "name": "corp",
    "issuer": "https://idp.example.com",
    "client_id": "authgate",
    "client_secret": "env:CORP_SECRET",
}


def load(tmp_path: Path, *providers: dict[str, Any]) -> Any:
    path = tmp_path / "authgate.yaml"
    path.write_text(yaml.safe_dump({"identity_providers": list(providers)}))
    return load_settings(path)


def problems(tmp_path: Path, *providers: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, *providers)
    assert caught.value.source == str(tmp_path / "authgate.yaml")
    return caught.value.problems


def test_a_provider_gets_the_issue_s_defaults(tmp_path: Path) -> None:
    (provider,) = load(tmp_path, CORP).identity_providers
    assert provider.scopes == ["openid", "email", "profile"]
    assert provider.link_by_verified_email is False and provider.allow_signup is True
    assert provider.claims == {"email": "email", "name": "name"}
    assert provider.label == "corp"


def test_no_providers_is_the_default(tmp_path: Path) -> None:
    assert load(tmp_path).identity_providers == []


def test_two_providers_with_one_name_are_refused(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, CORP, {**CORP, "client_id": "other"})
    assert problem.startswith("identity_providers:") and "corp" in problem


@pytest.mark.parametrize("name", ["Corp", "co/rp", "", "a" * 41, "-corp", "co rp"])
def test_a_name_that_is_not_url_safe_is_refused(tmp_path: Path, name: str) -> None:
    (problem,) = problems(tmp_path, {**CORP, "name": name})
    assert problem.startswith("identity_providers.0.name:")


@pytest.mark.parametrize(
    "issuer",
    ["http://idp.example.com", "ftp://idp.example.com", "https://u:p@idp.example.com", "idp"],
)
def test_an_issuer_that_is_not_https_is_refused(tmp_path: Path, issuer: str) -> None:
    (problem,) = problems(tmp_path, {**CORP, "issuer": issuer})
    assert problem.startswith("identity_providers.0.issuer:")


def test_plain_http_is_allowed_to_a_loopback_issuer(tmp_path: Path) -> None:
    (provider,) = load(tmp_path, {**CORP, "issuer": "http://127.0.0.1:9000"}).identity_providers
    assert provider.issuer == "http://127.0.0.1:9000"


def test_scopes_without_openid_are_refused(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, {**CORP, "scopes": ["email"]})
    assert problem.startswith("identity_providers.0.scopes:")


@pytest.mark.parametrize("ours", ["sub", "email_verified", "Not An Attribute"])
def test_a_claim_mapped_to_something_a_provider_may_not_set_is_refused(
    tmp_path: Path, ours: str
) -> None:
    (problem,) = problems(tmp_path, {**CORP, "claims": {"x": ours}})
    assert problem.startswith("identity_providers.0.claims:")


def test_an_unknown_key_is_refused(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, {**CORP, "client_secrett": "x"})
    assert problem.startswith("identity_providers.0.client_secrett:")
