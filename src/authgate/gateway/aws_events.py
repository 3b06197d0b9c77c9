"""API Gateway's Lambda-authorizer events and answers, as plain data (no HTTP here).

Three event shapes arrive: REST API `TOKEN` (`authorizationToken`, `methodArn`), REST API
`REQUEST` payload 1.0 (`methodArn`, `httpMethod`, `path`, `headers`, `multiValueHeaders`,
`requestContext`...) and HTTP API payload 2.0 (`version: "2.0"`, `routeArn`,
`identitySource`, `rawPath`, lower-cased `headers`, `requestContext.http`). Each becomes
one `AuthorizerEvent`; anything that is not one of them is a `BadEvent` (400) with a code.

The method or route ARN is parsed strictly (`arn:PARTITION:execute-api:REGION:ACCOUNT:
API/STAGE/VERB/PATH`, or `API/STAGE/$default` for an HTTP API's default route), so the
wildcard ARN for caching (`API/STAGE/*/*`) is built from checked parts only: nothing an
event sends can widen it past its own API and stage.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from authgate.policy.patterns import has_control_character

MAX_ARN = 2048
MAX_VALUE = 16384
DEFAULT_ROUTE = "$default"
_PARTITION = re.compile(r"aws(-[a-z]+){0,3}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+){1,3}-\d{1,2}")
_ACCOUNT = re.compile(r"\d{12}")
_API_ID = re.compile(r"[a-z0-9]{1,64}")
_STAGE = re.compile(r"\$default|\*|[A-Za-z0-9_-]{1,128}")
_VERB = re.compile(r"\*|[A-Z]{1,16}")
_PATH_CHARS = re.compile(r"[\x21-\x7e]*")


class BadEvent(Exception):
    """The body is not an authorizer event this endpoint understands (400)."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass(frozen=True)
class ExecuteApiArn:
    """A parsed method or route ARN; `verb` and `path` are None for `$default`."""

    partition: str
    region: str
    account: str
    api_id: str
    stage: str
    verb: str | None
    path: str | None

    @property
    def stage_wildcard(self) -> str:
        """Every method and path of this API's stage: API Gateway caches one answer for it."""
        return (
            f"arn:{self.partition}:execute-api:{self.region}:{self.account}:"
            f"{self.api_id}/{self.stage}/*/*"
        )


def parse_arn(value: Any, name: str = "methodArn") -> ExecuteApiArn:
    """The parts of an execute-api ARN; BadEvent `bad_arn` unless it is one exactly."""
    if not isinstance(value, str) or not value or len(value) > MAX_ARN:
        raise BadEvent("bad_arn", f"{name} must be an execute-api ARN.")
    fields = value.split(":", 5)
    if len(fields) != 6 or fields[0] != "arn" or fields[2] != "execute-api":
        raise BadEvent("bad_arn", f"{name} must be an execute-api ARN.")
    _, partition, _, region, account, rest = fields
    if not (
        _PARTITION.fullmatch(partition)
        and _REGION.fullmatch(region)
        and _ACCOUNT.fullmatch(account)
        and _PATH_CHARS.fullmatch(rest)
    ):
        raise BadEvent("bad_arn", f"{name} has an invalid partition, region, account or path.")
    parts = rest.split("/", 3)
    if len(parts) < 3 or not _API_ID.fullmatch(parts[0]) or not _STAGE.fullmatch(parts[1]):
        raise BadEvent("bad_arn", f"{name} must name API/STAGE/VERB[/PATH].")
    api_id, stage, verb = parts[0], parts[1], parts[2]
    if verb == DEFAULT_ROUTE and len(parts) == 3:
        return ExecuteApiArn(partition, region, account, api_id, stage, None, None)
    if not _VERB.fullmatch(verb):
        raise BadEvent("bad_arn", f"{name} has an invalid HTTP verb.")
    path = "/" + (parts[3] if len(parts) == 4 else "")
    return ExecuteApiArn(partition, region, account, api_id, stage, verb, path)


Kind = Literal["TOKEN", "REQUEST", "REQUEST_V2"]


@dataclass(frozen=True)
class AuthorizerEvent:
    """What the decision needs from one event, whatever its shape."""

    kind: Kind
    arn_text: str
    arn: ExecuteApiArn
    credential: str | None
    """The raw token source value (e.g. `Bearer eyJ...`); None when the event has none."""
    repeated: bool
    """The token source was sent more than once (ambiguous: refused as unauthenticated)."""
    method: str | None
    path: str | None
    host: str | None
    source_ip: str | None

    @property
    def version(self) -> str:
        return "2.0" if self.kind == "REQUEST_V2" else "1.0"


def _text(body: Mapping[str, Any], key: str, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > MAX_VALUE or has_control_character(value):
        raise BadEvent("bad_field", f"{key} must be a string without control characters.")
    return value


def _credential(value: Any) -> str | None:
    """The client's token as sent: not judged here (any string), since a bad one is the
    client's, answered as unauthenticated by the authenticators, never as a bad event."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadEvent("bad_field", "authorizationToken must be a string.")
    return value


def _object(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadEvent("bad_field", f"{key} must be an object.")
    return value


def _ip(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _headers_v1(body: Mapping[str, Any], name: str) -> tuple[str | None, bool]:
    """The token source header of a payload 1.0 event, matched case-insensitively in
    `headers` and `multiValueHeaders`; (value, sent more than once)."""
    wanted = name.lower()
    found: list[str] = []
    for key, value in _object(body, "headers").items():
        if key.lower() == wanted:
            if not isinstance(value, str):
                raise BadEvent("bad_field", "headers must map names to strings.")
            found.append(value)
    many: list[str] = []
    for key, values in _object(body, "multiValueHeaders").items():
        if key.lower() == wanted:
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise BadEvent("bad_field", "multiValueHeaders must map names to string lists.")
            many.extend(values)
    values = list(dict.fromkeys(found + many))
    repeated = len(found) > 1 or len(many) > 1 or len(values) > 1
    return (values[0] if values else None), repeated


def _token_event(body: Mapping[str, Any]) -> AuthorizerEvent:
    arn_text = _text(body, "methodArn", required=True)
    assert arn_text is not None
    return AuthorizerEvent(
        kind="TOKEN",
        arn_text=arn_text,
        arn=parse_arn(arn_text),
        credential=_credential(body.get("authorizationToken")),
        repeated=False,
        method=None,
        path=None,
        host=None,
        source_ip=None,
    )


def _request_event(body: Mapping[str, Any], token_source: str) -> AuthorizerEvent:
    arn_text = _text(body, "methodArn", required=True)
    assert arn_text is not None
    context = _object(body, "requestContext")
    identity = context.get("identity")
    credential, repeated = _headers_v1(body, token_source)
    return AuthorizerEvent(
        kind="REQUEST",
        arn_text=arn_text,
        arn=parse_arn(arn_text),
        credential=credential,
        repeated=repeated,
        method=_text(body, "httpMethod"),
        path=_text(body, "path"),
        host=_text(context, "domainName"),
        source_ip=_ip(identity.get("sourceIp")) if isinstance(identity, dict) else None,
    )


def _request_event_v2(body: Mapping[str, Any], token_source: str) -> AuthorizerEvent:
    arn_text = _text(body, "routeArn", required=True)
    assert arn_text is not None
    headers = _object(body, "headers")
    if not all(isinstance(v, str) for v in headers.values()):
        raise BadEvent("bad_field", "headers must map names to strings.")
    credential = headers.get(token_source.lower())
    sources = body.get("identitySource")
    if sources is not None and (
        not isinstance(sources, list) or not all(isinstance(s, str) for s in sources)
    ):
        raise BadEvent("bad_field", "identitySource must be a list of strings.")
    if credential is None and sources is not None and len(sources) == 1:
        credential = sources[0]
    context = _object(body, "requestContext")
    http = _object(context, "http")
    return AuthorizerEvent(
        kind="REQUEST_V2",
        arn_text=arn_text,
        arn=parse_arn(arn_text, "routeArn"),
        credential=credential,
        repeated=False,
        method=_text(http, "method"),
        path=_text(body, "rawPath"),
        host=_text(context, "domainName"),
        source_ip=_ip(http.get("sourceIp")),
    )


def parse_event(body: Mapping[str, Any], token_source: str) -> AuthorizerEvent:
    """One of the three event shapes, or BadEvent: `bad_type`, `bad_version`, `bad_arn`,
    `bad_field`. Fields the decision does not read are ignored, as API Gateway adds some."""
    version = body.get("version")
    kind = body.get("type")
    if version == "2.0":
        if kind != "REQUEST":
            raise BadEvent("bad_type", "A payload 2.0 event must have type REQUEST.")
        return _request_event_v2(body, token_source)
    if version not in (None, "1.0"):
        raise BadEvent("bad_version", "version must be 1.0 or 2.0.")
    if kind == "TOKEN":
        return _token_event(body)
    if kind == "REQUEST":
        return _request_event(body, token_source)
    raise BadEvent("bad_type", "type must be TOKEN or REQUEST.")


def bearer_of(credential: str) -> str:
    """The token in a credential: `Bearer <token>` (any case) or a bare token; "" when it
    is another scheme or empty, which counts as no token."""
    value = credential.strip()
    scheme, space, rest = value.partition(" ")
    if not space:
        return value
    return rest.strip() if scheme.lower() == "bearer" else ""


# -- answers ----------------------------------------------------------------------------


def iam_policy(
    principal_id: str, allow: bool, resource: str, context: Mapping[str, str]
) -> dict[str, Any]:
    """The IAM policy answer of REST APIs (and HTTP APIs configured for it)."""
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow" if allow else "Deny",
                    "Resource": resource,
                }
            ],
        },
        "context": dict(context),
    }


def simple_answer(allow: bool, context: Mapping[str, str]) -> dict[str, Any]:
    """The simple response of HTTP API payload 2.0."""
    return {"isAuthorized": allow, "context": dict(context)}
