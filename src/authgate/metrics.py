"""The process's Prometheus registry: every series `GET /metrics` (admin listener) shows.

One object owns the registry and is built once in bootstrap; the parts it measures get a
small hook, never the registry:

- the domain's flows (sign-up, login, refresh, grants, introspection, revocation, mail)
  through `authgate.flows.FlowRecorder`, which this object implements. Instrumenting the
  domain services rather than each adapter counts a flow once whichever door it came
  through (REST, hosted pages, Cognito, OAuth), with the domain's own outcome (the code of
  its typed error), and keeps the domain free of HTTP and of Prometheus alike;
- policy decisions asked of the decision API, recorded by that adapter (the decider is a
  pure function evaluated per gate request; the gate's series already count those);
- the argon2 pool, the database pool and Redis: a callback for each wait or round trip,
  and gauges read at scrape time.

Label values come from closed sets only (error codes, grant types, allow/deny, route names
from configuration): never a user, an email or a client id, so a client cannot grow the
series. The `_created` series of prometheus_client are left out: nothing here needs them
and they double the output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from authgate import __version__

FLOW_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
WAIT_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)
OTHER_GRANT = "other"
GRANT_TYPES = frozenset({"authorization_code", "client_credentials", "refresh_token"})


@dataclass(frozen=True)
class FlowSpec:
    """The two series of one flow: a counter by outcome and a latency histogram."""

    counter: str
    histogram: str
    what: str
    outcome_label: str = "outcome"
    kind_label: str | None = None


FLOWS: dict[str, FlowSpec] = {
    "signup": FlowSpec("authgate_signups", "authgate_signup_duration_seconds", "Sign-ups"),
    "login": FlowSpec("authgate_logins", "authgate_login_duration_seconds", "Password logins"),
    "refresh": FlowSpec(
        "authgate_refreshes",
        "authgate_refresh_duration_seconds",
        "Refresh-token exchanges outside OAuth (REST API, Cognito)",
    ),
    "token_grant": FlowSpec(
        "authgate_token_grants",
        "authgate_token_grant_duration_seconds",
        "OAuth token endpoint grants",
        kind_label="grant_type",
    ),
    "introspection": FlowSpec(
        "authgate_introspections",
        "authgate_introspection_duration_seconds",
        "Token introspections (RFC 7662)",
    ),
    "revocation": FlowSpec(
        "authgate_revocations",
        "authgate_revocation_duration_seconds",
        "Token revocations (RFC 7009, sign-out of one sign-in)",
    ),
    "policy_decision": FlowSpec(
        "authgate_policy_decisions",
        "authgate_policy_decision_duration_seconds",
        "Decisions of the decision API",
        outcome_label="decision",
    ),
    "aws_authorizer": FlowSpec(
        "authgate_aws_authorizer_answers",
        "authgate_aws_authorizer_duration_seconds",
        "Answers of the API Gateway authorizer endpoint (allow, deny, unauthenticated)",
    ),
    "mail": FlowSpec(
        "authgate_mail_messages",
        "authgate_mail_delivery_duration_seconds",
        "Mail handed to the sender (outcome sent or failed)",
    ),
}


class _Flow:
    def __init__(self, spec: FlowSpec, registry: CollectorRegistry) -> None:
        kind = (spec.kind_label,) if spec.kind_label else ()
        self.counter = Counter(
            spec.counter,
            f"{spec.what}, by {' and '.join((*kind, spec.outcome_label))}.",
            (*kind, spec.outcome_label),
            registry=registry,
        )
        self.histogram = Histogram(
            spec.histogram,
            f"{spec.what}: seconds from start to end" + (f", by {kind[0]}." if kind else "."),
            kind,
            buckets=FLOW_BUCKETS,
            registry=registry,
        )
        self.has_kind = bool(kind)


class Metrics:
    """The registry and every series outside the gate's own (which `gateway.observe` adds
    to the same registry)."""

    def __init__(self, version: str = __version__) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # process-wide, as wanted
        self.registry = CollectorRegistry(auto_describe=True)
        Gauge(
            "authgate_build_info",
            "Always 1; the running authgate's version is the label.",
            ("version",),
            registry=self.registry,
        ).labels(version).set(1)
        self._flows = {name: _Flow(spec, self.registry) for name, spec in FLOWS.items()}
        self.password_hash_wait = Histogram(
            "authgate_password_hash_wait_seconds",
            "Time a password hash or verify waited for a free argon2 worker.",
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        self.database_pool_wait = Histogram(
            "authgate_database_pool_wait_seconds",
            "Time a unit of work waited for a database connection (including opening one).",
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        self.redis_latency = Histogram(
            "authgate_redis_command_duration_seconds",
            "Round trip of a successful Redis call (rate-limit script, publish).",
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )

    def record(self, flow: str, outcome: str, seconds: float, kind: str | None = None) -> None:
        """`authgate.flows.FlowRecorder`: count one run of `flow` and time it."""
        series = self._flows[flow]
        if series.has_kind:
            kind = kind if kind in GRANT_TYPES else OTHER_GRANT
            series.counter.labels(kind, outcome).inc()
            series.histogram.labels(kind).observe(seconds)
        else:
            series.counter.labels(outcome).inc()
            series.histogram.observe(seconds)

    def watch(self, name: str, read: Callable[[], float], what: str) -> None:
        """A gauge read at scrape time (a queue's depth, a pool's connections in use)."""
        self.registry.register(_Reading(name, what, read))

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text format of every series, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _Reading(Collector):
    def __init__(self, name: str, what: str, read: Callable[[], float]) -> None:
        self._name, self._what, self._read = name, what, read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(self._name, self._what, value=self._read())
