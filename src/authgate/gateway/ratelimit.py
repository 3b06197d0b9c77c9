"""Per-route rate limits: `rate_limit: {key: subject|client|ip, rate: "100/minute"}`.

Each (route, caller) pair gets a GCRA limiter (the token bucket written as one timestamp,
the "theoretical arrival time"), so a key costs one float however large the rate, and a
full bucket lets `count` requests through at once before spacing them `period / count`
apart.

Without Redis, counters live in process memory and are per process: N replicas behind a
load balancer admit up to N times the configured rate. With Redis (`shared`), the same
GCRA runs in Redis and the budget is one across replicas; Redis down admits (fail open).
In process, at most `max_keys` keys are tracked; when full,
the least recently seen key is forgotten first, so a flood of distinct callers cannot
grow memory without bound (its price: under such a flood, old keys start afresh).

Which caller a request counts against is decided here too, including the client address
behind trusted proxies (`client_address`), so the proxy and forward-auth agree on it.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from authgate.cluster.gcra import SharedLimiter
from authgate.gateway.principal import Principal

Clock = Callable[[], float]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_SLACK = 1e-6
"""Seconds of float rounding forgiven: 100 intervals of 0.6 s must add up to one minute."""

UNKNOWN_ADDRESS = "unknown"
"""The key of callers whose address is not known (no peer): they share one budget."""


class RateLimited(Exception):
    """429: this caller spent the route's budget; `retry_after` is whole seconds, >= 1."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    """`count` requests per `period` seconds."""

    count: int
    period: float

    def __post_init__(self) -> None:
        if self.count < 1 or not self.period > 0:
            raise ValueError("a limit needs count >= 1 and period > 0")

    @property
    def interval(self) -> float:
        """Time one request costs: the bucket refills one request per interval."""
        return self.period / self.count


class RateLimits:
    """GCRA state for every (route, key) seen, bounded to `max_keys` entries.

    One instance may outlive a configuration reload (the pipeline takes it as an
    argument), so a reload does not hand every caller a fresh budget.
    """

    def __init__(
        self,
        clock: Clock = time.monotonic,
        max_keys: int = 100_000,
        shared: SharedLimiter | None = None,
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._shared = shared
        self._clock = clock
        self._max_keys = max_keys
        self._arrivals: OrderedDict[tuple[str, str], float] = OrderedDict()

    def __len__(self) -> int:
        """Keys tracked; never more than `max_keys`."""
        return len(self._arrivals)

    async def spend(self, route: str, key: str, limit: Limit) -> None:
        """As `hit`, against the budget shared through Redis when there is one."""
        if self._shared is None:
            self.hit(route, key, limit)
            return
        retry_after = await self._shared.retry_after(
            f"gate:{route}:{key}", limit.count, limit.period
        )
        if retry_after is not None:
            raise RateLimited(retry_after)

    def hit(self, route: str, key: str, limit: Limit) -> None:
        """Spend one request of `key`'s budget on `route`, or raise RateLimited.

        A refused request spends nothing, so a client that keeps retrying is not pushed
        further back than its own accepted requests put it.
        """
        now = self._clock()
        entry = (route, key)
        arrival = max(self._arrivals.get(entry, now), now)
        wait = arrival + limit.interval - limit.period - now
        if wait > _SLACK:
            self._arrivals.move_to_end(entry)
            raise RateLimited(max(1, math.ceil(wait)))
        if entry in self._arrivals:
            self._arrivals.move_to_end(entry)
        else:
            while len(self._arrivals) >= self._max_keys:
                self._arrivals.popitem(last=False)
        self._arrivals[entry] = arrival + limit.interval


def _address(value: str) -> Address | None:
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str:
    """The address a request came from: the TCP peer, or, when the peer is a trusted
    proxy, the right-most X-Forwarded-For address that is not itself a trusted proxy.

    Only entries appended by trusted proxies are believed: walking from the right, each
    trusted hop vouches for the entry to its left. An entry that is not an address ends
    the walk at the last hop that could be believed. `forwarded_for` holds the header's
    field lines in order.
    """
    if peer is None:
        return UNKNOWN_ADDRESS
    current = _address(peer)
    if current is None:
        return peer
    hops = [hop for line in forwarded_for for hop in line.split(",") if hop.strip()]
    while any(current in network for network in trusted) and hops:
        previous = _address(hops.pop())
        if previous is None:
            break
        current = previous
    return str(current)


def caller_key(kind: str, principal: Principal, address: str) -> str:
    """Whose budget a request spends: `subject` falls back to the client, then to the
    address; `client` to the address; `ip` is always the address. Prefixes keep a
    subject named like an address from sharing that address's budget."""
    if kind == "subject" and principal.subject is not None:
        return f"sub:{principal.subject}"
    if kind in ("subject", "client") and principal.client_id is not None:
        return f"client:{principal.client_id}"
    return f"ip:{address}"
