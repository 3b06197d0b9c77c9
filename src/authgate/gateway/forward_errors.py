"""Typed failures of stage 5 (forwarding), mapped to statuses in the gateway's one table
(`gateway.failure_answers`).

They carry no address or library message: what went wrong with which target is logged,
and the client learns only the stable code.
"""

from __future__ import annotations

import aiohttp

from authgate.gateway.upstreams import NoHealthyUpstream

__all__ = [
    "BadGateway",
    "BodyStalled",
    "BodyTooLarge",
    "NoHealthyUpstream",
    "UpstreamTimeout",
    "loggable",
]


def loggable(exc: BaseException) -> str:
    """What to log of an upstream failure. aiohttp's response errors carry the request's
    headers (Authorization, the identity JWT) in their repr: only status and message."""
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{type(exc).__name__}(status={exc.status}, message={exc.message!r})"
    return repr(exc)


class BodyTooLarge(Exception):
    """The request body is over the route's `max_body` (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body is over {limit} bytes")
        self.limit = limit


class BodyStalled(Exception):
    """The request body stopped arriving for longer than the upstream's read timeout (408)."""


class UpstreamTimeout(Exception):
    """The upstream did not connect or answer in time (504)."""


class BadGateway(Exception):
    """The upstream could not be reached or answered something unusable (502)."""
