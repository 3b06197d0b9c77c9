"""webauthn.rp_id: refused at start unless every origin may use it (WebAuthn L2 5.1.3)."""

from __future__ import annotations

import pytest

from authgate.config import ConfigError, Settings, load_settings, rp_id_problem


@pytest.mark.parametrize(
    ("rp_id", "origins"),
    [
        ("localhost", ["http://localhost:8080"]),
        ("example.com", ["https://example.com", "https://login.example.com:8443"]),
        ("login.example.co.uk", ["https://login.example.co.uk"]),
        ("localhost", ["http://app.localhost:3000"]),
        ("authgate", ["http://authgate:8080"]),  # an intranet name, as its own host
        ("127.0.0.1", ["http://127.0.0.1:8080"]),
    ],
)
def test_rp_id_that_every_origin_may_use_is_accepted(rp_id: str, origins: list[str]) -> None:
    assert rp_id_problem(rp_id, origins) is None


@pytest.mark.parametrize(
    ("rp_id", "origins"),
    [
        ("evil.com", ["https://example.com"]),
        ("ample.com", ["https://example.com"]),  # a suffix of the text, not of the labels
        ("example.com", ["https://example.com", "https://other.org"]),
        ("com", ["https://example.com"]),
        ("co.uk", ["https://example.co.uk"]),
        ("github.io", ["https://someone.github.io"]),
        ("0.0.1", ["http://127.0.0.1"]),
        ("Example.com", ["https://example.com"]),
    ],
)
def test_rp_id_that_some_origin_may_not_use_is_refused(rp_id: str, origins: list[str]) -> None:
    assert rp_id_problem(rp_id, origins) is not None


def test_defaults_come_from_the_issuer() -> None:
    settings = Settings(issuer="https://id.example.com/tenant")
    assert settings.webauthn.resolved(settings.issuer) == (
        "id.example.com",
        ["https://id.example.com"],
    )


def test_a_bad_rp_id_is_an_error_naming_the_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "authgate.yaml"
    path.write_text("webauthn: {rp_id: evil.com, origins: ['https://example.com']}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert any("webauthn.rp_id" in problem for problem in raised.value.problems)


def test_an_origin_with_a_path_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "authgate.yaml"
    path.write_text("webauthn: {origins: ['https://example.com/login']}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert any(problem.startswith("webauthn.origins") for problem in raised.value.problems)
