"""The OAuth 2.0 grants (client credentials, authorization code, refresh token),
introspection and revocation, for a client already authenticated (`authgate.clients`).

Everything here takes already-parsed values; the HTTP adapter (`authgate.oauth`) decides
how they were sent. Refusals are typed: `InvalidRequest`, and the grant
errors of `authgate.tokens.errors`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authgate.audit import Caller, record
from authgate.clients.registry import Client, ClientRegistry
from authgate.config import Settings
from authgate.errors import InvalidRequest, InvalidToken
from authgate.flows import NO_FLOWS, FlowRecorder, timed
from authgate.store import Store, Transaction
from authgate.tokens import pkce
from authgate.tokens.access_checks import looks_like_jwt
from authgate.tokens.amr import loaded
from authgate.tokens.authorization import (
    AuthorizationCodes,
    CodeGrant,
    CodeReplayed,
    IssuedFromCode,
)
from authgate.tokens.claims import user_claims
from authgate.tokens.errors import InvalidGrant, InvalidScope, UnauthorizedClient
from authgate.tokens.introspection import FoundRefresh, TokenInspector
from authgate.tokens.jwt import TokenCodec
from authgate.tokens.refresh import Rotation, Successor
from authgate.tokens.revocation import DenyList
from authgate.tokens.service import TokenService

USER_ONLY_SCOPES = frozenset({"openid", "offline_access"})
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]{1,128}")
MAX_SCOPES = 64


@dataclass(frozen=True)
class TokenResponse:
    """A successful token response (RFC 6749 5.1, OIDC Core 3.1.3.3)."""

    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None = None
    id_token: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        if self.id_token is not None:
            body["id_token"] = self.id_token
        return body


def parse_scope(value: object) -> list[str] | None:
    """RFC 6749 3.3: space-delimited scope tokens, each once; None when not asked for."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRequest("scope must be a string.", field="scope")
    names = value.split(" ")
    if len(names) > MAX_SCOPES or not all(_SCOPE_TOKEN.fullmatch(n) for n in names):
        raise InvalidScope("scope is not a space-separated list of scope tokens.")
    return list(dict.fromkeys(names))


class OAuthTokens:
    def __init__(
        self,
        store: Store,
        codec: TokenCodec,
        tokens: TokenService,
        clients: ClientRegistry,
        codes: AuthorizationCodes,
        deny: DenyList,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._codec = codec
        self._tokens = tokens
        self._clients = clients
        self._codes = codes
        self._deny = deny
        self._settings = settings
        self._clock = clock
        self._known_scopes = settings.oauth.known_scopes()
        self.inspector = TokenInspector(store, tokens, clients, settings.issuer, clock)
        self.flows: FlowRecorder = NO_FLOWS
        """Told each grant's, introspection's and revocation's outcome and time (metrics)."""

    # -- scopes ------------------------------------------------------------------------

    def _allowed(self, client: Client, scopes: list[str]) -> None:
        unknown = [s for s in scopes if s not in self._known_scopes]
        if unknown:
            raise InvalidScope(f"Unknown scope: {' '.join(unknown)}.")
        foreign = [s for s in scopes if s not in client.metadata.scopes]
        if foreign:
            raise InvalidScope(f"The client may not ask for: {' '.join(foreign)}.")

    # -- client credentials (RFC 6749 4.4) ---------------------------------------------

    async def client_credentials(
        self, client: Client, scope: object, caller: Caller
    ) -> TokenResponse:
        """A token for the client itself: sub is the client, no refresh or id token."""
        with timed(self.flows, "token_grant", "client_credentials"):
            return await self._client_credentials(client, scope)

    async def _client_credentials(self, client: Client, scope: object) -> TokenResponse:
        if not client.allows("client_credentials") or not client.metadata.confidential:
            raise UnauthorizedClient("The client may not use the client_credentials grant.")
        asked = parse_scope(scope)
        if asked is None:
            scopes = [s for s in client.metadata.scopes if s not in USER_ONLY_SCOPES]
        else:
            if USER_ONLY_SCOPES.intersection(asked):
                raise InvalidScope("openid and offline_access need a user; not for this grant.")
            self._allowed(client, asked)
            scopes = asked
        granted = " ".join(scopes)
        if client.metadata.access_token_format == "opaque":
            async with self._store.transaction() as tx:
                access = await self._tokens.mint_access(tx, client, granted)
        else:
            access = await self._tokens.mint_access(None, client, granted)
        return TokenResponse(access.token, access.expires_in, granted)

    # -- authorization code (RFC 6749 4.1.3, RFC 7636 4.5) -----------------------------

    async def authorization_code(
        self,
        client: Client,
        *,
        code: object,
        redirect_uri: object,
        code_verifier: object,
        caller: Caller,
    ) -> TokenResponse:
        with timed(self.flows, "token_grant", "authorization_code"):
            return await self._authorization_code(client, code, redirect_uri, code_verifier, caller)

    async def _authorization_code(
        self,
        client: Client,
        code: object,
        redirect_uri: object,
        code_verifier: object,
        caller: Caller,
    ) -> TokenResponse:
        if not client.allows("authorization_code"):
            raise UnauthorizedClient("The client may not use the authorization_code grant.")
        if not isinstance(code, str) or not code:
            raise InvalidRequest("code is required.", field="code")
        if code_verifier is not None and not isinstance(code_verifier, str):
            raise InvalidRequest("code_verifier must be a string.", field="code_verifier")
        registered = client.metadata.redirect_uris
        if redirect_uri is None and len(registered) == 1:
            # RFC 6749 4.1.3 needs redirect_uri only if the authorization request had one;
            # with a single registered URI the request could only have named that one.
            redirect_uri = registered[0]

        async def issue(tx: Transaction, grant: CodeGrant) -> tuple[IssuedFromCode, TokenResponse]:
            return await self._issue_for_code(tx, client, grant, caller)

        try:
            return await self._codes.redeem(
                code=code,
                client_id=client.client_id,
                redirect_uri=redirect_uri,
                code_verifier=code_verifier,
                pkce_required=pkce.required_for(client, self._settings.oauth.require_pkce),
                issue=issue,
                caller=caller,
            )
        except CodeReplayed as replayed:
            if replayed.revoked_jti is not None and replayed.expires_at is not None:
                self._deny.remember(replayed.revoked_jti, replayed.expires_at)
            raise

    async def _issue_for_code(
        self, tx: Transaction, client: Client, grant: CodeGrant, caller: Caller
    ) -> tuple[IssuedFromCode, TokenResponse]:
        user = await tx.users.get(grant.sub)
        if user is None or not user.enabled:
            raise InvalidGrant("The user of this authorization code can no longer sign in.")
        scopes = grant.scope.split()
        family_id = refresh = None
        if "offline_access" in scopes and client.allows("refresh_token"):
            family_id, refresh = await self._tokens.new_family(
                tx, user, client, grant.scope, grant.auth_time, grant.amr
            )
        access = await self._tokens.mint_access(
            tx,
            client,
            grant.scope,
            user,
            grant.auth_time,
            family_id,
            grant.amr,
            trigger="hosted_auth",
        )
        id_token = None
        if "openid" in scopes:
            id_token = self._tokens.oidc_id_token(
                user,
                client,
                auth_time=grant.auth_time,
                user_claims=user_claims(user, scopes, self._settings.oauth.attribute_scopes),
                nonce=grant.nonce,
                access_token=access.token,
                amr=grant.amr,
                change=access.change,
            )
        await record(tx, "oauth_code_exchanged", caller, sub=user.sub, client_id=client.client_id)
        issued = IssuedFromCode(family_id, access.jti, access.expires_at)
        return issued, TokenResponse(
            access.token, access.expires_in, grant.scope, refresh, id_token
        )

    # -- refresh token (RFC 6749 6) ----------------------------------------------------

    async def refresh(
        self, client: Client, *, refresh_token: object, scope: object, caller: Caller
    ) -> TokenResponse:
        """Rotate the client's refresh token (a client without rotation keeps it and gets
        none back, RFC 6749 6); scope may narrow the new access token only."""
        with timed(self.flows, "token_grant", "refresh_token"):
            return await self._refresh(client, refresh_token, scope, caller)

    async def _refresh(
        self, client: Client, refresh_token: object, scope: object, caller: Caller
    ) -> TokenResponse:
        if not client.allows("refresh_token"):
            raise UnauthorizedClient("The client may not use the refresh_token grant.")
        if not isinstance(refresh_token, str) or not refresh_token:
            raise InvalidRequest("refresh_token is required.", field="refresh_token")
        asked = parse_scope(scope)
        async with self._store.transaction() as tx:
            try:
                outcome = await self._tokens.rotate(
                    tx, refresh_token, caller, client_id=client.client_id
                )
            except InvalidToken as exc:
                raise InvalidGrant(exc.message) from None
            if isinstance(outcome, Rotation):
                answer = await self._rotated(tx, client, outcome, asked)
            elif outcome is not None:
                answer = outcome  # the same request again, within the reuse interval
        if outcome is None:
            raise InvalidGrant("The refresh token was already used; its sign-in is revoked.")
        return TokenResponse(
            answer.access_token,
            answer.expires_in,
            answer.scope,
            answer.refresh_token,
            answer.id_token,
        )

    async def _rotated(
        self, tx: Transaction, client: Client, rotation: Rotation, asked: list[str] | None
    ) -> Successor:
        original = rotation.family.scope.split()
        if asked is not None and not set(asked) <= set(original):
            # Raised inside the transaction: the token is not spent after all.
            raise InvalidScope("The scope exceeds what the sign-in granted.")
        scopes = asked if asked is not None else original
        granted = " ".join(scopes)
        user, family = rotation.user, rotation.family
        amr = loaded(family.amr)
        access = await self._tokens.mint_access(
            tx,
            client,
            granted,
            user,
            family.auth_time,
            family.family_id,
            amr,
            trigger="refresh_tokens",
        )
        id_token = None
        if "openid" in scopes:
            id_token = self._tokens.oidc_id_token(
                user,
                client,
                auth_time=family.auth_time,
                user_claims=user_claims(user, scopes, self._settings.oauth.attribute_scopes),
                nonce=None,
                access_token=access.token,
                amr=amr,
                change=access.change,
            )
        answer = Successor(
            access.token,
            rotation.refresh_token,
            id_token,
            access.expires_in,
            granted,
            via=client.client_id,
        )
        await self._tokens.families.seal(tx, rotation, answer)
        return answer

    # -- introspection (RFC 7662) ------------------------------------------------------

    async def introspect(self, token: object, hint: object) -> dict[str, Any]:
        """Any authenticated client may introspect any token (as Ory Hydra allows): a
        resource server is a client, and the tokens it receives were issued to others."""
        with timed(self.flows, "introspection") as run:
            answer = await self.inspector.introspect(token, hint)
            run.outcome = "active" if answer.get("active") else "inactive"
            return answer

    # -- revocation (RFC 7009) ---------------------------------------------------------

    async def revoke(self, client: Client, token: object, caller: Caller) -> None:
        """Revoke a token the client holds. Unknown, invalid and already dead tokens are
        ignored (2.2); a live token issued to another client is refused (2.1). A refresh
        token ends its family and denies the access tokens issued from it (2.1)."""
        with timed(self.flows, "revocation"):
            await self._revoke(client, token, caller)

    async def _revoke(self, client: Client, token: object, caller: Caller) -> None:
        if not isinstance(token, str) or not token:
            raise InvalidRequest("token is required.", field="token")
        if looks_like_jwt(token):
            await self._revoke_jwt(client, token, caller)
            return
        async with self._store.transaction() as tx:
            found = await self.inspector.find_stored(tx, token)
            if isinstance(found, FoundRefresh):
                if found.family.revoked_at is not None:
                    return
                _owned_by(client, found.family.client_id)
                await self._tokens.families.revoke(tx, [found.family.family_id])
                await record(
                    tx,
                    "oauth_token_revoked",
                    caller,
                    sub=found.family.sub,
                    client_id=client.client_id,
                    kind="refresh_token",
                )
            elif found is not None:
                if found.revoked_at is not None or found.expires_at <= self._clock():
                    return
                _owned_by(client, found.client_id)
                await tx.oauth.revoke_opaque(found.token_hash, self._clock())
                await self._deny.revoke(tx, found.jti, found.expires_at)
                await record(
                    tx,
                    "oauth_token_revoked",
                    caller,
                    sub=found.sub,
                    client_id=client.client_id,
                    kind="access_token",
                )

    async def _revoke_jwt(self, client: Client, token: str, caller: Caller) -> None:
        claims = await self.inspector.access_claims(token)
        if claims is None:
            return
        _owned_by(client, str(claims.get("client_id")))
        jti, expires_at = str(claims["jti"]), float(claims["exp"])
        async with self._store.transaction() as tx:
            await self._deny.revoke(tx, jti, expires_at)
            await record(
                tx,
                "oauth_token_revoked",
                caller,
                sub=str(claims.get("sub")),
                client_id=client.client_id,
                kind="access_token",
            )


def _owned_by(client: Client, owner: str) -> None:
    if owner != client.client_id:
        raise UnauthorizedClient("The token was issued to another client.")
