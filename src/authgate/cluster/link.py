"""One Redis connection per process, and what happens while Redis is away.

Redis is an accelerator, never a dependency: every caller treats a failure as "no
answer" and carries on (rate limits admit, notices are left to the database polling).
While Redis is down, calls are skipped for a growing pause (0.1 s doubling to 5 s)
instead of each request waiting on a dead socket, and the outage is logged once when
it starts and once when it ends, not per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("authgate.redis")

FIRST_PAUSE = 0.1
MAX_PAUSE = 5.0
TIMEOUT = 0.5
"""Seconds a command may take before it counts as an outage (a request waits at most this)."""


def _ignore(seconds: float) -> None:
    return None


class RedisLink:
    """The shared client, with the outage bookkeeping every user of it goes through."""

    def __init__(
        self, url: str, key_prefix: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client: Redis = Redis.from_url(
            url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
        )
        # Pub/sub waits on its socket for as long as nobody speaks: no read timeout there,
        # but a ping every few seconds of silence to notice a dead connection.
        self.listener: Redis = Redis.from_url(
            url, socket_connect_timeout=TIMEOUT, health_check_interval=5
        )
        self.url = url
        self.key_prefix = key_prefix
        self._clock = clock
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._pause = FIRST_PAUSE
        self.failures = 0
        """Calls that failed or were skipped because Redis was down (a counter for metrics)."""
        self.on_latency: Callable[[float], None] = _ignore
        """Told each successful call's round trip in seconds (a histogram for metrics)."""

    @property
    def up(self) -> bool:
        return self._down_since is None

    def usable(self) -> bool:
        """False while pausing after a failure: the caller should act as if Redis said nothing."""
        if self._down_since is None or self._clock() >= self._retry_at:
            return True
        self.failures += 1
        return False

    def failed(self, error: BaseException) -> None:
        """Record a failed call; the first one of an outage logs a warning."""
        self.failures += 1
        now = self._clock()
        if self._down_since is None:
            self._down_since = now
            self._pause = FIRST_PAUSE
            log.warning(
                "Redis is unreachable (%s): rate limits admit, changes reach other "
                "replicas by database polling until it is back",
                type(error).__name__,
            )
        else:
            self._pause = min(self._pause * 2, MAX_PAUSE)
        self._retry_at = now + self._pause

    def succeeded(self, seconds: float | None = None) -> None:
        """Record a successful call (that took `seconds`, when the caller timed it); the
        first one after an outage logs its end."""
        if seconds is not None:
            self.on_latency(seconds)
        if self._down_since is not None:
            log.warning("Redis is back after %.1f s", self._clock() - self._down_since)
            self._down_since = None
            self._pause = FIRST_PAUSE

    async def ping(self) -> bool:
        """Whether Redis answers now (within TIMEOUT), for readiness; an answer also ends
        an outage. A failed probe is not counted as a failed call: nothing was admitted."""
        started = self._clock()
        try:
            await self.client.ping()
        except (RedisError, OSError, TimeoutError):
            return False
        self.succeeded(self._clock() - started)
        return True

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.listener.aclose()


class RedisMetrics(Collector):
    """`authgate_redis_up` and `authgate_redis_failures_total`, read at scrape time."""

    def __init__(self, link: RedisLink) -> None:
        self._link = link

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield GaugeMetricFamily(
            "authgate_redis_up", "1 while the last call to Redis succeeded.", value=self._link.up
        )
        yield CounterMetricFamily(
            "authgate_redis_failures",
            "Calls to Redis that failed or were skipped while it was down (rate limits admitted).",
            value=self._link.failures,
        )


def register_metrics(link: RedisLink, registry: CollectorRegistry) -> None:
    registry.register(RedisMetrics(link))
