"""A `private_key_jwt` client's public keys: registered inline (`jwks`) or at its `jwks_uri`.

Only asymmetric signing keys are accepted (RSA of 2048 to 8192 bits for RS256, EC P-256
for ES256, OKP Ed25519/Ed448 for EdDSA); a key with private members, an `oct` key, a key
for encryption or one whose `alg` disagrees with its type is refused at registration.

`jwks_uri` is chosen only by the admin who registers the client (there is no dynamic
registration), so the server fetches only URLs an administrator named. Even so a fetch is
bounded: https (or http to loopback), no redirects followed, no proxy from the
environment, a total timeout and a size cap, and at most one fetch per URI every
`MIN_INTERVAL` seconds however many assertions arrive (an unknown `kid` asks for one early
refresh, within that limit). A set that cannot be fetched or parsed authenticates nobody.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from jwt import PyJWK
from jwt.exceptions import InvalidKeyError, PyJWKError

from authgate.errors import InvalidClient

SIGNING_ALGORITHMS = ("RS256", "ES256", "EdDSA")
MAX_KEYS = 10
RSA_BITS = (2048, 8192)
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_CURVES = {"EC": {"P-256": "ES256"}, "OKP": {"Ed25519": "EdDSA", "Ed448": "EdDSA"}}
CACHE_TTL = 300.0
MIN_INTERVAL = 10.0
FETCH_TIMEOUT = 5.0
MAX_BYTES = 64 * 1024
CACHE_MAX = 10_000

log = logging.getLogger("authgate.clients")


@dataclass(frozen=True)
class ClientKey:
    kid: str | None
    alg: str
    jwk: PyJWK


def parse_key_set(value: object) -> list[ClientKey]:
    """The keys of a JWK Set; ValueError saying what is wrong otherwise."""
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        raise ValueError('must be a JWK Set: {"keys": [...]}')
    entries = value["keys"]
    if not 1 <= len(entries) <= MAX_KEYS:
        raise ValueError(f"must hold 1 to {MAX_KEYS} keys")
    keys = [_parse_key(entry) for entry in entries]
    kids = [key.kid for key in keys if key.kid is not None]
    if len(kids) != len(set(kids)):
        raise ValueError("each kid must be unique")
    return keys


def _parse_key(entry: object) -> ClientKey:
    if not isinstance(entry, dict):
        raise ValueError("each key must be a JSON object")
    if _PRIVATE_MEMBERS & entry.keys():
        raise ValueError("must hold public keys only (no private or symmetric key members)")
    kty = entry.get("kty")
    if kty == "RSA":
        alg: str | None = "RS256"
    elif isinstance(kty, str) and kty in _CURVES:
        alg = _CURVES[kty].get(str(entry.get("crv")))
        if alg is None:
            raise ValueError(f"curve {str(entry.get('crv'))[:16]!r} is not allowed")
    else:
        raise ValueError(f"key type {str(kty)[:16]!r} is not allowed: RSA, EC P-256 or OKP")
    if entry.get("use", "sig") != "sig":
        raise ValueError("keys must be for signing (use: sig)")
    if entry.get("alg", alg) != alg:
        raise ValueError(f"a {kty} key signs with {alg}, not {str(entry.get('alg'))[:16]!r}")
    kid = entry.get("kid")
    if kid is not None and (not isinstance(kid, str) or not 1 <= len(kid) <= 128):
        raise ValueError("kid must be a string of 1 to 128 characters")
    try:
        jwk = PyJWK(entry, algorithm=alg)
    except (PyJWKError, InvalidKeyError, ValueError, TypeError):
        raise ValueError(f"a {kty} key is malformed") from None
    if kty == "RSA":
        numbers = jwk.key.public_numbers()
        if not RSA_BITS[0] <= jwk.key.key_size <= RSA_BITS[1] or numbers.e > 2**32:
            raise ValueError(f"RSA keys must have {RSA_BITS[0]} to {RSA_BITS[1]} bits")
    return ClientKey(kid, str(alg), jwk)


@dataclass
class _Entry:
    attempted_at: float
    fetched_at: float
    keys: list[ClientKey] | None


class KeySetFetcher:
    """Fetches and caches the key sets behind `jwks_uri`s."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, timeout: float = FETCH_TIMEOUT
    ) -> None:
        self._clock = clock
        self._timeout = timeout
        self._cache: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def keys(self, uri: str, *, refresh: bool = False) -> list[ClientKey]:
        """The keys at `uri`, from the cache unless stale (or `refresh`, when allowed)."""
        entry = self._usable(uri, refresh)
        if entry is None:
            lock = self._locks.setdefault(uri, asyncio.Lock())
            async with lock:
                entry = self._usable(uri, refresh) or await self._fetch(uri)
            self._locks.pop(uri, None)
        if entry.keys is None:
            raise InvalidClient("The client's key set (jwks_uri) cannot be fetched.")
        return entry.keys

    def _usable(self, uri: str, refresh: bool) -> _Entry | None:
        entry = self._cache.get(uri)
        if entry is None:
            return None
        now = self._clock()
        if now - entry.attempted_at < MIN_INTERVAL:
            return entry
        fresh = entry.keys is not None and now - entry.fetched_at < CACHE_TTL
        return entry if fresh and not refresh else None

    async def _fetch(self, uri: str) -> _Entry:
        now = self._clock()
        previous = self._cache.get(uri)
        try:
            keys: list[ClientKey] | None = parse_key_set(await self._get(uri))
            entry = _Entry(now, now, keys)
        except (OSError, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("jwks_uri %s: cannot use it: %s", uri, str(exc)[:200])
            fresh = previous is not None and now - previous.fetched_at < CACHE_TTL
            keys = previous.keys if previous is not None and fresh else None
            entry = _Entry(now, previous.fetched_at if previous else 0.0, keys)
        if len(self._cache) >= CACHE_MAX and uri not in self._cache:
            self._cache.pop(next(iter(self._cache)))
        self._cache[uri] = entry
        return entry

    async def _get(self, uri: str) -> Any:
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        async with (
            aiohttp.ClientSession(timeout=timeout, trust_env=False) as session,
            session.get(
                uri, allow_redirects=False, headers={"Accept": "application/json"}
            ) as response,
        ):
            if response.status != 200:
                raise ValueError(f"answered HTTP {response.status}")
            body = b""
            async for chunk in response.content.iter_chunked(8192):
                body += chunk
                if len(body) > MAX_BYTES:
                    raise ValueError(f"the key set is over {MAX_BYTES} bytes")
        return json.loads(body)
