"""Authorization codes (RFC 6749 4.1 with PKCE, RFC 7636): issue and redeem."""

from __future__ import annotations

import time
from collections.abc import Callable

from authgate.store import Store


class AuthorizationCodes:
    def __init__(self, store: Store, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
