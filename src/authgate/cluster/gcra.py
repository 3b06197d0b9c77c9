"""A rate-limit budget shared by every replica: GCRA in one Lua script on Redis.

The state of a key is one number, its theoretical arrival time (TAT) in milliseconds. A
request is admitted when `max(TAT, now) + interval - period <= now`; admitting moves the
TAT one interval on, and the key expires when the TAT is reached (then it means nothing
more than an absent key). Redis's own clock (`TIME`) is the clock, so replicas whose
clocks differ still share one budget. One round trip per check: EVALSHA, with EVAL when
the script is not cached yet (redis-py's `Script`). A failure admits (fail open).
"""

from __future__ import annotations

import math
import time

from redis.exceptions import RedisError

from authgate.cluster.link import RedisLink

SLACK_MS = 0.001
"""Milliseconds of float rounding forgiven, as the in-process limiter forgives 1e-6 s."""

SCRIPT = """
local now = tonumber(ARGV[3])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  tat = math.max(tonumber(stored), now)
end
local wait = tat + interval - period - now
if wait > tonumber(ARGV[4]) then
  return {0, string.format('%.17g', wait)}
end
local horizon = tat + interval
redis.call('SET', KEYS[1], string.format('%.17g', horizon), 'PX', math.ceil(horizon - now))
return {1, '0'}
"""


def gcra_step(tat: float | None, now: float, interval: float, period: float) -> tuple[float, float]:
    """The script's arithmetic in Python (milliseconds): (new TAT or the old one, wait).

    A positive wait above the slack means refused, and the TAT is unchanged."""
    current = now if tat is None else max(tat, now)
    wait = current + interval - period - now
    if wait > SLACK_MS:
        return (tat if tat is not None else now), wait
    return current + interval, 0.0


class SharedLimiter:
    """`hit(key, count, period)` against Redis; returns the seconds to wait, or 0 if admitted."""

    def __init__(self, link: RedisLink) -> None:
        self._link = link
        self._script = link.client.register_script(SCRIPT)

    async def wait(self, key: str, count: int, period: float, now_ms: float | None = None) -> float:
        """Spend one request of `key`'s budget; seconds until the next would be admitted
        (0: admitted now). Redis down: 0, always."""
        if not self._link.usable():
            return 0.0
        period_ms = period * 1000.0
        args: list[float | str] = [period_ms / count, period_ms, "" if now_ms is None else now_ms]
        args.append(SLACK_MS)
        started = time.perf_counter()
        try:
            admitted, wait = await self._script(keys=[self._link.key_prefix + key], args=args)
        except (RedisError, OSError, TimeoutError) as error:
            self._link.failed(error)
            return 0.0
        self._link.succeeded(time.perf_counter() - started)
        return 0.0 if int(admitted) == 1 else float(wait) / 1000.0

    async def retry_after(self, key: str, count: int, period: float) -> int | None:
        """None when admitted, else whole seconds (>= 1) for a Retry-After header."""
        wait = await self.wait(key, count, period)
        return None if wait <= 0 else max(1, math.ceil(wait))
