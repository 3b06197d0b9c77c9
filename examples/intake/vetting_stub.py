"""A stand-in for `examples.intake.vetting` (built on another branch) while it is not merged.

Same interface, trivial rule: a body holding an AWS access key id pattern is `rejected`
(`ok` with `accept_findings`), anything else `ok`. Removed once the real vetting is merged.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

AWS_KEY = re.compile(rb"AKIA[0-9A-Z]{16}")


@dataclass(frozen=True)
class VetLimits:
    max_uncompressed_bytes: int = 8 * 1024**3
    max_entries_per_layer: int = 100_000
    max_layers: int = 128
    max_json_bytes: int = 4 * 1024**2


@dataclass(frozen=True)
class VetResult:
    status: str
    report: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


async def vet(
    open_blob: Callable[[], AsyncIterator[bytes]], *, accept_findings: bool, limits: VetLimits
) -> VetResult:
    findings: list[dict[str, str]] = []
    tail = b""
    async for chunk in open_blob():
        if AWS_KEY.search(tail + chunk):
            findings.append(
                {"severity": "high", "kind": "secret", "where": "blob", "detail": "AWS key id"}
            )
            break
        tail = chunk[-32:]
    report = {"findings": findings, "layers": [], "config": {}}
    if findings and not accept_findings:
        return VetResult("rejected", report, "high-severity findings")
    return VetResult("ok", report, None)
