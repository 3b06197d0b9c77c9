"""What the domain tells about its flows (sign-up, login, grants...): a name, an outcome, a time.

Domain services take a `FlowRecorder` and call `timed(...)` around a flow; they know nothing
of Prometheus or HTTP. Instrumenting here rather than in every adapter means one count per
flow whichever door it came through (REST API, hosted pages, Cognito, OAuth endpoints),
and the outcome is the domain's own: the `code` of the typed error it raised (a closed set
of class attributes, so the label cannot grow from what a client sends), or what the
flow set (`mfa_required`). `authgate.metrics` is the recorder a running server uses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol

from authgate.errors import DomainError

SUCCESS = "success"
FAILED = "error"
"""The outcome of a flow that ended with an exception that is not a domain error."""


class FlowRecorder(Protocol):
    def record(self, flow: str, outcome: str, seconds: float, kind: str | None = None) -> None:
        """One run of `flow` ended with `outcome` after `seconds`; `kind` is a sub-type
        from a closed set (a grant type), or None."""


class NoFlows:
    """The recorder for code built without metrics (tests, the CLI)."""

    def record(self, flow: str, outcome: str, seconds: float, kind: str | None = None) -> None:
        return None


NO_FLOWS: FlowRecorder = NoFlows()


class Run:
    """The flow being timed; the body may name its outcome when it ends without an error."""

    def __init__(self) -> None:
        self.outcome = SUCCESS


@contextmanager
def timed(
    recorder: FlowRecorder,
    flow: str,
    kind: str | None = None,
    renamed: Mapping[str, str] | None = None,
) -> Iterator[Run]:
    """Record `flow` when the block ends: its outcome is the domain error's code (mapped
    through `renamed`, e.g. too_many_requests -> locked), `error` for any other exception,
    else what the block set on the run (`success` by default)."""
    run = Run()
    started = time.perf_counter()
    try:
        yield run
    except DomainError as exc:
        code = type(exc).code
        recorder.record(flow, (renamed or {}).get(code, code), time.perf_counter() - started, kind)
        raise
    except Exception:
        recorder.record(flow, FAILED, time.perf_counter() - started, kind)
        raise
    recorder.record(flow, run.outcome, time.perf_counter() - started, kind)
