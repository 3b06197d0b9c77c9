"""API Gateway authorizer events, ARNs and the `aws_authorizer:` section, without a server."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from authgate.config import Settings
from authgate.gateway.aws_events import BadEvent, bearer_of, parse_arn, parse_event
from authgate.gateway.aws_settings import AwsAuthorizerSettings
from tests.aws_samples import HTTP_API_EVENT, REQUEST_EVENT, TOKEN_EVENT, request_event

partitions = st.sampled_from(["aws", "aws-cn", "aws-us-gov"])
regions = st.sampled_from(["us-east-1", "eu-west-3", "ap-southeast-2", "us-gov-west-1"])
accounts = st.from_regex(r"\d{12}", fullmatch=True)
api_ids = st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True)
stages = st.one_of(st.just("$default"), st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True))
verbs = st.sampled_from(["GET", "POST", "DELETE", "*"])
paths = st.from_regex(r"[A-Za-z0-9_.~{}+-]{0,12}(/[A-Za-z0-9_.~{}+-]{1,12}){0,4}", fullmatch=True)


@given(partitions, regions, accounts, api_ids, stages, verbs, paths)
def test_an_arn_parses_into_its_parts_and_its_wildcard_stays_in_its_stage(
    partition: str, region: str, account: str, api: str, stage: str, verb: str, path: str
) -> None:
    text = f"arn:{partition}:execute-api:{region}:{account}:{api}/{stage}/{verb}/{path}"
    arn = parse_arn(text)
    assert (arn.partition, arn.region, arn.account) == (partition, region, account)
    assert (arn.api_id, arn.stage, arn.verb, arn.path) == (api, stage, verb, "/" + path)
    prefix = f"arn:{partition}:execute-api:{region}:{account}:{api}/{stage}/"
    assert arn.stage_wildcard == prefix + "*/*"


@given(st.text(max_size=120))
def test_any_text_is_an_arn_or_bad_arn_never_another_error(text: str) -> None:
    try:
        arn = parse_arn(text)
    except BadEvent as bad:
        assert bad.code == "bad_arn"
    else:
        assert text.startswith(f"arn:{arn.partition}:execute-api:")
        assert arn.stage_wildcard.count("/") == 3


@given(st.text(alphabet="/:*$ ?#\n", max_size=8))
def test_an_api_or_stage_with_separators_never_widens_the_wildcard(junk: str) -> None:
    text = f"arn:aws:execute-api:us-east-1:123456789012:api{junk}x/prod/GET/a"
    try:
        arn = parse_arn(text)
    except BadEvent:
        return
    assert arn.api_id == f"api{junk}x" and "/" not in arn.api_id and "*" not in arn.api_id


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
samples = st.sampled_from([TOKEN_EVENT, REQUEST_EVENT, HTTP_API_EVENT])
field_names = st.sampled_from(
    [
        "type",
        "version",
        "methodArn",
        "routeArn",
        "authorizationToken",
        "headers",
        "multiValueHeaders",
        "identitySource",
        "requestContext",
        "httpMethod",
        "path",
        "rawPath",
    ]
)


@given(samples, field_names, json_values)
def test_a_sample_with_any_field_replaced_parses_or_is_a_bad_event(
    sample: dict[str, Any], name: str, value: Any
) -> None:
    try:
        event = parse_event({**sample, name: value}, "Authorization")
    except BadEvent as bad:
        assert bad.code in ("bad_type", "bad_version", "bad_arn", "bad_field")
    else:
        assert event.arn_text in (sample.get("methodArn"), sample.get("routeArn"), value)


def test_the_default_route_arn_names_no_verb_or_path() -> None:
    arn = parse_arn("arn:aws:execute-api:us-east-1:123456789012:abc123/$default/$default")
    assert (arn.stage, arn.verb, arn.path) == ("$default", None, None)


@pytest.mark.parametrize(
    "text",
    [
        "arn:aws:s3:us-east-1:123456789012:abc/prod/GET/x",
        "arn:aws:execute-api:us-east-1:12345:abc/prod/GET/x",
        "arn:aws:execute-api:us-east-1:123456789012:abc/prod",
        "arn:aws:execute-api:us-east-1:123456789012:ABC/prod/GET/x",
        "arn:aws:execute-api:us-east-1:123456789012:abc/prod/get/x",
        "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/a b",
        "arn:aws:execute-api:us-east-1:123456789012:abc/pr:od/GET/x",
    ],
)
def test_a_malformed_arn_is_bad_arn(text: str) -> None:
    with pytest.raises(BadEvent) as bad:
        parse_arn(text)
    assert bad.value.code == "bad_arn"


def test_the_documented_token_sample_parses() -> None:
    event = parse_event(TOKEN_EVENT, "Authorization")
    assert (event.kind, event.credential, event.arn.stage, event.arn.path) == (
        "TOKEN",
        "allow",
        "*",
        "/",
    )


def test_the_documented_request_sample_reads_its_token_source_header() -> None:
    event = parse_event(REQUEST_EVENT, "headerauth1")
    assert (event.kind, event.version, event.credential) == ("REQUEST", "1.0", "headerValue1")
    assert (event.method, event.path, event.arn.api_id) == ("GET", "/request", "abcdef123")


def test_the_documented_http_api_sample_reads_its_route() -> None:
    event = parse_event(HTTP_API_EVENT, "Authorization")
    assert (event.kind, event.version, event.credential) == ("REQUEST_V2", "2.0", None)
    assert (event.method, event.path, event.arn.verb) == ("POST", "/my/path", "GET")


def test_two_different_authorization_values_are_a_repeated_token() -> None:
    event = request_event("Bearer a")
    event["multiValueHeaders"] = {"Authorization": ["Bearer a", "Bearer b"]}
    assert parse_event(event, "Authorization").repeated


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "COGNITO"}, "bad_type"),
        ({"version": "3.0", "type": "REQUEST"}, "bad_version"),
        ({"version": "2.0", "type": "TOKEN", "routeArn": "x"}, "bad_type"),
        ({"type": "TOKEN", "methodArn": 7}, "bad_field"),
        ({"type": "TOKEN", "methodArn": "arn:aws:execute-api:x"}, "bad_arn"),
        ({"type": "REQUEST", "methodArn": TOKEN_EVENT["methodArn"], "headers": []}, "bad_field"),
    ],
)
def test_a_body_that_is_no_authorizer_event_is_refused_with_a_code(
    body: dict[str, Any], code: str
) -> None:
    with pytest.raises(BadEvent) as bad:
        parse_event(body, "Authorization")
    assert bad.value.code == code


@pytest.mark.parametrize(
    ("credential", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("abc", "abc"), ("Basic abc", ""), ("", "")],
)
def test_the_bearer_scheme_is_stripped_and_other_schemes_are_no_token(
    credential: str, token: str
) -> None:
    assert bearer_of(credential) == token


def test_the_section_needs_require_or_policy() -> None:
    with pytest.raises(ValidationError, match="require, policy or both"):
        AwsAuthorizerSettings.model_validate({})


def test_a_wildcard_resource_with_policy_is_refused() -> None:
    with pytest.raises(ValidationError, match="resource: wildcard"):
        AwsAuthorizerSettings.model_validate(
            {"resource": "wildcard", "policy": {"action": "{method}", "resource": "{path}"}}
        )


def test_a_typo_in_the_section_names_its_key() -> None:
    with pytest.raises(ValidationError) as error:
        Settings.model_validate({"aws_authorizer": {"require": {"scope_any": ["x"]}}})
    assert ("aws_authorizer", "require", "scope_any") in [e["loc"] for e in error.value.errors()]
