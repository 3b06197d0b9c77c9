"""Vetting an uploaded container image: is it an image, and is anything in it dangerous?

`vet` reads the stored upload through `open_blob` (called once per pass, each call a fresh
async iterator), parses in a worker thread, and answers `ok`, `rejected` (with the reason:
not an image, corrupt, a limit exceeded, or high-severity findings not accepted) or `failed`
(an internal error). It never extracts anything to disk and never holds a layer in memory.
The rules and their severities are in examples/intake/VETTING.md.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable

from examples.intake.vetting.bridge import stream_opener
from examples.intake.vetting.limits import VetLimits
from examples.intake.vetting.report import Finding, VetResult
from examples.intake.vetting.scan import vet_archive

__all__ = ["Finding", "VetLimits", "VetResult", "vet"]


async def vet(
    open_blob: Callable[[], AsyncIterator[bytes]],
    *,
    accept_findings: bool = False,
    limits: VetLimits | None = None,
) -> VetResult:
    """The verdict on the upload `open_blob` reads (optionally gzip- or zstd-compressed)."""
    stop = threading.Event()
    opener = stream_opener(asyncio.get_running_loop(), open_blob, stop)
    try:
        return await asyncio.to_thread(
            vet_archive, opener, accept_findings=accept_findings, limits=limits or VetLimits()
        )
    except asyncio.CancelledError:
        stop.set()
        raise
