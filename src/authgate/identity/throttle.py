"""Brute-force defences: failed-login lockouts and sliding-window rate limits.

Lockouts live in the database, shared by every replica and kept across restarts. The
high-volume per-address request limits (`RateLimiter`) are one budget across replicas
when Redis is configured (a GCRA of the same count per period, in Redis; Redis down
admits), and otherwise stay in process memory, each process limiting on its own; they
cap how many keys they track, so a flood of distinct addresses cannot exhaust memory
(the least recently active keys are forgotten first).
"""

from __future__ import annotations

import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from authgate.cluster.gcra import SharedLimiter
from authgate.errors import TooManyRequests
from authgate.store import Store, Transaction
from authgate.store.records import LoginFailureRecord

Clock = Callable[[], float]

_T = TypeVar("_T")

_MAX_STRIKES = 64
"""Strikes stop counting here; 2**64 outgrows any lockout_max and keeps the float finite."""


class LockoutRule:
    """Failed-login counting for one key, with growing lockouts (pure: no storage, no clock).

    A key is locked once it collects `max_failures` failures within `window` seconds. The
    lockout lasts `lockout_base * 2**strikes` seconds, capped at `lockout_max`, where
    `strikes` is how many lockouts the key had in an unbroken run: a run ends once the key
    stays unlocked for `2 * lockout_max` seconds after its last lockout ended, and the
    next lockout starts again at `lockout_base`.
    """

    def __init__(
        self,
        max_failures: int = 5,
        window: float = 900.0,
        lockout_base: float = 60.0,
        lockout_max: float = 3600.0,
    ) -> None:
        if max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        if not (window > 0 and 0 < lockout_base <= lockout_max):
            raise ValueError("need window > 0 and 0 < lockout_base <= lockout_max")
        self.max_failures = max_failures
        self.window = window
        self.lockout_base = lockout_base
        self.lockout_max = lockout_max
        self.strike_memory = 2 * lockout_max

    @property
    def memory(self) -> float:
        """How long a key's record matters after its last change."""
        return max(self.window, self.strike_memory + self.lockout_max)

    def wait(self, record: LoginFailureRecord, now: float) -> float:
        """Seconds the key stays locked (0 or less: not locked)."""
        return (record.locked_until if record.locked_until is not None else -math.inf) - now

    def fail(self, record: LoginFailureRecord, now: float) -> bool:
        """Count a failure into `record`; True when it locked the key just now.

        Failures arriving while the key is already locked (requests that passed the check
        just before the lock) are not counted, so they cannot stack a second lockout.
        """
        if self.wait(record, now) > 0:
            return False
        failures = [t for t in record.failures if t > now - self.window]
        failures.append(now)
        record.failures = failures[-self.max_failures :]
        if len(failures) < self.max_failures:
            return False
        last_end = record.locked_until if record.locked_until is not None else -math.inf
        if now - last_end > self.strike_memory:
            record.strikes = 0
        lockout = min(self.lockout_base * 2**record.strikes, self.lockout_max)
        record.locked_until = now + lockout
        record.strikes = min(record.strikes + 1, _MAX_STRIKES)
        record.failures = []
        return True


class LoginThrottle:
    """Failed-login lockouts per username and, separately, per client IP, in the database.

    Every replica sees the same failures and a restart forgets none, so five wrong
    passwords are five in total, not five per process. Records nobody touched for longer
    than the rule's memory are purged now and then, so spraying usernames cannot grow
    the table without bound.
    """

    PURGE_ONE_IN = 200

    def __init__(self, store: Store, rule: LockoutRule, clock: Clock = time.time) -> None:
        self._store = store
        self.rule = rule
        self._clock = clock

    async def check(self, username: str, ip: str | None) -> None:
        """Raise `TooManyRequests` while the username or the IP is locked; call before verifying."""
        async with self._store.read() as tx:
            await self.check_in(tx, username, ip)

    async def check_in(self, tx: Transaction, username: str, ip: str | None) -> bool:
        """`check` in the caller's transaction (a sign-in reads its user in the same one).

        Returns whether the username has failures on record, i.e. whether a success must
        forget some (`success`): most sign-ins have none, and skip that write.
        """
        records = await tx.limits.login_failures(_keys(username, ip))
        self._refuse_while_locked(records)
        return any(record.key == f"user:{username}" and record.failures for record in records)

    def _refuse_while_locked(self, records: list[LoginFailureRecord]) -> None:
        now = self._clock()
        wait = max((self.rule.wait(record, now) for record in records), default=0.0)
        if wait > 0:
            raise TooManyRequests(retry_after=_whole_seconds(wait))

    async def failure(self, tx: Transaction, username: str, ip: str | None) -> int | None:
        """Count a failed sign-in against the username and the IP, in the caller's transaction.

        Returns the seconds of the lockout this failure started, if it started one.
        """
        now = self._clock()
        started: list[float] = []
        for key in _keys(username, ip):
            record = await tx.limits.lock_login_failure(key, now)
            if self.rule.fail(record, now) and record.locked_until is not None:
                started.append(record.locked_until - now)
            await tx.limits.put_login_failure(record, now)
        if secrets.randbelow(self.PURGE_ONE_IN) == 0:
            await tx.limits.purge(now, self.rule.memory)
        return _whole_seconds(max(started)) if started else None

    async def success(self, tx: Transaction, username: str) -> None:
        """Forget the username's failures; its strikes stay, and the IP's failures too,
        because one right guess must not reset an address that is spraying others."""
        await tx.limits.clear_login_failures(f"user:{username}")

    async def unlock(self, tx: Transaction, username: str) -> None:
        """Lift the username's lockout and forget its history (an administrator's call)."""
        await tx.limits.unlock_login(f"user:{username}")

    async def check_address(self, ip: str | None) -> None:
        """Raise `TooManyRequests` while the IP is locked (sign-ins without a username)."""
        if ip is not None:
            await self._check_keys([f"ip:{ip}"])

    async def address_failure(self, tx: Transaction, ip: str | None) -> int | None:
        """Count a failed sign-in that named no username (a passkey) against the IP alone."""
        if ip is None:
            return None
        now = self._clock()
        record = await tx.limits.lock_login_failure(f"ip:{ip}", now)
        started = self.rule.fail(record, now) and record.locked_until is not None
        await tx.limits.put_login_failure(record, now)
        return (
            _whole_seconds(record.locked_until - now) if started and record.locked_until else None
        )

    async def _check_keys(self, keys: list[str]) -> None:
        async with self._store.read() as tx:
            records = await tx.limits.login_failures(keys)
        self._refuse_while_locked(records)


class RateLimiter:
    """A sliding-window limit of `count` events per `period` seconds per key (e.g. sign-ups per IP).

    At most `max_keys` keys are tracked; when full, the least recently hit key is evicted
    (and so forgets its recent events) to keep memory bounded.
    """

    def __init__(
        self,
        count: int,
        period: float,
        clock: Clock = time.monotonic,
        max_keys: int = 100_000,
        shared: tuple[SharedLimiter, str] | None = None,
    ) -> None:
        if count < 1 or max_keys < 1 or not period > 0:
            raise ValueError("need count >= 1, period > 0 and max_keys >= 1")
        self._shared = shared
        self._count = count
        self._period = period
        self._clock = clock
        self._max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """Number of keys tracked; never more than `max_keys`."""
        return len(self._hits)

    async def spend(self, key: str) -> None:
        """As `hit`, against the budget shared through Redis (`shared`: the limiter and
        this limit's name) when there is one."""
        if self._shared is None:
            self.hit(key)
            return
        limiter, name = self._shared
        retry_after = await limiter.retry_after(f"{name}:{key}", self._count, self._period)
        if retry_after is not None:
            raise TooManyRequests(retry_after=retry_after)

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


@dataclass(frozen=True)
class Limits:
    """The pool's throttles: sign-in lockouts, and per client IP the sign-ups, codes
    mailed again and password-reset requests."""

    login: LoginThrottle
    signup: RateLimiter
    resend: RateLimiter
    forgot: RateLimiter


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
