"""Reading a client's request: the form (RFC 6749 3.2) and its credentials (2.3.1).

`client_secret_basic` sends `Basic base64(urlencode(id) ":" urlencode(secret))`;
`client_secret_post` sends `client_id` and `client_secret` in the form; `private_key_jwt`
sends `client_assertion_type` (RFC 7523's jwt-bearer) and `client_assertion`, `client_id`
optional (RFC 7521 4.2); a public client sends only `client_id`. Using two methods at once
is refused. Whether the client is registered for the method it used, and whether its proof
holds, is the domain's check (`authgate.clients.authentication`).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote_plus

from starlette.requests import Request

from authgate.api.requests import read_body
from authgate.clients.assertions import ASSERTION_TYPE, MAX_ASSERTION_BYTES
from authgate.clients.authentication import ClientAuthenticator, ClientCredentials
from authgate.clients.registry import Client
from authgate.errors import InvalidClient, InvalidRequest

MAX_CREDENTIAL = 1024


FORM = "application/x-www-form-urlencoded"


async def read_form(request: Request) -> dict[str, Any]:
    """The bounded form body; other media types and repeated parameters are refused, and
    a parameter without a value counts as omitted (RFC 6749 3.1)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != FORM:
        raise InvalidRequest(f"Send the parameters as {FORM}.")
    return {k: v for k, v in (await read_body(request)).items() if v != ""}


def _text(form: dict[str, Any], name: str, limit: int = MAX_CREDENTIAL) -> str | None:
    value = form.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidRequest(f"{name} is malformed.", field=name)
    return value


def _basic(value: str) -> tuple[str, str]:
    if len(value) > 4 * MAX_CREDENTIAL:
        raise InvalidClient("The Basic credentials are malformed.")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidClient("The Basic credentials are malformed.") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise InvalidClient("The Basic credentials are malformed.")
    return unquote_plus(client_id), unquote_plus(secret)


def credentials_of(request: Request, form: dict[str, Any]) -> ClientCredentials:
    """The method and credentials as the request presents them."""
    header = request.headers.get("authorization")
    body_id = _text(form, "client_id")
    body_secret = _text(form, "client_secret")
    assertion = _assertion(form)
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "basic":
            raise InvalidClient("Client authentication in the Authorization header is Basic.")
        if body_secret is not None or assertion is not None:
            raise InvalidRequest("Use one client authentication method, not two.")
        client_id, secret = _basic(value)
        if body_id is not None and body_id != client_id:
            raise InvalidRequest("client_id in the body differs from the Basic credentials.")
        return ClientCredentials("client_secret_basic", client_id, secret=secret)
    if assertion is not None:
        if body_secret is not None:
            raise InvalidRequest("Use one client authentication method, not two.")
        return ClientCredentials("private_key_jwt", body_id, assertion=assertion)
    if body_id is None:
        raise InvalidClient("Client authentication is required.")
    if body_secret is not None:
        return ClientCredentials("client_secret_post", body_id, secret=body_secret)
    return ClientCredentials("none", body_id)


def _assertion(form: dict[str, Any]) -> str | None:
    """The client assertion (RFC 7521 4.2), or None when the form carries none."""
    kind = _text(form, "client_assertion_type")
    assertion = _text(form, "client_assertion", MAX_ASSERTION_BYTES)
    if kind is None and assertion is None:
        return None
    if kind is None or assertion is None:
        raise InvalidRequest("Send client_assertion and client_assertion_type together.")
    if kind != ASSERTION_TYPE:
        raise InvalidClient(f"client_assertion_type must be {ASSERTION_TYPE}.")
    return assertion


async def authenticate_client(
    request: Request,
    form: dict[str, Any],
    authenticator: ClientAuthenticator,
    *,
    allow_public: bool,
) -> Client:
    """The client behind the request; public clients only where `allow_public`."""
    credentials = credentials_of(request, form)
    if credentials.method == "none" and not allow_public:
        raise InvalidClient("Client authentication is required.")
    return await authenticator.authenticate(credentials)
