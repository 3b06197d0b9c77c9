"""A provider's metadata (OIDC Discovery 1.0) and signing keys, fetched and cached.

The metadata comes from `{issuer}/.well-known/openid-configuration`; its `issuer` must equal
the configured one exactly (Discovery 4.3), or a provider could speak for another. It is
kept `METADATA_TTL` seconds. The JWK Set is kept `KEYS_TTL` seconds; a token whose `kid` is
not in it asks for one early refetch, at most once every `MIN_REFETCH` seconds, so a flood
of forged kids cannot make us hammer the provider. Only asymmetric signing keys are kept
(RS256, ES256, EdDSA, checked as for client keys); other entries are skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from authgate.clients.keysets import SIGNING_ALGORITHMS, ClientKey, parse_key_set
from authgate.federation.calls import get_json
from authgate.federation.errors import ProviderUnavailable
from authgate.federation.settings import IdentityProvider, check_url

METADATA_TTL = 3600.0
KEYS_TTL = 300.0
MIN_REFETCH = 10.0
MAX_KEYS = 20
ASYMMETRIC = frozenset(SIGNING_ALGORITHMS)


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]
    """id_token_signing_alg_values_supported that we accept (asymmetric only)."""
    auth_methods: tuple[str, ...]
    iss_parameter: bool
    """The provider adds `iss` to its authorization answers (RFC 9207)."""


def _endpoint(document: dict[str, Any], name: str, issuer: str) -> str:
    value = document.get(name)
    if not isinstance(value, str):
        raise ProviderUnavailable(f"metadata: {name} is missing")
    try:
        check_url(value)
    except ValueError as exc:
        raise ProviderUnavailable(f"metadata: {name} {exc}") from None
    if issuer.startswith("https://") and not value.startswith("https://"):
        raise ProviderUnavailable(f"metadata: {name} must be https")
    return value


def parse_metadata(document: dict[str, Any], issuer: str) -> ProviderMetadata:
    """The parts of a discovery document we use; ProviderUnavailable when it is unusable."""
    if document.get("issuer") != issuer:
        raise ProviderUnavailable("metadata: issuer differs from the configured one")
    offered = document.get("id_token_signing_alg_values_supported")
    if not isinstance(offered, list):
        raise ProviderUnavailable("metadata: id_token_signing_alg_values_supported missing")
    algorithms = tuple(a for a in offered if isinstance(a, str) and a in ASYMMETRIC)
    if not algorithms:
        raise ProviderUnavailable("metadata: no ID token algorithm we accept (RS256/ES256/EdDSA)")
    methods = document.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=_endpoint(document, "authorization_endpoint", issuer),
        token_endpoint=_endpoint(document, "token_endpoint", issuer),
        jwks_uri=_endpoint(document, "jwks_uri", issuer),
        algorithms=algorithms,
        auth_methods=tuple(m for m in methods if isinstance(m, str))
        if isinstance(methods, list)
        else ("client_secret_basic",),
        iss_parameter=document.get("authorization_response_iss_parameter_supported") is True,
    )


def parse_keys(document: dict[str, Any]) -> list[ClientKey]:
    """The usable signing keys of a JWK Set: each entry checked alone, bad ones skipped."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise ProviderUnavailable("jwks: not a JWK Set")
    keys: list[ClientKey] = []
    for entry in entries[:MAX_KEYS]:
        try:
            keys.extend(parse_key_set({"keys": [entry]}))
        except ValueError:
            continue
    if not keys:
        raise ProviderUnavailable("jwks: no usable signing key")
    return keys


@dataclass
class _Cached:
    metadata: ProviderMetadata | None = None
    metadata_at: float = 0.0
    keys: list[ClientKey] = field(default_factory=list)
    keys_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Discovery:
    """Metadata and keys of the configured providers, by provider name."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cache: dict[str, _Cached] = {}

    def _entry(self, provider: IdentityProvider) -> _Cached:
        return self._cache.setdefault(provider.name, _Cached())

    async def metadata(self, provider: IdentityProvider) -> ProviderMetadata:
        entry = self._entry(provider)
        async with entry.lock:
            now = self._clock()
            if entry.metadata is None or now - entry.metadata_at >= METADATA_TTL:
                url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
                document = await get_json(url, provider.timeout, "metadata")
                entry.metadata = parse_metadata(document, provider.issuer)
                entry.metadata_at = now
            return entry.metadata

    async def keys(self, provider: IdentityProvider, *, refresh: bool = False) -> list[ClientKey]:
        """The provider's keys; `refresh` (an unknown kid) refetches unless just fetched."""
        metadata = await self.metadata(provider)
        entry = self._entry(provider)
        async with entry.lock:
            age = self._clock() - entry.keys_at
            stale = not entry.keys or age >= KEYS_TTL or (refresh and age >= MIN_REFETCH)
            if stale:
                document = await get_json(metadata.jwks_uri, provider.timeout, "jwks")
                entry.keys = parse_keys(document)
                entry.keys_at = self._clock()
            return entry.keys

    def authorization_origin(self, provider: IdentityProvider) -> str:
        """Where the browser goes to sign in: the cached authorization endpoint, or until
        the metadata was fetched, the issuer (the hosted pages' CSP form-action)."""
        cached = self._cache.get(provider.name)
        if cached is not None and cached.metadata is not None:
            return cached.metadata.authorization_endpoint
        return provider.issuer
