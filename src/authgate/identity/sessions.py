"""Hosted sign-in sessions (the browser's cookie) and remembered consents."""

from __future__ import annotations

import time
from collections.abc import Callable

from authgate.store import Store


class BrowserSessions:
    def __init__(self, store: Store, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock


class Consents:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
