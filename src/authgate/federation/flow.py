"""The authorization code flow at an external provider, with PKCE (S256), state and nonce.

`begin` stores the sign-in in progress under the SHA-256 of a fresh `state`, bound to the
browser by the SHA-256 of its binding cookie; the PKCE verifier and the nonce are HMACs of
the state under that cookie, so neither is stored and only that browser can finish. `finish`
takes the row (single use, alive `TRANSACTION_TTL`), checks the browser, the provider and
the answer's `iss` (RFC 9207, a mix-up defense), redeems the code at the provider's token
endpoint (client_secret_basic, or client_secret_post when that is all it offers) and
verifies the ID token (id_token.py) against the provider's keys, refetched once for an
unknown kid. Nothing the provider sent (code, tokens) is logged or stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from authgate.federation.calls import post_form
from authgate.federation.discovery import Discovery, ProviderMetadata
from authgate.federation.errors import FederationRefused, UnknownKey
from authgate.federation.id_token import verify_id_token
from authgate.federation.settings import IdentityProvider
from authgate.store import Store
from authgate.store.records import FederationTransactionRecord

TRANSACTION_TTL = 600.0
LEEWAY = 60.0
PURGE_EVERY = 60.0
_RANDOM = re.compile(r"[A-Za-z0-9_-]{43}")


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _derived(binding: str, purpose: str, state: str) -> str:
    mac = hmac.new(binding.encode(), f"{purpose}\x00{state}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def is_binding(value: object) -> bool:
    return isinstance(value, str) and _RANDOM.fullmatch(value) is not None


@dataclass(frozen=True)
class Begun:
    """Where to send the browser, and the binding cookie it must hold when it returns."""

    location: str
    binding: str


@dataclass(frozen=True)
class Returned:
    """A finished round trip: what was started (`transaction`) and who the provider says."""

    transaction: FederationTransactionRecord
    subject: str
    claims: dict[str, Any]


Spend = Callable[[str], Awaitable[None]]
"""Spends one start from a key's budget, or raises TooManyRequests."""


class ProviderFlow:
    def __init__(
        self,
        store: Store,
        providers: list[IdentityProvider],
        issuer: str,
        client_secrets: dict[str, str | None],
        discovery: Discovery | None = None,
        clock: Callable[[], float] = time.time,
        *,
        starts: Spend,
    ) -> None:
        self._store = store
        self._starts = starts
        self.providers = {p.name: p for p in providers}
        self._issuer = issuer
        self._secrets = client_secrets
        self.discovery = discovery or Discovery()
        self._clock = clock
        self._purged_at = 0.0

    def provider(self, name: str) -> IdentityProvider:
        found = self.providers.get(name)
        if found is None:
            raise FederationRefused("unknown_provider")
        return found

    def redirect_uri(self, provider: IdentityProvider) -> str:
        return f"{self._issuer}/oauth2/callback/{provider.name}"

    async def begin(
        self,
        name: str,
        binding: str | None,
        *,
        mode: str = "signin",
        link_sub: str | None = None,
        ticket: str | None = None,
        return_to: str | None = None,
        ip: str | None,
    ) -> Begun:
        """A new sign-in at provider `name`; reuses the browser's binding when it has one.
        Each start stores a transaction, so each spends from the client IP's budget
        (TooManyRequests when it is spent), before the provider is asked anything."""
        provider = self.provider(name)
        await self._starts(f"ip:{ip}")  # as the other per-IP limits: an unknown IP shares one
        metadata = await self.discovery.metadata(provider)
        binding = binding if is_binding(binding) else secrets.token_urlsafe(32)
        assert binding is not None
        state = secrets.token_urlsafe(32)
        now = self._clock()
        async with self._store.transaction() as tx:
            if now - self._purged_at >= PURGE_EVERY:
                self._purged_at = now
                await tx.federation.purge_transactions(now)
            await tx.federation.add_transaction(
                FederationTransactionRecord(
                    state_hash=_sha256(state),
                    binding_hash=_sha256(binding),
                    provider=provider.name,
                    mode=mode,
                    link_sub=link_sub,
                    ticket=ticket,
                    return_to=return_to,
                    created_at=now,
                    expires_at=now + TRANSACTION_TTL,
                )
            )
        query = {
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": self.redirect_uri(provider),
            "scope": " ".join(provider.scopes),
            "state": state,
            "nonce": _derived(binding, "nonce", state),
            "code_challenge": code_challenge(_derived(binding, "pkce", state)),
            "code_challenge_method": "S256",
        }
        separator = "&" if "?" in metadata.authorization_endpoint else "?"
        return Begun(metadata.authorization_endpoint + separator + urlencode(query), binding)

    async def take(self, name: str, state: object, binding: object) -> FederationTransactionRecord:
        """The sign-in in progress this answer belongs to, spent; flow_invalid otherwise
        (unknown, spent, expired, another provider's, or another browser's: a state
        presented without its browser's cookie is left for that browser)."""
        if not isinstance(state, str) or not 0 < len(state) <= 256:
            raise FederationRefused("flow_invalid", "no state")
        if not is_binding(binding):
            raise FederationRefused("flow_invalid", "no browser binding")
        async with self._store.transaction() as tx:
            found = await tx.federation.take_transaction(_sha256(state), _sha256(str(binding)))
        if found is None:
            raise FederationRefused("flow_invalid", "unknown or spent state, or another browser")
        if found.expires_at <= self._clock():
            raise FederationRefused("flow_invalid", "expired")
        if found.provider != name:
            raise FederationRefused("flow_invalid", "another provider's state")
        return found

    async def finish(self, name: str, params: dict[str, str], binding: object) -> Returned:
        """The provider's answer (`params` of the callback) through to verified claims."""
        provider = self.provider(name)
        transaction = await self.take(name, params.get("state"), binding)
        assert isinstance(binding, str)
        metadata = await self.discovery.metadata(provider)
        iss = params.get("iss")
        if iss is not None and iss != provider.issuer:
            raise FederationRefused("flow_invalid", "iss differs (mix-up)")
        if metadata.iss_parameter and iss is None:
            raise FederationRefused("flow_invalid", "iss missing")
        if "error" in params:
            raise FederationRefused("provider_error", params["error"][:64])
        code = params.get("code")
        if not code or len(code) > 2048:
            raise FederationRefused("flow_invalid", "no code")
        state = str(params["state"])
        id_token = await self._redeem(provider, metadata, code, _derived(binding, "pkce", state))
        claims = await self._verified(
            provider, metadata, id_token, _derived(binding, "nonce", state)
        )
        return Returned(transaction, str(claims["sub"]), claims)

    async def _redeem(
        self, provider: IdentityProvider, metadata: ProviderMetadata, code: str, verifier: str
    ) -> str:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri(provider),
            "code_verifier": verifier,
        }
        headers: dict[str, str] = {}
        secret = self._secrets.get(provider.name)
        if secret is None:
            form["client_id"] = provider.client_id
        elif "client_secret_basic" in metadata.auth_methods or not metadata.auth_methods:
            pair = f"{quote(provider.client_id, safe='')}:{quote(secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form["client_id"] = provider.client_id
            form["client_secret"] = secret
        status, answer = await post_form(
            metadata.token_endpoint, form, headers, provider.timeout, "token endpoint"
        )
        if status != 200:
            error = answer.get("error")
            raise FederationRefused("provider_error", f"token endpoint: {str(error)[:64]}")
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise FederationRefused("token_invalid", "no id_token")
        return id_token

    async def _verified(
        self, provider: IdentityProvider, metadata: ProviderMetadata, token: str, nonce: str
    ) -> dict[str, Any]:
        def check(keys: list[Any]) -> dict[str, Any]:
            return verify_id_token(
                token,
                keys,
                algorithms=metadata.algorithms,
                issuer=provider.issuer,
                client_id=provider.client_id,
                nonce=nonce,
                now=self._clock(),
                leeway=LEEWAY,
            )

        try:
            return check(await self.discovery.keys(provider))
        except UnknownKey:
            return check(await self.discovery.keys(provider, refresh=True))
