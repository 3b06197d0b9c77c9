"""The SigV4 verifier checked against botocore's own signer, and its refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from authgate.cognito.sigv4 import (
    MISMATCH_MESSAGE,
    SignatureRefused,
    SignedRequest,
    canonical_uri,
    parse_authorization,
    verify_request,
)

KEY_ID = "AKIAAUTHGATETEST0001"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KEYS = {KEY_ID: SECRET}
REGION = "us-east-1"
SIGNED_AT = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
URL = "http://127.0.0.1:8080/cognito"
TARGET = "AWSCognitoIdentityProviderService.AdminGetUser"
BODY = json.dumps({"UserPoolId": "us-east-1_authgate", "Username": "alice"}).encode()


def signed(
    *,
    url: str = URL,
    body: bytes = BODY,
    key_id: str = KEY_ID,
    secret: str = SECRET,
    region: str = REGION,
    service: str = "cognito-idp",
    at: datetime = SIGNED_AT,
    extra_headers: dict[str, str] | None = None,
) -> AWSRequest:
    """A request signed by botocore's SigV4Auth, with its clock set to `at`."""
    headers = {"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"}
    headers.update(extra_headers or {})
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    signer = SigV4Auth(Credentials(key_id, secret), service, region)
    with mock.patch("botocore.auth.get_current_datetime", return_value=at):
        signer.add_auth(request)
    return request


def as_received(request: AWSRequest, *, drop: tuple[str, ...] = ()) -> SignedRequest:
    """What the server sees of `request`: the path as sent, header lines with Host, the body."""
    parts = urlsplit(request.url)
    headers = [("host", parts.netloc)]
    headers += [(k, v) for k, v in request.headers.items() if k.lower() not in drop]
    headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in headers]
    return SignedRequest(
        method=request.method,
        raw_path=parts.path,
        raw_query=parts.query,
        headers=headers,
        body=request.body if isinstance(request.body, bytes) else request.body.encode(),
    )


def refusal(received: SignedRequest, now: datetime = SIGNED_AT) -> SignatureRefused:
    with pytest.raises(SignatureRefused) as caught:
        verify_request(received, KEYS, REGION, now)
    return caught.value


def test_a_request_botocore_signed_is_accepted() -> None:
    assert verify_request(as_received(signed()), KEYS, REGION, SIGNED_AT) == KEY_ID


def test_a_path_with_a_trailing_slash_is_verified_as_sent() -> None:
    received = as_received(signed(url=URL + "/"))
    assert verify_request(received, KEYS, REGION, SIGNED_AT) == KEY_ID


def test_a_query_string_is_part_of_what_is_signed() -> None:
    received = as_received(signed(url=URL + "?b=2&a=x%20y"))
    assert verify_request(received, KEYS, REGION, SIGNED_AT) == KEY_ID


def test_a_declared_payload_hash_equal_to_the_body_is_accepted() -> None:
    import hashlib

    digest = hashlib.sha256(BODY).hexdigest()
    received = as_received(signed(extra_headers={"X-Amz-Content-SHA256": digest}))
    assert verify_request(received, KEYS, REGION, SIGNED_AT) == KEY_ID


def test_a_clock_within_five_minutes_either_way_is_accepted() -> None:
    received = as_received(signed())
    for skew in (timedelta(minutes=-5), timedelta(minutes=5)):
        assert verify_request(received, KEYS, REGION, SIGNED_AT + skew) == KEY_ID


def test_an_unsigned_request_is_missing_its_token() -> None:
    received = as_received(signed(), drop=("authorization",))
    assert refusal(received).error_type == "MissingAuthenticationTokenException"


def test_an_unknown_access_key_is_unrecognized() -> None:
    received = as_received(signed(key_id="AKIASOMEONEELSE00001"))
    assert refusal(received).error_type == "UnrecognizedClientException"


def test_a_session_token_is_unrecognized() -> None:
    received = as_received(signed(extra_headers={"X-Amz-Security-Token": "abc"}))
    assert refusal(received).error_type == "UnrecognizedClientException"


def test_a_wrong_secret_key_is_an_invalid_signature() -> None:
    refused = refusal(as_received(signed(secret="not-the-secret")))
    assert (refused.error_type, refused.message) == ("InvalidSignatureException", MISMATCH_MESSAGE)


def test_an_old_date_is_an_expired_signature() -> None:
    refused = refusal(as_received(signed()), now=SIGNED_AT + timedelta(minutes=5, seconds=1))
    assert refused.error_type == "InvalidSignatureException"
    assert refused.message.startswith("Signature expired: 20260314T150926Z is now earlier than")


def test_a_date_in_the_future_is_not_yet_current() -> None:
    refused = refusal(as_received(signed()), now=SIGNED_AT - timedelta(minutes=6))
    assert refused.error_type == "InvalidSignatureException"
    assert refused.message.startswith("Signature not yet current")


def test_another_region_is_refused() -> None:
    refused = refusal(as_received(signed(region="eu-west-1")))
    assert refused.error_type == "InvalidSignatureException"
    assert "valid region" in refused.message


def test_another_service_is_refused() -> None:
    refused = refusal(as_received(signed(service="dynamodb")))
    assert refused.error_type == "InvalidSignatureException"
    assert "cognito-idp" in refused.message


def test_x_amz_target_left_out_of_the_signed_headers_is_refused() -> None:
    request = AWSRequest(method="POST", url=URL, data=BODY, headers={"X-Amz-Target": TARGET})
    signer = SigV4Auth(Credentials(KEY_ID, SECRET), "cognito-idp", REGION)
    del request.headers["X-Amz-Target"]
    with mock.patch("botocore.auth.get_current_datetime", return_value=SIGNED_AT):
        signer.add_auth(request)
    request.headers["X-Amz-Target"] = TARGET
    refused = refusal(as_received(request))
    assert refused.error_type == "InvalidSignatureException"
    assert "x-amz-target" in refused.message


def test_a_changed_target_after_signing_is_refused() -> None:
    request = signed()
    request.headers.replace_header(
        "X-Amz-Target", "AWSCognitoIdentityProviderService.AdminDeleteUser"
    )
    assert refusal(as_received(request)).message == MISMATCH_MESSAGE


def test_a_body_changed_after_signing_is_refused() -> None:
    received = as_received(signed())
    tampered = SignedRequest(
        received.method,
        received.raw_path,
        received.raw_query,
        received.headers,
        BODY.replace(b"alice", b"mallory"),
    )
    assert refusal(tampered).message == MISMATCH_MESSAGE


def test_a_declared_payload_hash_unlike_the_body_is_refused() -> None:
    received = as_received(signed(extra_headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}))
    assert refusal(received).error_type == "InvalidSignatureException"


def test_a_signed_header_missing_from_the_request_is_refused() -> None:
    received = as_received(signed(), drop=("content-type",))
    assert refusal(received).error_type == "InvalidSignatureException"


def test_a_scope_date_unlike_x_amz_date_is_refused() -> None:
    request = signed()
    request.headers.replace_header("X-Amz-Date", "20260315T150926Z")
    refused = refusal(as_received(request), now=datetime(2026, 3, 15, 15, 9, 26, tzinfo=UTC))
    assert "Credential scope" in refused.message


def test_two_authorization_headers_are_refused() -> None:
    received = as_received(signed())
    twice = SignedRequest(
        received.method,
        received.raw_path,
        received.raw_query,
        [*received.headers, ("Authorization", received.header_values("authorization")[0])],
        received.body,
    )
    assert refusal(twice).error_type == "IncompleteSignatureException"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("", "/"),
        ("/cognito", "/cognito"),
        ("/cognito/", "/cognito/"),
        ("//cognito//./x/../", "/cognito/"),
        ("/a%20b", "/a%2520b"),
    ],
)
def test_the_canonical_uri_matches_what_aws_signs(raw: str, canonical: str) -> None:
    assert canonical_uri(raw) == canonical


# The Authorization header parser.

key_ids = st.from_regex(r"[A-Z0-9]{16,40}", fullmatch=True)
dates = st.from_regex(r"20[0-9]{6}", fullmatch=True)
regions = st.sampled_from(["us-east-1", "eu-west-3", "ap-southeast-2"])
header_names = st.lists(
    st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True), min_size=1, max_size=8, unique=True
).map(sorted)
signatures = st.from_regex(r"[0-9a-f]{64}", fullmatch=True)


@given(key_ids, dates, regions, header_names, signatures, st.sampled_from([", ", ",", " ,  "]))
def test_every_well_formed_header_parses_to_its_parts(
    key_id: str, date: str, region: str, names: list[str], sig: str, separator: str
) -> None:
    value = separator.join(
        [
            f"AWS4-HMAC-SHA256 Credential={key_id}/{date}/{region}/cognito-idp/aws4_request",
            f"SignedHeaders={';'.join(names)}",
            f"Signature={sig}",
        ]
    )
    parsed = parse_authorization(value)
    assert (parsed.access_key_id, parsed.scope_date, parsed.region) == (key_id, date, region)
    assert (parsed.service, parsed.signed_headers, parsed.signature) == (
        "cognito-idp",
        tuple(names),
        sig,
    )


@given(st.text(max_size=300))
def test_any_text_either_parses_or_is_refused_as_incomplete(value: str) -> None:
    try:
        parse_authorization(value)
    except SignatureRefused as refused:
        assert refused.error_type == "IncompleteSignatureException"


@given(header_names.filter(lambda names: len(names) > 1))
def test_unsorted_signed_headers_are_refused(names: list[str]) -> None:
    value = (
        f"AWS4-HMAC-SHA256 Credential={KEY_ID}/20260314/us-east-1/cognito-idp/aws4_request, "
        f"SignedHeaders={';'.join(reversed(names))}, Signature={'0' * 64}"
    )
    with pytest.raises(SignatureRefused):
        parse_authorization(value)


CREDENTIAL = "Credential=A/20260314/us-east-1/cognito-idp/aws4_request"
ZEROS = "0" * 64


@pytest.mark.parametrize(
    "value",
    [
        f"AWS4-HMAC-SHA1 {CREDENTIAL}, SignedHeaders=host, Signature={ZEROS}",
        f"AWS4-HMAC-SHA256 Credential=A/20260314/x, SignedHeaders=host, Signature={ZEROS}",
        f"AWS4-HMAC-SHA256 {CREDENTIAL}, SignedHeaders=Host, Signature={ZEROS}",
        f"AWS4-HMAC-SHA256 {CREDENTIAL}, SignedHeaders=host",
        f"AWS4-HMAC-SHA256 {CREDENTIAL}, SignedHeaders=host, Signature=XYZ",
        f"AWS4-HMAC-SHA256 {CREDENTIAL}, {CREDENTIAL}, SignedHeaders=host, Signature={ZEROS}",
        f"AWS4-HMAC-SHA256 {CREDENTIAL}, SignedHeaders=host, Signature={ZEROS}, Extra=1",
    ],
)
def test_malformed_headers_are_incomplete_signatures(value: str) -> None:
    with pytest.raises(SignatureRefused) as caught:
        parse_authorization(value)
    assert caught.value.error_type == "IncompleteSignatureException"
