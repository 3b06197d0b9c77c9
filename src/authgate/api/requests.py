"""Reading requests safely: bounded bodies, JSON or form, bearer tokens, the caller."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from authgate.api.errors import MAX_BODY_BYTES, BodyTooLarge
from authgate.api.json_body import parse_json_object
from authgate.audit import Caller
from authgate.bootstrap import Services
from authgate.errors import InvalidRequest, Unauthorized
from authgate.gateway.ratelimit import client_address
from authgate.store.records import UserRecord

_BEARER = re.compile(r"Bearer ([A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def read_bounded(request: Request) -> bytes:
    """The raw body, refused (413) as soon as it is known to exceed MAX_BODY_BYTES."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise BodyTooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def is_json_media(request: Request) -> bool:
    """JSON by its Content-Type (`application/json`, `*/*+json`), or none given."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media in ("application/json", "") or media.endswith("+json")


async def read_body(request: Request, *, allow_form: bool = True) -> dict[str, Any]:
    """A JSON object (strict: see json_body) or a form, never more than MAX_BODY_BYTES read."""
    raw = await read_bounded(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded" and allow_form:
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise InvalidRequest("The form is not valid UTF-8.") from None
        form: dict[str, Any] = {}
        for key, value in pairs:
            if "\x00" in key or "\x00" in value:
                raise InvalidRequest("The form holds a NUL character.")
            if key in form:
                raise InvalidRequest(f"{key} is given more than once.", field=key)
            form[key] = value
        return form
    if not is_json_media(request):
        raise InvalidRequest("Send application/json" + (" or a form." if allow_form else "."))
    return parse_json_object(raw)


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("A bearer access token is required.")
    match = _BEARER.fullmatch(header.strip())
    if not match:
        raise Unauthorized("The Authorization header must be `Bearer <token>`.")
    return match.group(1)


async def bearer_user(request: Request) -> tuple[UserRecord, dict[str, Any]]:
    """The user an access token in the Authorization header names, and the token's claims."""
    return await services_of(request).users.authenticate(bearer_token(request))


async def signed_in_user(request: Request) -> UserRecord:
    user, _ = await bearer_user(request)
    return user


def caller_of(request: Request) -> Caller:
    """Who is calling, for throttles and audit: the TCP peer, or behind a proxy listed in
    `gateway.trusted_proxies`, the address that proxy reports (X-Forwarded-For)."""
    peer = request.client.host if request.client else None
    trusted = services_of(request).settings.gateway.trusted_proxies
    ip = client_address(peer, request.headers.getlist("x-forwarded-for"), trusted) if peer else None
    return Caller(ip=ip, user_agent=request.headers.get("user-agent"))


def field(body: dict[str, Any], name: str, *, required: bool = True) -> Any:
    value = body.get(name)
    if required and (value is None or value == ""):
        raise InvalidRequest(f"{name} is required.", field=name)
    return value


MAX_METADATA_ENTRIES = 50
MAX_METADATA_TEXT = 1024


def string_map(body: dict[str, Any], name: str) -> tuple[tuple[str, str], ...]:
    """An optional object of short strings (client_metadata, passed to lifecycle hooks)."""
    value = body.get(name)
    if value is None:
        return ()
    if not isinstance(value, dict) or len(value) > MAX_METADATA_ENTRIES:
        raise InvalidRequest(
            f"{name} must be an object of at most {MAX_METADATA_ENTRIES} strings.", field=name
        )
    for key, text in value.items():
        if not isinstance(text, str) or len(key) > 128 or len(text) > MAX_METADATA_TEXT:
            raise InvalidRequest(f"{name} must map short names to short strings.", field=name)
    return tuple(value.items())
