"""Stage 6: one access-log line and the Prometheus series for every request through the gate.

The access log is a JSON object a line on the `authgate.access` logger, so any log shipper
can parse it; it names route, status, subject, client, upstream target and the time spent
authenticating and waiting for the upstream. The query string is never logged: it may
carry credentials (`?access_token=`, signed URLs).

Metrics live in a registry of this process's own (not the library's global one), so two
apps in one process, or a reload, never mix series. Label values come from configuration
(route names) or from small closed sets (status, a method list), so a client cannot make
the series grow without bound by sending odd methods or paths.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger("authgate.access")

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
NO_ROUTE = "-"
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass(frozen=True)
class Exchange:
    """What happened to one request the gate handled (forwarded or refused)."""

    route: str | None
    method: str
    status: int
    subject: str | None
    client: str | None
    target: str | None
    peer: str | None
    auth_seconds: float
    upstream_seconds: float | None
    total_seconds: float
    reason_id: str | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    path: str = ""
    """The request path without its query."""


class Observer:
    """Writes the access log and keeps the per-route series."""

    def __init__(self, access_log: bool = True) -> None:
        self.access_log = access_log
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "authgate_gate_requests",
            "Requests handled by the gate, by route, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self._duration = Histogram(
            "authgate_gate_request_duration_seconds",
            "Time from the request's arrival to the end of the answer, by route.",
            ("route",),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._auth = Histogram(
            "authgate_gate_auth_duration_seconds",
            "Time spent matching, authenticating, authorizing and mutating, by route.",
            ("route",),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._upstream = Histogram(
            "authgate_gate_upstream_duration_seconds",
            "Time from sending to the upstream to the end of its answer, by route.",
            ("route",),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._bytes = Counter(
            "authgate_gate_body_bytes",
            "Body bytes passed through the gate, by route and direction (in: from clients).",
            ("route", "direction"),
            registry=self.registry,
        )

    def record(self, exchange: Exchange) -> None:
        route = exchange.route or NO_ROUTE
        method = exchange.method if exchange.method in KNOWN_METHODS else "OTHER"
        self._requests.labels(route, method, str(exchange.status)).inc()
        self._duration.labels(route).observe(exchange.total_seconds)
        self._auth.labels(route).observe(exchange.auth_seconds)
        if exchange.upstream_seconds is not None:
            self._upstream.labels(route).observe(exchange.upstream_seconds)
        if exchange.bytes_in:
            self._bytes.labels(route, "in").inc(exchange.bytes_in)
        if exchange.bytes_out:
            self._bytes.labels(route, "out").inc(exchange.bytes_out)
        if self.access_log and log.isEnabledFor(logging.INFO):
            log.info(access_line(exchange))

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text format of every series, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def access_line(exchange: Exchange) -> str:
    """One JSON object: fixed keys, absent values as null, durations in milliseconds."""
    return json.dumps(
        {
            "route": exchange.route,
            "method": exchange.method,
            "path": exchange.path,
            "status": exchange.status,
            "subject": exchange.subject,
            "client": exchange.client,
            "upstream_target": exchange.target,
            "peer": exchange.peer,
            "reason_id": exchange.reason_id,
            "auth_ms": _ms(exchange.auth_seconds),
            "upstream_ms": _ms(exchange.upstream_seconds),
            "total_ms": _ms(exchange.total_seconds),
            "bytes_in": exchange.bytes_in,
            "bytes_out": exchange.bytes_out,
        },
        separators=(",", ":"),
        ensure_ascii=True,
    )
