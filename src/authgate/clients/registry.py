"""The client registry: registration, secrets and their checks.

Secrets are 256-bit random values, shown once, stored encrypted under the key-encryption
key (AES-GCM, the client id as associated data) and compared in constant time. An unknown
client costs the same comparison as a known one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from authgate.audit import SYSTEM, Caller
from authgate.audit import record as audit
from authgate.clients.metadata import ClientMetadata, parse_metadata, stored_metadata
from authgate.cluster.notices import Announce, silent
from authgate.errors import InvalidClient, InvalidRequest, NotFound, StorageUnavailable
from authgate.store import Store
from authgate.store.records import ClientRecord, Page

DEFAULT_CLIENT_ID = "default"
CACHE_TTL = 5.0
"""How stale a client (and its secret) may be on the hot paths. A change made through this
process applies at once; one made through another replica within this many seconds."""
CACHE_MAX = 10_000
_DUMMY_SECRET = secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Client:
    client_id: str
    metadata: ClientMetadata
    created_at: float
    updated_at: float

    @property
    def public_view(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            **self.metadata.model_dump(),
            "client_id_issued_at": int(self.created_at),
        }

    def allows(self, grant: str) -> bool:
        return grant in self.metadata.grant_types


def client_from_record(record: ClientRecord) -> Client:
    return Client(
        client_id=record.client_id,
        metadata=stored_metadata(record.metadata),
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def secret_hash(client_secret: str, username: str, client_id: str) -> str:
    """Cognito's SECRET_HASH: Base64(HMAC-SHA256(key=secret, msg=username + client_id))."""
    digest = hmac.new(
        client_secret.encode(), (username + client_id).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


class Sealer(Protocol):
    """Authenticated encryption under the key-encryption key (`tokens.keys.KeyEncryptor`)."""

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes: ...

    def decrypt(self, blob: bytes, associated_data: bytes) -> bytes: ...


class ClientRegistry:
    def __init__(
        self,
        store: Store,
        encryptor: Sealer,
        allowed_scopes: set[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._encryptor = encryptor
        self._allowed_scopes = allowed_scopes
        self._clock = clock
        self._cache: dict[str, tuple[float, Client, str]] = {}
        self.announce: Announce = silent
        """Tells other replicas to drop a changed client (Redis pub/sub; set by bootstrap)."""

    def _changed(self, client_id: str) -> None:
        self._cache.pop(client_id, None)
        self.announce("client", client_id)

    def forget(self, client_id: str) -> None:
        """Drop a client another replica changed ("": every client) from the cache."""
        if client_id:
            self._cache.pop(client_id, None)
        else:
            self._cache.clear()

    def _check_scopes(self, metadata: ClientMetadata) -> None:
        unknown = [s for s in metadata.scopes if s not in self._allowed_scopes]
        if unknown:
            raise InvalidRequest(
                f"scope: {', '.join(unknown)} not declared (oauth.scopes)", field="scope"
            )

    def _seal(self, client_id: str, secret: str) -> bytes:
        return self._encryptor.encrypt(secret.encode(), client_id.encode())

    async def create(
        self, metadata: ClientMetadata, caller: Caller, client_id: str | None = None
    ) -> tuple[Client, str | None]:
        """Register a client; return it and its secret (the only time the secret is shown)."""
        self._check_scopes(metadata)
        client_id = client_id or secrets.token_hex(13)
        secret = secrets.token_urlsafe(32) if metadata.has_secret else None
        now = self._clock()
        record = ClientRecord(
            client_id=client_id,
            client_name=metadata.client_name,
            secret_ciphertext=self._seal(client_id, secret) if secret else None,
            metadata=metadata.model_dump(),
            created_at=now,
            updated_at=now,
        )
        async with self._store.transaction() as tx:
            await tx.clients.add(record)
            await audit(tx, "admin_client_created", caller, client_id=client_id)
        return client_from_record(record), secret

    async def ensure_default(self) -> None:
        async with self._store.read() as tx:
            if await tx.clients.get(DEFAULT_CLIENT_ID) is not None:
                return
        metadata = ClientMetadata(client_name="Default client", token_endpoint_auth_method="none")
        await self.create(metadata, SYSTEM, client_id=DEFAULT_CLIENT_ID)

    async def get(self, client_id: str) -> Client:
        async with self._store.read() as tx:
            record = await tx.clients.get(client_id)
        if record is None:
            raise NotFound("No such client.")
        return client_from_record(record)

    async def list(self, cursor: str | None, limit: int) -> Page[Client]:
        async with self._store.read() as tx:
            page = await tx.clients.list(cursor=cursor, limit=limit)
        return Page([client_from_record(r) for r in page.items], page.next)

    async def update(self, client_id: str, changes: dict[str, Any], caller: Caller) -> Client:
        async with self._store.transaction() as tx:
            record = await tx.clients.get(client_id)
            if record is None:
                raise NotFound("No such client.")
            metadata = parse_metadata({**record.metadata, **changes})
            self._check_scopes(metadata)
            if metadata.has_secret != (record.secret_ciphertext is not None):
                raise InvalidRequest(
                    "token_endpoint_auth_method: cannot switch between a client with a secret"
                    " and one without (public or private_key_jwt); create a new client",
                    field="token_endpoint_auth_method",
                )
            record.metadata = metadata.model_dump()
            record.client_name = metadata.client_name
            record.updated_at = self._clock()
            await tx.clients.update(record)
            await audit(tx, "admin_client_updated", caller, client_id=client_id)
        self._changed(client_id)
        return client_from_record(record)

    async def rotate_secret(self, client_id: str, caller: Caller) -> str:
        async with self._store.transaction() as tx:
            record = await tx.clients.get(client_id)
            if record is None:
                raise NotFound("No such client.")
            if record.secret_ciphertext is None:
                raise InvalidRequest("This client has no secret to rotate.")
            secret = secrets.token_urlsafe(32)
            record.secret_ciphertext = self._seal(client_id, secret)
            record.updated_at = self._clock()
            await tx.clients.update(record)
            await audit(tx, "admin_client_secret_rotated", caller, client_id=client_id)
        self._changed(client_id)
        return secret

    async def delete(self, client_id: str, caller: Caller) -> None:
        async with self._store.transaction() as tx:
            if not await tx.clients.delete(client_id):
                raise NotFound("No such client.")
            await audit(tx, "admin_client_deleted", caller, client_id=client_id)
        self._changed(client_id)

    async def _secret_of(self, client_id: str) -> tuple[Client | None, str]:
        """The client and its secret ("" for a public client), from the cache when fresh."""
        now = self._clock()
        cached = self._cache.get(client_id)
        if cached is not None and now - cached[0] < CACHE_TTL:
            return cached[1], cached[2]
        try:
            async with self._store.read() as tx:
                record = await tx.clients.get(client_id)
        except StorageUnavailable:
            if cached is None:
                raise
            # The database is away: the last view stands for another CACHE_TTL, so the
            # gate keeps admitting this client's tokens without waiting on every request.
            self._cache[client_id] = (now, cached[1], cached[2])
            return cached[1], cached[2]
        if record is None:
            return None, _DUMMY_SECRET  # misses are not cached: made-up ids cannot fill it
        secret = ""
        if record.secret_ciphertext is not None:
            secret = self._encryptor.decrypt(record.secret_ciphertext, client_id.encode()).decode()
        client = client_from_record(record)
        if len(self._cache) >= CACHE_MAX:
            self._cache.pop(next(iter(self._cache)))
        self._cache[client_id] = (now, client, secret)
        return client, secret

    def cached(self, client_id: str) -> Client | None:
        """The client when this process saw it less than CACHE_TTL ago, else None (then
        `lookup`): lets a hot path skip the await when the answer is at hand."""
        found = self._cache.get(client_id)
        if found is not None and self._clock() - found[0] < CACHE_TTL:
            return found[1]
        return None

    async def lookup(self, client_id: str) -> Client | None:
        """A client as of at most CACHE_TTL ago, or None: for the hot paths."""
        client, _ = await self._secret_of(client_id)
        return client

    async def authenticate(self, client_id: str, client_secret: str) -> Client:
        """Check a confidential client's id and secret; InvalidClient otherwise."""
        client, secret = await self._secret_of(client_id)
        matches = hmac.compare_digest(secret.encode(), client_secret.encode())
        if client is None or not secret or not matches:
            raise InvalidClient()
        return client

    async def for_login(self, client_id: str, username: str, hash_given: str | None) -> Client:
        """The client a user signs in through; checks SECRET_HASH when it has a secret."""
        client, secret = await self._secret_of(client_id)
        if client is None:
            raise InvalidClient()
        if client.metadata.confidential and not client.metadata.has_secret:
            raise InvalidClient("This client authenticates by private_key_jwt, not here.")
        if secret:
            expected = secret_hash(secret, username, client_id)
            if not hash_given or not hmac.compare_digest(expected.encode(), hash_given.encode()):
                raise InvalidClient("The secret_hash is missing or wrong.")
        return client

    async def for_secret_hash(
        self, client_id: str, username: str, hash_given: str | None
    ) -> Client:
        """Cognito's ClientId rule: an unknown client is not found; a client with a secret
        needs SECRET_HASH of `username` (checked in constant time); a client without one
        must send none. Every hash failure reads the same ("Unable to verify ...")."""
        client, secret = await self._secret_of(client_id)
        if client is None:
            raise NotFound(f"User pool client {client_id} does not exist.")
        unable = f"Unable to verify secret hash for client {client_id}"
        if client.metadata.confidential and not client.metadata.has_secret:
            raise InvalidClient(f"Client {client_id} signs in by private_key_jwt, not here.")
        expected = secret_hash(secret or _DUMMY_SECRET, username, client_id)
        matches = hmac.compare_digest(expected.encode(), (hash_given or "").encode())
        if (secret and not matches) or (not secret and hash_given is not None):
            raise InvalidClient(unable)
        return client
