"""Findings, the report they go into, and the verdict handed back to the service.

The report is plain JSON-able data: `{findings: [{severity, kind, where, detail}], layers,
config, format, ...}`. Details never quote a secret whole (see `secrets.redact`), since the
report is shown to the uploader and may be logged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["high", "medium", "low", "info"]
Status = Literal["ok", "rejected", "failed"]
SEVERITIES: tuple[Severity, ...] = ("high", "medium", "low", "info")


@dataclass(frozen=True)
class Finding:
    severity: Severity
    kind: str
    where: str
    detail: str


@dataclass
class Report:
    """What a vetting found so far; kept bounded at `max_findings` entries."""

    max_findings: int
    findings: list[Finding] = field(default_factory=list)
    dropped: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))
    sections: dict[str, Any] = field(default_factory=dict)

    def add(self, severity: Severity, kind: str, where: str, detail: str) -> None:
        self.counts[severity] += 1
        if len(self.findings) < self.max_findings:
            self.findings.append(Finding(severity, kind, where, detail))
        else:
            self.dropped += 1

    def high_kinds(self) -> list[str]:
        return sorted({f.kind for f in self.findings if f.severity == "high"})

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [asdict(f) for f in self.findings],
            "findings_dropped": self.dropped,
            "counts": dict(self.counts),
            **self.sections,
        }


@dataclass(frozen=True)
class VetResult:
    """The verdict: `ok`, `rejected` (with the reason) or `failed` (an internal error)."""

    status: Status
    report: dict[str, Any]
    reason: str | None = None
