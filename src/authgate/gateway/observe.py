"""Stage 6: one access-log line and the Prometheus series for every request through the gate.

The access log is a record a request on the `authgate.access` logger whose message is a
mapping: with `logging.format: json` its items are fields of the line's JSON object, in text
the message is the same object as compact JSON. It names route, status, subject, client,
upstream target, the time spent authenticating and waiting for the upstream, and the
request's `request_id` (the one the upstream received as X-Request-Id). The query
string is never logged: it may carry credentials (`?access_token=`, signed URLs).

Metrics live in a registry of this process's own (not the library's global one), so two
apps in one process, or a reload, never mix series. Label values come from configuration
(route names) or from small closed sets (status, a method list), so a client cannot make
the series grow without bound by sending odd methods or paths.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from authgate.request_ids import current_request_id

log = logging.getLogger("authgate.access")

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
NO_ROUTE = "-"
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Observed(Protocol):
    """What the observer reads of a request: an Exchange, or the proxy's own record."""

    @property
    def route(self) -> str | None: ...
    @property
    def method(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def subject(self) -> str | None: ...
    @property
    def client(self) -> str | None: ...
    @property
    def target(self) -> str | None: ...
    @property
    def peer(self) -> str | None: ...
    @property
    def auth_seconds(self) -> float: ...
    @property
    def upstream_seconds(self) -> float | None: ...
    @property
    def total_seconds(self) -> float: ...
    @property
    def reason_id(self) -> str | None: ...
    @property
    def bytes_in(self) -> int: ...
    @property
    def bytes_out(self) -> int: ...
    @property
    def path(self) -> str: ...


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

    def __init__(self, access_log: bool = True, registry: CollectorRegistry | None = None) -> None:
        """`registry`: the process's (`authgate.metrics`), else one of its own."""
        self.access_log = access_log
        self.registry = registry or CollectorRegistry(auto_describe=True)
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
        self._counted: dict[tuple[str, str, int], Counter] = {}
        self._timed: dict[str, _RouteSeries] = {}
        """The labelled children, looked up once: `labels()` costs a lock and a tuple a call.
        Keys are bounded: routes come from configuration, methods and statuses are closed sets."""

    def _series(self, route: str) -> _RouteSeries:
        series = self._timed.get(route)
        if series is None:
            series = self._timed[route] = _RouteSeries(
                self._duration.labels(route),
                self._auth.labels(route),
                self._upstream.labels(route),
                self._bytes.labels(route, "in"),
                self._bytes.labels(route, "out"),
            )
        return series

    def record(self, exchange: Observed) -> None:
        route = exchange.route or NO_ROUTE
        method = exchange.method if exchange.method in KNOWN_METHODS else "OTHER"
        key = (route, method, exchange.status)
        counter = self._counted.get(key)
        if counter is None:
            counter = self._counted[key] = self._requests.labels(
                route, method, str(exchange.status)
            )
        counter.inc()
        series = self._series(route)
        series.duration.observe(exchange.total_seconds)
        series.auth.observe(exchange.auth_seconds)
        if exchange.upstream_seconds is not None:
            series.upstream.observe(exchange.upstream_seconds)
        if exchange.bytes_in:
            series.bytes_in.inc(exchange.bytes_in)
        if exchange.bytes_out:
            series.bytes_out.inc(exchange.bytes_out)
        if self.access_log and log.isEnabledFor(logging.INFO):
            # As log.info would, minus its search of the stack for the caller's file and
            # line, which an access line does not carry.
            log.handle(
                log.makeRecord(log.name, logging.INFO, "", 0, access_fields(exchange), (), None)
            )

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text format of every series, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


@dataclass(frozen=True)
class _RouteSeries:
    duration: Histogram
    auth: Histogram
    upstream: Histogram
    bytes_in: Counter
    bytes_out: Counter


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode
"""One encoder for every line (json.dumps with options builds a new one per call)."""


class AccessFields(dict[str, object]):
    """The fields of one access-log record; as text (`str`), one compact JSON object."""

    def __str__(self) -> str:
        return _ENCODE(self)


def access_line(exchange: Observed) -> str:
    """One JSON object: fixed keys, absent values as null, durations in milliseconds."""
    return str(access_fields(exchange))


def access_fields(exchange: Observed) -> AccessFields:
    """The access log's fields: fixed keys, absent values as null, durations in ms."""
    return AccessFields(
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
            "request_id": current_request_id.get(),
        }
    )
