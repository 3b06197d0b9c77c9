"""Brute-force defences: failed-login lockouts and sliding-window rate limits.

State lives in process memory, so each worker process throttles on its own. Both
classes cap how many keys they track, so a flood of distinct usernames or addresses
cannot exhaust memory; the price is that under such a flood the least recently active
keys are forgotten first.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from authgate.errors import TooManyRequests

Clock = Callable[[], float]

_T = TypeVar("_T")

_MAX_STRIKES = 64
"""Strikes stop counting here; 2**64 outgrows any lockout_max and keeps the float finite."""


@dataclass
class _Record:
    """One key's recent failures and lockout history."""

    failures: deque[float] = field(default_factory=deque)
    locked_until: float = -math.inf
    strikes: int = 0


class LoginThrottle:
    """Failed-login counting per username and, separately, per client IP, with growing lockouts.

    A key ("user:<username>" or "ip:<ip>") is locked once it collects `max_failures`
    failures within `window` seconds. The lockout lasts `lockout_base * 2**strikes`
    seconds, capped at `lockout_max`, where `strikes` is how many lockouts the key had in
    an unbroken run: a run ends once the key stays unlocked for `2 * lockout_max` seconds
    after its last lockout ended, and the next lockout starts again at `lockout_base`.

    At most `max_keys` keys are tracked; when full, the least recently failed key is
    evicted to make room, so spraying usernames cannot grow memory without bound.
    """

    def __init__(
        self,
        max_failures: int = 5,
        window: float = 900.0,
        lockout_base: float = 60.0,
        lockout_max: float = 3600.0,
        clock: Clock = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if max_failures < 1 or max_keys < 1:
            raise ValueError("max_failures and max_keys must be at least 1")
        if not (window > 0 and 0 < lockout_base <= lockout_max):
            raise ValueError("need window > 0 and 0 < lockout_base <= lockout_max")
        self._max_failures = max_failures
        self._window = window
        self._lockout_base = lockout_base
        self._lockout_max = lockout_max
        self._strike_memory = 2 * lockout_max
        self._clock = clock
        self._max_keys = max_keys
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def __len__(self) -> int:
        """Number of keys tracked; never more than `max_keys`."""
        return len(self._records)

    def check(self, username: str, ip: str | None) -> None:
        """Raise `TooManyRequests` while the username or the IP is locked; call before verifying."""
        now = self._clock()
        waits = [
            record.locked_until - now
            for key in _keys(username, ip)
            if (record := self._records.get(key)) is not None
        ]
        wait = max(waits, default=0.0)
        if wait > 0:
            raise TooManyRequests(retry_after=_whole_seconds(wait))

    def failure(self, username: str, ip: str | None) -> None:
        """Count a failed sign-in against the username and the IP.

        Failures arriving while a key is already locked (requests that passed `check`
        just before the lock) are not counted, so they cannot stack a second lockout.
        """
        now = self._clock()
        for key in _keys(username, ip):
            self._fail(_entry(self._records, key, _Record, self._max_keys), now)

    def success(self, username: str) -> None:
        """Forget the username's failures; its strikes stay, and the IP's failures too,
        because one right guess must not reset an address that is spraying others."""
        record = self._records.get(f"user:{username}")
        if record is not None:
            record.failures.clear()

    def _fail(self, record: _Record, now: float) -> None:
        if record.locked_until > now:
            return
        while record.failures and record.failures[0] <= now - self._window:
            record.failures.popleft()
        record.failures.append(now)
        if len(record.failures) < self._max_failures:
            return
        if now - record.locked_until > self._strike_memory:
            record.strikes = 0
        lockout = min(self._lockout_base * 2**record.strikes, self._lockout_max)
        record.locked_until = now + lockout
        record.strikes = min(record.strikes + 1, _MAX_STRIKES)
        record.failures.clear()


class RateLimiter:
    """A sliding-window limit of `count` events per `period` seconds per key (e.g. sign-ups per IP).

    At most `max_keys` keys are tracked; when full, the least recently hit key is evicted
    (and so forgets its recent events) to keep memory bounded.
    """

    def __init__(
        self, count: int, period: float, clock: Clock = time.monotonic, max_keys: int = 100_000
    ) -> None:
        if count < 1 or max_keys < 1 or not period > 0:
            raise ValueError("need count >= 1, period > 0 and max_keys >= 1")
        self._count = count
        self._period = period
        self._clock = clock
        self._max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """Number of keys tracked; never more than `max_keys`."""
        return len(self._hits)

    def hit(self, key: str) -> None:
        """Record one event for `key`, or raise `TooManyRequests` if it would exceed the limit.

        A refused event is not recorded, so retrying clients are not punished further.
        """
        now = self._clock()
        hits = _entry(self._hits, key, deque, self._max_keys)
        while hits and hits[0] <= now - self._period:
            hits.popleft()
        if len(hits) >= self._count:
            raise TooManyRequests(retry_after=_whole_seconds(hits[0] + self._period - now))
        hits.append(now)


def _keys(username: str, ip: str | None) -> list[str]:
    return [f"user:{username}"] if ip is None else [f"user:{username}", f"ip:{ip}"]


def _entry(entries: OrderedDict[str, _T], key: str, make: Callable[[], _T], max_keys: int) -> _T:
    """`key`'s entry, created if needed and marked most recent; evicts the oldest when full."""
    entry = entries.get(key)
    if entry is not None:
        entries.move_to_end(key)
        return entry
    while len(entries) >= max_keys:
        entries.popitem(last=False)
    entry = entries[key] = make()
    return entry


def _whole_seconds(wait: float) -> int:
    """Seconds for a Retry-After header: rounded up, so clients never retry too early."""
    return max(1, math.ceil(wait))
