"""The OAuth 2.0 grants: client credentials, authorization code, refresh token."""

from __future__ import annotations

import time
from collections.abc import Callable

from authgate.config import Settings
from authgate.identity.clients import ClientRegistry
from authgate.store import Store
from authgate.tokens.authorization import AuthorizationCodes
from authgate.tokens.jwt import TokenCodec
from authgate.tokens.revocation import DenyList
from authgate.tokens.service import TokenService


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
