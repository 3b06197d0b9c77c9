"""Issuing and checking tokens: JWT (RFC 9068) or opaque access tokens, OIDC id tokens,
and opaque refresh tokens (in families: `authgate.tokens.refresh`), for the pool's own API
and the OAuth grants alike.

Every access token issued to a user is recorded by jti with its refresh family, so that
ending a sign-in also denies the access tokens it issued (`authgate.tokens.revocation`).

Opaque access tokens are 256 random bits stored as their SHA-256 hash with the claims a
JWT would carry, so every check (introspection, userinfo, /v1/me) reads them the same way.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from authgate.audit import Caller, record
from authgate.clients.registry import Client
from authgate.cluster.notices import Announce, silent
from authgate.config import TokenSettings
from authgate.errors import InvalidToken
from authgate.flows import NO_FLOWS, FlowRecorder, timed
from authgate.store import Store, Transaction
from authgate.store.records import IssuedAccessRecord, OpaqueTokenRecord, UserRecord
from authgate.tokens.access_checks import ACCESS_TYP, MAX_OPAQUE_LENGTH, AccessTokenChecks
from authgate.tokens.amr import PASSWORD, claims_for, loaded
from authgate.tokens.claims_change import NO_CHANGE, ClaimsChange, NoTokenHook, TokenHook
from authgate.tokens.cognito_claims import (
    group_claims,
    sign_in_claims,
    with_pool_scope,
)
from authgate.tokens.id_tokens import oidc_id_claims, pool_id_claims
from authgate.tokens.jwt import TokenCodec
from authgate.tokens.keys import KeyEncryptor
from authgate.tokens.keystore import KeyManager
from authgate.tokens.refresh import (
    RefreshFamilies,
    Rotation,
    Successor,
    hash_refresh_token,
)
from authgate.tokens.revocation import DenyList


@dataclass(frozen=True)
class TokenSet:
    """Tokens for a sign-in or a refresh. `refresh_token` is None when a refresh kept the
    presented one (a client without rotation): RFC 6749 6 lets the answer leave it out."""

    access_token: str
    id_token: str
    refresh_token: str | None
    expires_in: int
    token_type: str = "Bearer"

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "id_token": self.id_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


hash_token = hash_refresh_token
"""Refresh and opaque access tokens are both stored as the SHA-256 of the token."""


@dataclass(frozen=True)
class AccessToken:
    """A minted access token; `change` is what the pre_token hook asked of this issuance
    (the ID token issued with it gets the same)."""

    token: str
    jti: str
    expires_in: int
    expires_at: float
    claims: dict[str, Any]
    change: ClaimsChange = NO_CHANGE


class TokenService:
    def __init__(
        self,
        store: Store,
        codec: TokenCodec,
        issuer: str,
        settings: TokenSettings,
        keys: KeyManager | None = None,
        clock: Callable[[], float] = time.time,
        deny: DenyList | None = None,
        sealer: KeyEncryptor | None = None,
    ) -> None:
        self.families = RefreshFamilies(deny, sealer, settings.refresh_reuse_interval, clock)
        self._keys = keys
        self._store = store
        self._codec = codec
        self._issuer = issuer
        self._settings = settings
        self._clock = clock
        self._deny = deny
        self.access = AccessTokenChecks(store, codec, keys, deny, clock)
        self.announce: Announce = silent
        """Tells other replicas a user's sign-ins ended (Redis pub/sub; set by bootstrap)."""
        self.flows: FlowRecorder = NO_FLOWS
        """Told each refresh's and sign-out's outcome and time (metrics)."""
        self.hooks: TokenHook = NoTokenHook()
        """Asked before a user's tokens are signed (the pre_token hook; set by bootstrap)."""

    def user_gone_after(self, tx: Transaction, sub: str) -> None:
        """Once `tx` commits, tell the other replicas to look the user up again: its
        sign-ins ended (signed out, disabled) or it no longer exists, and their gate's user
        check may hold it for a few seconds more."""
        tx.after_commit(lambda: self.announce("user", sub))

    def _ttl(self, client: Client, kind: str) -> float:
        value = getattr(client.metadata, f"{kind}_token_ttl")
        return float(value) if value else float(getattr(self._settings, f"{kind}_ttl"))

    def _issued_at(self, user: UserRecord) -> int:
        # A token whose iat is at or before the user's sign-out cutoff is refused, so a token
        # minted in the same second as "sign out everywhere" is dated just after it.
        now = math.floor(self._clock())
        return max(now, math.floor(user.tokens_valid_after) + 1)

    @property
    def signing_alg(self) -> str:
        """The algorithm of the key that signs now (a rotation may have changed it)."""
        return self._keys.ring.active.alg if self._keys is not None else self._settings.signing_alg

    @staticmethod
    def audience_of(client: Client) -> str | list[str]:
        """RFC 9068 aud: the client's registered resource audiences, else the client itself."""
        audience = client.metadata.audience
        if not audience:
            return client.client_id
        return audience[0] if len(audience) == 1 else list(audience)

    def _access_claims(
        self,
        client: Client,
        scope: str,
        user: UserRecord | None,
        auth_time: float | None,
        amr: Sequence[str],
    ) -> dict[str, Any]:
        iat = self._issued_at(user) if user is not None else math.floor(self._clock())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": user.sub if user is not None else client.client_id,
            "aud": self.audience_of(client),
            "client_id": client.client_id,
            "scope": scope,
            "token_use": "access",
            "iat": iat,
            "exp": iat + int(self._ttl(client, "access")),
            "jti": secrets.token_urlsafe(16),
        }
        if user is not None:
            claims["username"] = user.username
            claims["groups"] = list(user.groups)
            claims.update(group_claims(user))
            if auth_time is not None:
                claims["auth_time"] = int(auth_time)
            claims.update(claims_for(amr))
        return claims

    async def mint_access(
        self,
        tx: Transaction | None,
        client: Client,
        scope: str,
        user: UserRecord | None = None,
        auth_time: float | None = None,
        family_id: str | None = None,
        amr: Sequence[str] = (PASSWORD,),
        *,
        trigger: str = "authentication",
    ) -> AccessToken:
        """An access token for a user (or, without one, for the client itself), in the
        client's format. A user's token is recorded with its refresh family, and an opaque
        one is stored: both need the caller's transaction. `amr` says how the user signed
        in (`authgate.tokens.amr`); it and its `acr` go into a user's token. The pre_token
        hook sees a user's claims first (`trigger`: how the tokens come)."""
        claims = self._access_claims(client, scope, user, auth_time, amr)
        if user is not None and family_id is not None:
            claims.update(sign_in_claims(family_id))
        change = NO_CHANGE
        if user is not None:
            change = await self.hooks.pre_token(user, client, claims, trigger)
            claims = change.apply(claims)
        opaque = client.metadata.access_token_format == "opaque"
        if tx is None:
            if user is not None or opaque:
                raise ValueError("a user's or an opaque access token is stored: pass a tx")
            token = self._codec.sign(claims, typ=ACCESS_TYP)
        else:
            token = await self._store_access(tx, claims, client, user, family_id, opaque)
        ttl = claims["exp"] - claims["iat"]
        return AccessToken(token, claims["jti"], ttl, float(claims["exp"]), claims, change)

    async def _store_access(
        self,
        tx: Transaction,
        claims: dict[str, Any],
        client: Client,
        user: UserRecord | None,
        family_id: str | None,
        opaque: bool,
    ) -> str:
        if user is not None:
            await tx.oauth.add_issued(
                IssuedAccessRecord(
                    claims["jti"], user.sub, client.client_id, family_id, float(claims["exp"])
                )
            )
        if not opaque:
            return self._codec.sign(claims, typ=ACCESS_TYP)
        token = secrets.token_urlsafe(32)
        await tx.oauth.add_opaque(
            OpaqueTokenRecord(
                token_hash=hash_token(token),
                jti=claims["jti"],
                client_id=client.client_id,
                sub=claims["sub"],
                claims=claims,
                issued_at=self._clock(),
                expires_at=float(claims["exp"]),
            )
        )
        return token

    def _id_base(self, user: UserRecord, client: Client, auth_time: float) -> dict[str, Any]:
        iat = self._issued_at(user)
        exp = iat + int(self._ttl(client, "id"))
        return {
            "iss": self._issuer,
            "aud": client.client_id,
            "iat": iat,
            "exp": exp,
            "auth_time": int(auth_time),
        }

    def _id_token(
        self,
        user: UserRecord,
        client: Client,
        auth_time: float,
        amr: Sequence[str],
        change: ClaimsChange = NO_CHANGE,
    ) -> str:
        claims = pool_id_claims(user, self._id_base(user, client, auth_time), amr)
        return self._codec.sign(change.apply(claims), typ="JWT")

    def oidc_id_token(
        self,
        user: UserRecord,
        client: Client,
        *,
        auth_time: float,
        user_claims: dict[str, Any],
        nonce: str | None,
        access_token: str,
        amr: Sequence[str] = (PASSWORD,),
        change: ClaimsChange = NO_CHANGE,
    ) -> str:
        """An OIDC ID token for the user at the client (`tokens.id_tokens`), with the
        pre_token hook's `change` of the access token issued with it."""
        base = self._id_base(user, client, auth_time)
        claims = oidc_id_claims(
            user_claims,
            base,
            sub=user.sub,
            access_token=access_token,
            alg=self.signing_alg,
            nonce=nonce,
            amr=amr,
        )
        return self._codec.sign(change.apply(claims, group_claims=False), typ="JWT")

    async def new_family(
        self,
        tx: Transaction,
        user: UserRecord,
        client: Client,
        scope: str,
        auth_time: float,
        amr: Sequence[str] = (PASSWORD,),
    ) -> tuple[str, str]:
        """Start a refresh family for a sign-in; returns (family_id, first refresh token).
        The family keeps the sign-in's amr, so every refreshed token says the same."""
        ttl = self._ttl(client, "refresh")
        return await self.families.start(tx, user, client, scope, auth_time, ttl, amr)

    async def issue(
        self,
        tx: Transaction,
        user: UserRecord,
        client: Client,
        scope: str,
        auth_time: float,
        amr: Sequence[str] = (PASSWORD,),
    ) -> TokenSet:
        """Tokens for a fresh sign-in: a new refresh family, inside the caller's transaction.
        The scope gains Cognito's pool scope (`tokens.cognito_claims`)."""
        scope = with_pool_scope(scope)
        family_id, refresh = await self.new_family(tx, user, client, scope, auth_time, amr)
        access = await self.mint_access(tx, client, scope, user, auth_time, family_id, amr)
        id_token = self._id_token(user, client, auth_time, amr, access.change)
        return TokenSet(access.token, id_token, refresh, access.expires_in)

    async def rotate(
        self,
        tx: Transaction,
        refresh_token: object,
        caller: Caller,
        *,
        client_id: str | None = None,
    ) -> Rotation | Successor | None:
        """See `RefreshFamilies.rotate`."""
        return await self.families.rotate(tx, refresh_token, caller, client_id)

    async def refresh(
        self, refresh_token: str, caller: Caller, *, client_id: str | None = None
    ) -> TokenSet:
        """Spend a refresh token for a new set; a replayed token revokes its family. A
        client without rotation gets no new refresh token (the presented one stays).
        `client_id`: the client the caller proved to be (the token must be its own)."""
        with timed(self.flows, "refresh"):
            return await self._refresh(refresh_token, caller, client_id)

    async def _refresh(self, refresh_token: str, caller: Caller, client_id: str | None) -> TokenSet:
        async with self._store.transaction() as tx:
            outcome = await self.rotate(tx, refresh_token, caller, client_id=client_id)
            if isinstance(outcome, Rotation):
                user, client, family = outcome.user, outcome.client, outcome.family
                amr = loaded(family.amr)
                access = await self.mint_access(
                    tx,
                    client,
                    family.scope,
                    user,
                    family.auth_time,
                    family.family_id,
                    amr,
                    trigger="refresh_tokens",
                )
                id_token = self._id_token(user, client, family.auth_time, amr, access.change)
                answer = Successor(
                    access.token,
                    outcome.refresh_token,
                    id_token,
                    access.expires_in,
                    family.scope,
                    via=client_id,
                )
                await self.families.seal(tx, outcome, answer)
            elif outcome is not None:
                answer = outcome
        if outcome is None:
            raise InvalidToken("The refresh token was already used; its sign-in is revoked.")
        return TokenSet(
            answer.access_token, answer.id_token or "", answer.refresh_token, answer.expires_in
        )

    async def refresh_holder(self, refresh_token: str) -> tuple[str, str] | None:
        """(sub, client_id) of the sign-in a refresh token belongs to, spending nothing
        (a caller must know whose it is to check a Cognito SECRET_HASH); None if unknown."""
        if not refresh_token or len(refresh_token) > MAX_OPAQUE_LENGTH:
            return None
        async with self._store.read() as tx:
            found = await tx.refresh.get(hash_refresh_token(refresh_token))
        return None if found is None else (found[1].sub, found[1].client_id)

    async def revoke_family_of(self, refresh_token: str, caller: Caller) -> None:
        """Sign out one sign-in, with its access tokens. Unknown tokens are ignored."""
        with timed(self.flows, "revocation"):
            async with self._store.transaction() as tx:
                found = await tx.refresh.get(hash_refresh_token(refresh_token))
                if found is None:
                    return
                _, family = found
                await self.families.revoke(tx, [family.family_id])
                await record(tx, "logout", caller, sub=family.sub, client_id=family.client_id)

    async def sign_out_everywhere(self, tx: Transaction, user: UserRecord) -> None:
        """Revoke every refresh family; access tokens issued until now stop working."""
        now = self._clock()
        await tx.refresh.revoke_user(user.sub, now)
        # Tokens issued since the last cutoff may carry an iat moved just past it (see
        # _issued_at), ahead of the clock: the new cutoff covers them too.
        user.tokens_valid_after = max(now, math.floor(user.tokens_valid_after) + 1)
        user.updated_at = now
        await tx.users.update(user)
        self.user_gone_after(tx, user.sub)

    async def sign_out_elsewhere(
        self, tx: Transaction, user: UserRecord, keep_jti: str | None
    ) -> None:
        """End every sign-in of the user but the one the access token `keep_jti` belongs to:
        the other refresh families and the access tokens issued to the user outside it."""
        if self._deny is None:
            raise ValueError("signing out elsewhere needs the deny list")
        await self._deny.revoke_others(tx, user.sub, keep_jti)

    def verify_access_token(self, token: str) -> dict[str, Any]:
        """Signature, issuer, expiry, type: everything that needs no database."""
        return self.access.verify(token)

    async def check_access_token(self, token: str) -> dict[str, Any]:
        """The claims of a live access token, JWT or opaque, that nobody revoked
        (`authgate.tokens.access_checks`)."""
        return await self.access.check(token)

    @staticmethod
    def is_cut_off(claims: dict[str, Any], user: UserRecord) -> bool:
        """True when the token predates the user's last "sign out everywhere"."""
        iat = claims.get("iat")
        return not isinstance(iat, int | float) or iat <= user.tokens_valid_after
