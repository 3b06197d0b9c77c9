"""The authorization request as the sign-in and consent pages carry it: a signed ticket.

authgate keeps no server-side state between the authorization endpoint and its pages, so
the request travels with the browser as a JWT signed by the issuer's own keys (its own
`typ` and `token_use`, so it can never pass for any other token). The signature stops the
browser from editing it; even so, every use checks it again from scratch against the
client's current registration, so a changed or deleted client is never redirected to.

The ticket also records when the request was made: a sign-in after that moment satisfies
`prompt=login` and `max_age`, so they cannot send the user round in circles. The redirect
URI travels as its hash and is looked up among the registered ones again.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from authgate.bootstrap import Services
from authgate.errors import InvalidToken
from authgate.tokens.jwt import UnknownSigningKey
from authgate.ui.authrequest import AuthorizationRequest, UnsafeRequest

TICKET_TYP = "authgate-authorize+jwt"
TICKET_USE = "authorize_ticket"
TICKET_TTL = 3600
MAX_TICKET = 8192


def uri_hash(uri: str) -> str:
    digest = hashlib.sha256(uri.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class Ticket:
    client_id: str
    redirect_hash: str
    params: dict[str, str]
    requested_at: float

    def request_params(self, registered: list[str]) -> dict[str, str]:
        """The original parameters, with the registered redirect URI the hash names."""
        params = {**self.params, "client_id": self.client_id}
        for uri in registered:
            if uri_hash(uri) == self.redirect_hash:
                params["redirect_uri"] = uri
                return params
        raise UnsafeRequest("flow.redirect_gone")


def issue_ticket(services: Services, request: AuthorizationRequest, requested_at: float) -> str:
    now = int(time.time())
    issuer = services.settings.issuer
    claims = {
        "iss": issuer,
        "aud": issuer,
        "iat": now,
        "exp": now + TICKET_TTL,
        "token_use": TICKET_USE,
        "cid": request.client.client_id,
        "ruh": uri_hash(request.target.redirect_uri),
        "par": request.carried,
        "rat": requested_at,
    }
    return services.codec.sign(claims, typ=TICKET_TYP)


async def read_ticket(services: Services, value: object) -> Ticket | None:
    """The ticket's content when it is ours, intact and unexpired; None otherwise."""
    if not isinstance(value, str) or not value or len(value) > MAX_TICKET:
        return None
    try:
        claims = _verify(services, value)
    except UnknownSigningKey:
        if not await services.keys.reload_for_unknown_kid():
            return None
        try:
            claims = _verify(services, value)
        except InvalidToken:
            return None
    except InvalidToken:
        return None
    client_id, redirect_hash = claims.get("cid"), claims.get("ruh")
    params, requested_at = claims.get("par"), claims.get("rat")
    if not isinstance(client_id, str) or not isinstance(redirect_hash, str):
        return None
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        return None
    if isinstance(requested_at, bool) or not isinstance(requested_at, int | float):
        return None
    return Ticket(client_id, redirect_hash, params, float(requested_at))


def _verify(services: Services, value: str) -> dict[str, Any]:
    issuer = services.settings.issuer
    return services.codec.verify(value, token_use=TICKET_USE, audience=issuer, typ=TICKET_TYP)
