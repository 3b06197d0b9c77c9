"""PKCE (RFC 7636), S256 only, and who must use it."""

from __future__ import annotations

import pytest

from authgate.clients.metadata import ClientMetadata
from authgate.clients.registry import Client
from authgate.tokens import pkce

# RFC 7636 Appendix B.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def client(**metadata: object) -> Client:
    return Client("c1", ClientMetadata.model_validate(metadata), 0.0, 0.0)


def test_challenge_of_the_rfc_example() -> None:
    assert pkce.challenge_of(VERIFIER) == CHALLENGE


def test_matching_verifier_verifies() -> None:
    assert pkce.verifies(VERIFIER, CHALLENGE)


def test_other_verifier_does_not_verify() -> None:
    assert not pkce.verifies(VERIFIER[:-1] + "l", CHALLENGE)


def test_challenge_presented_as_verifier_does_not_verify() -> None:
    assert not pkce.verifies(CHALLENGE, CHALLENGE)


@pytest.mark.parametrize(
    "verifier",
    ["a" * 42, "a" * 129, "a" * 42 + " ", "a" * 42 + "+", "a" * 42 + "/", "ä" * 43, None, 43],
)
def test_malformed_verifiers_are_refused(verifier: object) -> None:
    assert not pkce.is_valid_verifier(verifier)
    assert not pkce.verifies(verifier, CHALLENGE)


@pytest.mark.parametrize("verifier", ["a" * 43, "A-._~" * 25 + "abc", "0" * 128])
def test_verifiers_of_the_unreserved_set_and_length_are_valid(verifier: str) -> None:
    assert pkce.is_valid_verifier(verifier)


@pytest.mark.parametrize("challenge", [CHALLENGE[:-1], CHALLENGE + "A", CHALLENGE + "=", "+" * 43])
def test_challenges_must_be_43_base64url_characters(challenge: str) -> None:
    assert not pkce.is_valid_challenge(challenge)


def test_public_client_always_needs_pkce() -> None:
    public = client(token_endpoint_auth_method="none", require_pkce=False)
    assert pkce.required_for(public, default=False)


@pytest.mark.parametrize(
    ("setting", "default", "required"),
    [(None, True, True), (None, False, False), (False, True, False), (True, False, True)],
)
def test_confidential_client_follows_its_setting_else_the_default(
    setting: bool | None, default: bool, required: bool
) -> None:
    confidential = client(token_endpoint_auth_method="client_secret_basic", require_pkce=setting)
    assert pkce.required_for(confidential, default=default) is required
