"""The real Redis on 127.0.0.1:6379 for tests: skip (saying why) when it cannot be
reached, but fail in CI, where `make test` starts it."""

from __future__ import annotations

import os
import secrets
from typing import NoReturn

import pytest
import redis

REDIS_URL = "redis://127.0.0.1:6379/0"


def missing(message: str) -> NoReturn:
    """Fail in CI, where `make test` provides Redis; skip, saying why, elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        missing(f"Redis on 127.0.0.1:6379 is not reachable ({error}); .ci/run starts it")
    return client


def unique_prefix(name: str) -> str:
    """Keys of one test module, apart from every other run's."""
    return f"authgate-test:{name}:{secrets.token_hex(4)}:"
