"""AWS Signature Version 4 verification for Cognito's administrator operations.

Cognito accepts its Admin*, List* and Describe* operations only from callers holding AWS
credentials; an application written against it signs them with botocore or the JS SDK. We
verify the same signature with the access keys in `cognito.access_keys`, so that code runs
unchanged and the administrator surface stays closed to everyone else.

The canonical request is rebuilt from what arrived on the wire (the path as sent, the raw
query, the header values, the body), never from a parsed or decoded view of it, and the
scope, clock and signed-header rules are checked before any HMAC is computed. Refusals carry
the error type and message AWS's JSON services give, so boto3 reports them as AWS would
(see docs/cognito.md, "Signature Version 4").
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from authgate.cognito.call import Call
from authgate.cognito.errors import CognitoError
from authgate.config import CognitoSettings

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "cognito-idp"
TERMINATOR = "aws4_request"
MAX_SKEW = timedelta(minutes=5)
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
REQUIRED_SIGNED_HEADERS = ("host", "x-amz-date", "x-amz-target")
MAX_AUTHORIZATION_LENGTH = 4096

_ACCESS_KEY_ID = re.compile(r"[A-Za-z0-9]{1,128}")
_SCOPE_DATE = re.compile(r"[0-9]{8}")
_REGION = re.compile(r"[a-z0-9-]{1,64}")
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")

MISMATCH_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
INVALID_TOKEN_MESSAGE = "The security token included in the request is invalid."


async def verify(call: Call) -> None:
    """The framework's hook for signed operations: accept a call signed by one of
    `cognito.access_keys`, else raise the CognitoError AWS would answer with."""
    settings = call.settings
    request = SignedRequest(
        method=call.method,
        raw_path=call.path,
        raw_query=call.query,
        headers=call.headers.items(),
        body=call.body,
    )
    keys = _KeyLookup(settings)
    try:
        verify_request(request, keys, settings.region, datetime.now(UTC))
    except SignatureRefused as refused:
        status = 403 if refused.error_type == "AccessDeniedException" else 400
        raise CognitoError(refused.error_type, refused.message, status) from None


class _KeyLookup(Mapping[str, str]):
    """The configured keys, each secret resolved only when its id signs a request."""

    def __init__(self, settings: CognitoSettings) -> None:
        self._settings = settings

    def __getitem__(self, key_id: str) -> str:
        secret = self._settings.secret_for(key_id)
        if secret is None:
            raise KeyError(key_id)
        return secret

    def __iter__(self) -> Iterator[str]:
        return iter(key.access_key_id for key in self._settings.access_keys)

    def __len__(self) -> int:
        return len(self._settings.access_keys)


class SignatureRefused(Exception):
    """A request whose signature does not hold; `error_type` is the AWS `__type` to answer with."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _incomplete(message: str) -> SignatureRefused:
    return SignatureRefused("IncompleteSignatureException", message)


def _invalid(message: str) -> SignatureRefused:
    return SignatureRefused("InvalidSignatureException", message)


def _unrecognized() -> SignatureRefused:
    return SignatureRefused("UnrecognizedClientException", INVALID_TOKEN_MESSAGE)


def missing_token() -> SignatureRefused:
    """The refusal for a call that carries no signature at all."""
    return SignatureRefused(
        "MissingAuthenticationTokenException", "Request is missing Authentication Token"
    )


@dataclass(frozen=True)
class Authorization:
    """The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header."""

    access_key_id: str
    scope_date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def credential_scope(self) -> str:
        return f"{self.scope_date}/{self.region}/{self.service}/{TERMINATOR}"


def parse_authorization(value: str) -> Authorization:
    """Parse the header's value; anything but one well-formed SigV4 header is refused."""
    if len(value) > MAX_AUTHORIZATION_LENGTH:
        raise _incomplete("Authorization header is too long.")
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'.")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, field_value = part.strip().partition("=")
        if not sep or name not in ("Credential", "SignedHeaders", "Signature"):
            raise _incomplete(f"Authorization header has an unexpected element: '{part.strip()}'.")
        if name in fields:
            raise _incomplete(f"Authorization header repeats '{name}'.")
        fields[name] = field_value
    for name in ("Credential", "SignedHeaders", "Signature"):
        if name not in fields:
            raise _incomplete(f"Authorization header requires '{name}' parameter.")
    return Authorization(
        *_parse_credential(fields["Credential"]),
        signed_headers=_parse_signed_headers(fields["SignedHeaders"]),
        signature=_parse_signature(fields["Signature"]),
    )


def _parse_credential(value: str) -> tuple[str, str, str, str]:
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != TERMINATOR:
        raise _incomplete(
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/{TERMINATOR}."
        )
    key_id, date, region, service, _ = parts
    if not _ACCESS_KEY_ID.fullmatch(key_id):
        raise _incomplete("Credential names a malformed access key id.")
    if not _SCOPE_DATE.fullmatch(date):
        raise _incomplete("Credential date must be YYYYMMDD.")
    if not _REGION.fullmatch(region) or not _REGION.fullmatch(service):
        raise _incomplete("Credential region and service must be AWS names.")
    return key_id, date, region, service


def _parse_signed_headers(value: str) -> tuple[str, ...]:
    names = tuple(value.split(";"))
    if not all(_HEADER_NAME.fullmatch(name) for name in names):
        raise _incomplete("SignedHeaders must be lower-case header names separated by ';'.")
    if list(names) != sorted(set(names)):
        raise _incomplete("SignedHeaders must be sorted and without repeats.")
    return names


def _parse_signature(value: str) -> str:
    if not _SIGNATURE.fullmatch(value):
        raise _incomplete("Signature must be 64 lower-case hexadecimal digits.")
    return value


@dataclass(frozen=True)
class SignedRequest:
    """A request as it arrived: the path and query as sent, every header line, the body."""

    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]
    body: bytes

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]


def verify_request(
    request: SignedRequest,
    secret_keys: Mapping[str, str],
    region: str,
    now: datetime,
) -> str:
    """The access key id that signed `request`, or `SignatureRefused`.

    `secret_keys` maps access key ids to their (resolved) secret access keys.
    """
    values = request.header_values("authorization")
    if not values:
        raise missing_token()
    if len(values) > 1:
        raise _incomplete("Only one Authorization header is allowed.")
    auth = parse_authorization(values[0])
    if request.header_values("x-amz-security-token"):
        raise _unrecognized()
    secret = secret_keys.get(auth.access_key_id)
    if secret is None:
        raise _unrecognized()
    if auth.service != SERVICE:
        raise _invalid(f"Credential should be scoped to correct service: '{SERVICE}'. ")
    if auth.region != region:
        raise _invalid(f"Credential should be scoped to a valid region, not '{auth.region}'. ")
    for name in REQUIRED_SIGNED_HEADERS:
        if name not in auth.signed_headers:
            raise _invalid(f"'{name}' must be a 'SignedHeader' in the AWS Authorization.")
    amz_date = _amz_date(request, auth)
    _check_clock(amz_date, now)
    payload_hash = _payload_hash(request)
    canonical = canonical_request(request, auth.signed_headers, payload_hash)
    expected = signature(secret, amz_date, auth, canonical)
    if not hmac.compare_digest(expected, auth.signature):
        raise _invalid(MISMATCH_MESSAGE)
    return auth.access_key_id


def _amz_date(request: SignedRequest, auth: Authorization) -> str:
    values = request.header_values("x-amz-date")
    if len(values) != 1 or not _AMZ_DATE.fullmatch(values[0].strip()):
        raise _incomplete(
            "Authorization header requires one 'X-Amz-Date' header as YYYYMMDDTHHMMSSZ."
        )
    amz_date = values[0].strip()
    if amz_date[:8] != auth.scope_date:
        raise _invalid(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{auth.scope_date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    return amz_date


def _check_clock(amz_date: str, now: datetime) -> None:
    try:
        signed_at = datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise _incomplete("X-Amz-Date is not a valid date.") from None
    now = now.astimezone(UTC)
    stamp = now.strftime(AMZ_DATE_FORMAT)
    if signed_at < now - MAX_SKEW:
        earliest = (now - MAX_SKEW).strftime(AMZ_DATE_FORMAT)
        raise _invalid(
            f"Signature expired: {amz_date} is now earlier than {earliest} ({stamp} - 5 min.)"
        )
    if signed_at > now + MAX_SKEW:
        latest = (now + MAX_SKEW).strftime(AMZ_DATE_FORMAT)
        raise _invalid(
            f"Signature not yet current: {amz_date} is still later than {latest} ({stamp} + 5 min.)"
        )


def _payload_hash(request: SignedRequest) -> str:
    """The body's SHA-256; a client-declared hash must be that very value (no UNSIGNED-PAYLOAD)."""
    actual = hashlib.sha256(request.body).hexdigest()
    declared = request.header_values("x-amz-content-sha256")
    if declared and (
        len(declared) > 1
        or not _SHA256_HEX.fullmatch(declared[0].strip())
        or not hmac.compare_digest(declared[0].strip(), actual)
    ):
        raise _invalid("The provided 'x-amz-content-sha256' header does not match the body.")
    return actual


def canonical_request(
    request: SignedRequest, signed_headers: Sequence[str], payload_hash: str
) -> str:
    """AWS's canonical request: method, URI, query, headers, signed header list, payload hash."""
    lines = []
    for name in signed_headers:
        values = request.header_values(name)
        if not values:
            raise _invalid(f"The signed header '{name}' is not in the request.")
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}")
    return "\n".join(
        [
            request.method.upper(),
            canonical_uri(request.raw_path),
            canonical_query(request.raw_query),
            "\n".join(lines) + "\n",
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def canonical_uri(raw_path: str) -> str:
    """The path as sent, dot segments and empty segments removed, then URI-encoded once more.

    AWS encodes the already-encoded path again for every service but S3, which is what
    botocore signs.
    """
    segments: list[str] = []
    for segment in raw_path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    path = "/" + "/".join(segments)
    if raw_path.endswith("/") and segments:
        path += "/"
    return quote(path, safe="/~")


def canonical_query(raw_query: str) -> str:
    """Each name and value decoded then encoded AWS's way, sorted by name then value."""
    if not raw_query:
        return ""
    pairs = []
    for item in raw_query.split("&"):
        name, _, value = item.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def signing_key(secret: str, scope_date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), scope_date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, TERMINATOR)


def signature(secret: str, amz_date: str, auth: Authorization, canonical: str) -> str:
    string_to_sign = "\n".join(
        [
            ALGORITHM,
            amz_date,
            auth.credential_scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = signing_key(secret, auth.scope_date, auth.region, auth.service)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()
