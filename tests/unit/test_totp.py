"""TOTP per RFC 6238: the Appendix B vectors, drift, and what the QR code may contain."""

from __future__ import annotations

import base64
import re

import pytest

from authgate.identity import totp
from authgate.identity.mfa import new_recovery_code, normalize_recovery_code
from authgate.tokens.amr import acr_for, is_multi_factor

# RFC 6238 Appendix B, SHA-1 column: the ASCII secret "12345678901234567890", 8 digits.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("when", "expected"), VECTORS)
def test_rfc_6238_appendix_b_sha1_vectors(when: int, expected: str) -> None:
    assert totp.code_at_step(RFC_SECRET, totp.step_at(when), digits=8) == expected


@pytest.mark.parametrize(("when", "expected"), VECTORS)
def test_product_codes_are_the_last_six_digits_of_the_vectors(when: int, expected: str) -> None:
    assert totp.code_at_step(RFC_SECRET, totp.step_at(when)) == expected[-6:]


def test_a_code_of_the_current_step_matches_that_step() -> None:
    now = 1111111111.0
    code = totp.code_at_step(RFC_SECRET, totp.step_at(now))
    assert totp.matching_step(RFC_SECRET, code, now) == totp.step_at(now)


@pytest.mark.parametrize("offset", [-1, 1])
def test_one_step_of_drift_either_way_is_accepted(offset: int) -> None:
    now = 1111111111.0
    step = totp.step_at(now) + offset
    assert totp.matching_step(RFC_SECRET, totp.code_at_step(RFC_SECRET, step), now) == step


@pytest.mark.parametrize("offset", [-2, 2])
def test_two_steps_of_drift_are_refused(offset: int) -> None:
    now = 1111111111.0
    code = totp.code_at_step(RFC_SECRET, totp.step_at(now) + offset)
    assert totp.matching_step(RFC_SECRET, code, now) is None


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12345a", "１２３４５６", None, 123456])
def test_anything_but_six_ascii_digits_is_no_code(code: object) -> None:
    assert totp.matching_step(RFC_SECRET, code, 59.0) is None


def test_a_new_secret_is_160_bits_of_base32() -> None:
    secret = totp.new_secret()
    assert len(base64.b32decode(secret)) == 20
    assert secret != totp.new_secret()


def test_the_otpauth_uri_names_issuer_account_and_secret() -> None:
    uri = totp.otpauth_uri(RFC_SECRET, "alice@example.com", "Example Pool")
    assert uri.startswith("otpauth://totp/Example%20Pool:alice%40example.com?")
    assert f"secret={RFC_SECRET}" in uri
    assert "issuer=Example%20Pool" in uri


def test_the_qr_code_is_bare_svg_without_script_text_or_references() -> None:
    svg = totp.qr_svg(totp.otpauth_uri(RFC_SECRET, "<script>alert(1)</script>", "x"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    lowered = svg.lower()
    for forbidden in ("<script", "<text", "<title", "<style", "href", "javascript:", "<?xml"):
        assert forbidden not in lowered, forbidden
    assert not re.search(r"\son\w+\s*=", lowered)  # no event handler attributes
    assert set(re.findall(r"<(\w+)", lowered)) == {"svg", "path"}


def test_recovery_codes_read_back_with_separators_case_and_lookalikes_folded() -> None:
    code = new_recovery_code()
    assert len(code) == 11 and code[5] == "-"
    assert normalize_recovery_code(code.upper().replace("-", " ")) == code.replace("-", "")
    assert normalize_recovery_code("0O1IL-00000") == "00111" + "00000"


@pytest.mark.parametrize("value", [None, "", "short", "0123456789a", "x" * 100, "uuuuu-uuuuu"])
def test_anything_else_is_no_recovery_code(value: object) -> None:
    assert normalize_recovery_code(value) is None


@pytest.mark.parametrize(
    ("amr", "acr", "multi"),
    [
        (["pwd"], "aal1", False),
        (["pwd", "otp"], "aal2", True),
        (["pwd", "mfa"], "aal2", True),
        (["hwk"], "aal2", True),
        (["swk"], "aal2", True),
    ],
)
def test_amr_maps_to_acr_and_to_the_gate_mfa_check(amr: list[str], acr: str, multi: bool) -> None:
    assert acr_for(amr) == acr
    assert is_multi_factor(amr) is multi


@pytest.mark.parametrize("claim", [None, "otp", ["OTP"], [1], {"otp": True}])
def test_an_amr_claim_of_another_shape_is_not_multi_factor(claim: object) -> None:
    assert not is_multi_factor(claim)
