"""Revoked JWT access tokens: a deny list of `jti`s kept until the tokens expire."""

from __future__ import annotations

import time
from collections.abc import Callable

from authgate.store import Store


class DenyList:
    def __init__(
        self, store: Store, sync_interval: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._sync_interval = sync_interval
        self._clock = clock
