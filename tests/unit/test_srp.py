"""Cognito SRP-6a arithmetic against pycognito's client (AWSSRP), an implementation written
independently from AWS's JavaScript helper: if both sides agree on every byte, the
signature pycognito computes from the password is the one the server expects."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycognito import aws_srp
from pycognito.aws_srp import AWSSRP

from authgate.identity import srp

POOL_ID = "us-east-1_authgate"
POOL = "authgate"


def _server_challenge(
    user_id: str, password: str, big_a: int
) -> tuple[dict[str, str], int, srp.ServerEphemeral, bytes]:
    salt = srp.new_salt()
    v = srp.verifier(POOL, user_id, password, salt)
    ephemeral = srp.server_ephemeral(v)
    block = os.urandom(48)
    params = {
        "USER_ID_FOR_SRP": user_id,
        "USERNAME": user_id,
        "SALT": srp.salt_hex(salt),
        "SRP_B": f"{ephemeral.B:x}",
        "SECRET_BLOCK": base64.b64encode(block).decode(),
    }
    return params, v, ephemeral, block


def _exchange(
    user_id: str, stored_password: str, typed_password: str
) -> tuple[dict[str, Any], bytes]:
    """pycognito answers the server's challenge; returns its answer and the expected sig."""
    client = AWSSRP(user_id, typed_password, POOL_ID, "client-id", client=object())
    request = client.get_auth_params()
    big_a = srp.parse_public(request["SRP_A"])
    params, v, ephemeral, block = _server_challenge(user_id, stored_password, big_a)
    answer = client.process_challenge(params, request)
    key = srp.server_key(big_a, v, ephemeral)
    expected = srp.claim_signature(key, POOL, user_id, block, answer["TIMESTAMP"])
    return answer, expected


def test_pycognito_signature_matches_the_server_key() -> None:
    answer, expected = _exchange("alice", "correct horse battery", "correct horse battery")
    given_sig = base64.b64decode(answer["PASSWORD_CLAIM_SIGNATURE"])
    assert srp.signature_matches(expected, given_sig)


@given(
    user_id=st.text(st.characters(codec="utf-8"), min_size=1, max_size=30),
    password=st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
)
def test_any_name_and_password_agree_with_pycognito(user_id: str, password: str) -> None:
    answer, expected = _exchange(user_id, password, password)
    assert srp.signature_matches(expected, base64.b64decode(answer["PASSWORD_CLAIM_SIGNATURE"]))


def test_wrong_password_gives_another_signature() -> None:
    answer, expected = _exchange("alice", "correct horse battery", "correct horse batterY")
    given_sig = base64.b64decode(answer["PASSWORD_CLAIM_SIGNATURE"])
    assert not srp.signature_matches(expected, given_sig)


def test_other_pool_gives_another_verifier() -> None:
    salt = srp.new_salt()
    assert srp.verifier("a", "bob", "pw", salt) != srp.verifier("b", "bob", "pw", salt)


def test_multiplier_is_pycognitos() -> None:
    client = AWSSRP("u", "p", POOL_ID, "c", client=object())
    assert client.val_k == srp.K
    assert client.big_n == srp.N


@given(st.integers(min_value=0, max_value=srp.N))
def test_pad_hex_is_awss(value: int) -> None:
    assert srp.pad_hex(value) == aws_srp.pad_hex(value)


@given(st.integers(min_value=0, max_value=2**64))
def test_salt_hex_survives_a_round_trip_through_a_number(seed: int) -> None:
    salt = srp.new_salt()
    text = srp.salt_hex(salt)
    assert not text.startswith("0")
    assert aws_srp.pad_hex(text) == srp.pad_hex(int(text, 16))


@pytest.mark.parametrize("value", [0, srp.N, 2 * srp.N, srp.N + 1])
def test_public_value_zero_mod_n_or_too_big_is_refused(value: int) -> None:
    with pytest.raises(srp.SrpError):
        srp.parse_public(f"{value:x}")


def test_server_key_refuses_a_zero_mod_n() -> None:
    ephemeral = srp.server_ephemeral(srp.verifier(POOL, "u", "p", srp.new_salt()))
    with pytest.raises(srp.SrpError):
        srp.server_key(srp.N, 5, ephemeral)


@given(st.integers(min_value=1, max_value=srp.N - 1), st.booleans(), st.integers(0, 3))
def test_public_value_in_range_parses(value: int, upper: bool, zeros: int) -> None:
    text = "0" * zeros + f"{value:x}"
    assert srp.parse_public(text.upper() if upper else text) == value


@given(st.one_of(st.text(max_size=800), st.none(), st.integers(), st.binary()))
def test_public_value_parser_only_raises_srp_error(value: object) -> None:
    try:
        parsed = srp.parse_public(value)
    except srp.SrpError:
        return
    assert isinstance(value, str) and 0 < parsed < srp.N


@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)))
def test_timestamp_round_trips_and_matches_pycognito(moment: datetime) -> None:
    moment = moment.replace(microsecond=0, tzinfo=UTC)
    text = srp.format_timestamp(moment)
    assert text == AWSSRP.get_cognito_formatted_timestamp(moment)
    assert srp.parse_timestamp(text) == moment


def test_timestamp_has_an_unpadded_day() -> None:
    assert srp.format_timestamp(datetime(2026, 10, 6, 1, 2, 3, tzinfo=UTC)) == (
        "Tue Oct 6 01:02:03 UTC 2026"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Tue Oct 06 01:02:03 UTC 2026",  # zero-padded day
        "Wed Oct 6 01:02:03 UTC 2026",  # wrong weekday
        "Tue Oct 6 1:02:03 UTC 2026",
        "Tue Oct 6 01:02:03 GMT 2026",
        "Tue Oct 6 01:02:03 UTC 2026 ",
        "Fri Feb 30 01:02:03 UTC 2026",
        "tue oct 6 01:02:03 UTC 2026",
    ],
)
def test_malformed_timestamp_is_refused(text: str) -> None:
    with pytest.raises(srp.SrpError):
        srp.parse_timestamp(text)


@given(st.one_of(st.text(max_size=60), st.none(), st.integers()))
def test_timestamp_parser_only_raises_srp_error(value: object) -> None:
    try:
        parsed = srp.parse_timestamp(value)
    except srp.SrpError:
        return
    assert srp.format_timestamp(parsed) == value


def test_timestamps_a_day_apart_differ() -> None:
    moment = datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC)
    assert srp.format_timestamp(moment + timedelta(seconds=1)) == "Sun Feb 1 00:00:00 UTC 2026"


def test_pool_name_is_the_part_after_the_region() -> None:
    assert srp.pool_name("us-east-1_authgate") == "authgate"
    with pytest.raises(ValueError):
        srp.pool_name("nounderscore")


def test_verifier_bytes_round_trip() -> None:
    v = srp.verifier(POOL, "u", "p", srp.new_salt())
    assert srp.verifier_from_bytes(srp.verifier_bytes(v)) == v
