"""Walking one layer as a stream: every entry's name, type and mode, a few files' first bytes.

Nothing is extracted. The layer's bytes are hashed as they pass, compressed (its blob digest)
and decompressed (its diff_id), and checked against what the manifest and config promise
once the walk has read them to the end.
"""

from __future__ import annotations

import tarfile
from dataclasses import asdict, dataclass
from typing import Any

from examples.intake.vetting.archive import members, read_prefix
from examples.intake.vetting.formats import BlobRef
from examples.intake.vetting.limits import Budget, Rejected, VetLimits
from examples.intake.vetting.paths import link_target, normalise
from examples.intake.vetting.report import Report
from examples.intake.vetting.secrets import file_rule, scan_file
from examples.intake.vetting.streams import HashingReader, Readable, decompressed

MAX_TRACKED_SYMLINKS = 50_000
"""Symlinks remembered per layer to catch entries written through them (bounded memory)."""


@dataclass
class LayerSummary:
    index: int
    digest: str
    diff_id: str
    compression: str
    size: int
    uncompressed_size: int
    entries: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Walk:
    """The state of one layer's walk: where findings go, the symlinks seen so far."""

    def __init__(self, where: str, report: Report, limits: VetLimits) -> None:
        self.where = where
        self.report = report
        self.limits = limits
        self.symlinks: set[str] = set()

    def add(self, severity: Any, kind: str, path: str, detail: str) -> None:
        self.report.add(severity, kind, f"{self.where}: {path}", detail)

    def entry(self, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = normalise(member.name)
        shown = member.name[:300]
        if name.absolute:
            self.add("high", "absolute-path", shown, "an absolute path in a layer")
        if name.escapes:
            self.add("high", "path-traversal", shown, "`..` climbs out of the image root")
        elif name.dotdot:
            self.add("medium", "dotdot-path", shown, f"`..` in the name, inside: {name.path}")
        self._through_symlink(name.path, shown)
        if member.issym() or member.islnk():
            self._link(member, name.path, shown)
        elif member.ischr() or member.isblk():
            device = f"{member.devmajor}:{member.devminor}"
            self.add("medium", "device-file", shown, f"device node {device}")
        elif member.isreg():
            self._file(archive, member, name.path, shown)

    def _through_symlink(self, path: str, shown: str) -> None:
        parent = path
        while "/" in parent:
            parent = parent.rsplit("/", 1)[0]
            if parent in self.symlinks:
                self.add("high", "through-symlink", shown, f"written through the symlink {parent}")
                return

    def _link(self, member: tarfile.TarInfo, path: str, shown: str) -> None:
        hard = member.islnk()
        kind = "hard link" if hard else "symlink"
        target = link_target(member.name, member.linkname, hard=hard)
        if target.escapes or (hard and target.absolute):
            self.add("high", "link-outside-root", shown, f"{kind} to {member.linkname[:300]!r}")
        elif target.path == "":
            self.add("high", "link-to-root", shown, f"{kind} to the root ({member.linkname!r})")
        if not hard and len(self.symlinks) < MAX_TRACKED_SYMLINKS:
            self.symlinks.add(path)

    def _file(
        self, archive: tarfile.TarFile, member: tarfile.TarInfo, path: str, shown: str
    ) -> None:
        if member.mode & 0o6000:
            bits = "setuid" if member.mode & 0o4000 else "setgid"
            if member.mode & 0o022:
                self.add("high", "writable-setuid", shown, f"{bits} and writable by others")
            elif member.mode & 0o4000:
                self.add("medium", "setuid", shown, f"setuid, owner uid {member.uid}")
            else:
                self.add("low", "setgid", shown, f"setgid, group gid {member.gid}")
        rule = file_rule(path)
        if rule is not None and member.size > 0:
            head = read_prefix(archive, member, self.limits.secret_prefix_bytes)
            for match in scan_file(rule, head):
                self.add(match.severity, match.kind, shown, match.detail)


def walk_layer(
    raw: Readable,
    *,
    index: int,
    ref: BlobRef,
    diff_id: str,
    budget: Budget,
    limits: VetLimits,
    report: Report,
) -> LayerSummary:
    """Reads the layer blob `raw` to its end, reporting on every entry, verifying digests."""
    where = f"layer {index}"
    blob = HashingReader(raw)
    compression, data = decompressed(blob, budget, where)
    tar_bytes = HashingReader(data)
    walk = _Walk(where, report, limits)
    entries = 0
    for archive, member in members(
        tar_bytes,
        limit=limits.max_entries_per_layer,
        limit_name="max_entries_per_layer",
        where=where,
        empty_ok=True,
    ):
        entries += 1
        walk.entry(archive, member)
    tar_bytes.drain()
    blob.drain()
    if ref.digest is not None and blob.digest != ref.digest:
        raise Rejected(f"{where}: blob digest {blob.digest} is not the promised {ref.digest}")
    if ref.size is not None and blob.size != ref.size:
        raise Rejected(f"{where}: blob is {blob.size} bytes, not the promised {ref.size}")
    if tar_bytes.digest != diff_id:
        raise Rejected(f"{where}: uncompressed digest {tar_bytes.digest} is not diff_id {diff_id}")
    return LayerSummary(
        index, blob.digest, tar_bytes.digest, compression, blob.size, tar_bytes.size, entries
    )
