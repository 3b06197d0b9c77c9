"""One vetting, start to verdict, on blocking streams (run in a worker thread by `vet`).

The upload is read in passes, each a fresh forward-only stream: first its top-level
documents (keeping small JSON-looking members on the side, so the config and OCI manifests
are usually at hand), another only if a named document was not kept, then one pass walking
the layers. Nothing is written to disk; memory is a few chunks plus the small documents.
"""

from __future__ import annotations

import contextlib
import logging
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace

from examples.intake.vetting.archive import members, read_capped
from examples.intake.vetting.config_checks import check_config, diff_ids
from examples.intake.vetting.formats import TOP_LEVEL, BlobRef, ImagePlan, parse_json, plan_image
from examples.intake.vetting.formats import verify as verify_blob
from examples.intake.vetting.layers import LayerSummary, walk_layer
from examples.intake.vetting.limits import (
    Budget,
    LimitExceeded,
    Rejected,
    SourceFailed,
    VetLimits,
)
from examples.intake.vetting.paths import normalise
from examples.intake.vetting.report import Report, VetResult
from examples.intake.vetting.streams import Readable, decompressed

log = logging.getLogger(__name__)
StreamOpener = Callable[[], contextlib.AbstractContextManager[Readable]]
KEPT_DOCUMENT_BYTES = 8 << 20
"""Small JSON-looking members kept from the first pass, in all."""
UPLOAD = "the upload"


def vet_archive(
    open_stream: StreamOpener, *, accept_findings: bool, limits: VetLimits
) -> VetResult:
    """The verdict on the archive `open_stream` reads; never raises."""
    report = Report(limits.max_findings)
    report.sections.update(format=None, tags=[], config=None, layers=[], limits=asdict(limits))
    try:
        _vet(open_stream, report, limits)
    except LimitExceeded as exc:
        report.sections["limit"] = exc.limit
        return VetResult("rejected", report.to_dict(), exc.reason)
    except Rejected as exc:
        return VetResult("rejected", report.to_dict(), exc.reason)
    except SourceFailed as exc:
        return VetResult("failed", report.to_dict(), str(exc))
    except Exception as exc:
        log.exception("vetting failed")
        return VetResult("failed", report.to_dict(), f"internal error ({type(exc).__name__})")
    high = report.counts["high"]
    report.sections["accepted_findings"] = bool(high and accept_findings)
    if high and not accept_findings:
        kinds = ", ".join(report.high_kinds())
        reason = f"{high} high-severity finding(s): {kinds}"
        return VetResult("rejected", report.to_dict(), reason)
    return VetResult("ok", report.to_dict(), None)


def _vet(open_stream: StreamOpener, report: Report, limits: VetLimits) -> None:
    kept = _documents(open_stream, limits, set(TOP_LEVEL), keep_small=True)

    def fetch(refs: list[BlobRef]) -> Mapping[str, bytes]:
        missing = {ref.name for ref in refs if ref.name not in kept}
        if missing:
            kept.update(_documents(open_stream, limits, missing, keep_small=False))
        for ref in refs:
            if ref.name not in kept:
                raise Rejected(f"{ref.name} is missing from the archive")
            verify_blob(kept[ref.name], ref)
        return {ref.name: kept[ref.name] for ref in refs}

    plan = plan_image({n: kept[n] for n in TOP_LEVEL if n in kept}, fetch, limits)
    report.sections.update(format=plan.format, tags=plan.tags)
    config = parse_json(fetch([plan.config])[plan.config.name], plan.config.name)
    kept.clear()
    ids = diff_ids(config, len(plan.layers))
    report.sections["config"] = check_config(config, report)
    _walk_layers(open_stream, plan, ids, report, limits)


def _upload_members(raw: Readable, limits: VetLimits) -> Readable:
    _, stream = decompressed(raw, Budget(limits.max_uncompressed_bytes, UPLOAD), UPLOAD)
    return stream


def _documents(
    open_stream: StreamOpener, limits: VetLimits, wanted: set[str], *, keep_small: bool
) -> dict[str, bytes]:
    """The `wanted` members (each capped at max_json_bytes); with `keep_small`, also every
    small member that looks like JSON, up to KEPT_DOCUMENT_BYTES in all."""
    found: dict[str, bytes] = {}
    ambiguous: set[str] = set()
    kept_bytes = 0
    with open_stream() as raw:
        for archive, member in members(
            _upload_members(raw, limits),
            limit=limits.max_archive_entries,
            limit_name="max_archive_entries",
            where=UPLOAD,
        ):
            name = normalise(member.name).path
            if name in wanted:
                if name in found:
                    raise Rejected(f"{name} appears twice in the archive")
                if not member.isreg():
                    raise Rejected(f"{name} is not a regular file")
                found[name] = _document(archive, member, name, limits)
            elif keep_small and member.isreg() and name not in ambiguous:
                small = min(limits.max_json_bytes, KEPT_DOCUMENT_BYTES - kept_bytes)
                if name in found:
                    kept_bytes -= len(found.pop(name))
                    ambiguous.add(name)
                elif member.size <= small:
                    data = _document(archive, member, name, limits)
                    if data.lstrip()[:1] in (b"{", b"["):
                        found[name] = data
                        kept_bytes += len(data)
    return found


def _document(
    archive: tarfile.TarFile, member: tarfile.TarInfo, name: str, limits: VetLimits
) -> bytes:
    cap = limits.max_json_bytes
    return read_capped(archive, member, cap=cap, limit_name="max_json_bytes", name=name)


def _walk_layers(
    open_stream: StreamOpener, plan: ImagePlan, ids: list[str], report: Report, limits: VetLimits
) -> None:
    """One pass over the upload, each layer walked where it lies in the archive."""
    positions: dict[str, list[int]] = {}
    for i, ref in enumerate(plan.layers):
        positions.setdefault(ref.name, []).append(i)
    done: dict[int, LayerSummary] = {}
    budget = Budget(limits.max_uncompressed_bytes, "the layers")
    with open_stream() as raw:
        for archive, member in members(
            _upload_members(raw, limits),
            limit=limits.max_archive_entries,
            limit_name="max_archive_entries",
            where=UPLOAD,
        ):
            name = normalise(member.name).path
            at = positions.get(name)
            if not at:
                continue
            if at[0] in done:
                raise Rejected(f"{name} appears twice in the archive")
            if not member.isreg():
                raise Rejected(f"layer {at[0] + 1} ({name}) is not a regular file")
            if len({ids[i] for i in at}) > 1:
                raise Rejected(f"{name} is listed as layers with different diff_ids")
            blob = archive.extractfile(member)
            assert blob is not None
            summary = walk_layer(
                blob,
                index=at[0] + 1,
                ref=plan.layers[at[0]],
                diff_id=ids[at[0]],
                budget=budget,
                limits=limits,
                report=report,
            )
            for i in at:
                done[i] = replace(summary, index=i + 1)
            report.sections["layers"] = [done[i].to_dict() for i in sorted(done)]
    for i, ref in enumerate(plan.layers):
        if i not in done:
            raise Rejected(f"layer {i + 1} ({ref.name}) is missing from the archive")
