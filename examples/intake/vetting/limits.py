"""The limits that make a hostile archive harmless, and the errors that end a vetting early.

Every read of the upload is bounded by one of these: a decompression bomb runs into
`max_uncompressed_bytes` (counted as bytes come out of a decompressor, so it stops there), a
tar of a million empty files into `max_entries_per_layer`, a JSON document into
`max_json_bytes` before it is parsed. Exceeding one rejects the image naming the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

GiB = 1 << 30
MiB = 1 << 20


@dataclass(frozen=True)
class VetLimits:
    """Bounds on the work and memory one vetting may spend; the defaults suit real images."""

    max_uncompressed_bytes: int = 8 * GiB
    """The upload once decompressed and, separately, all its layers once decompressed."""
    max_entries_per_layer: int = 500_000
    max_layers: int = 128
    """Docker's own ceiling is 127 layers (overlayfs)."""
    max_json_bytes: int = 1 * MiB
    """manifest.json, index.json, oci-layout, OCI manifests and image configs, each."""
    max_archive_entries: int = 10_000
    """Members of the uploaded archive itself (layers, configs, manifests: a handful)."""
    max_findings: int = 1_000
    """Findings kept in the report; the rest are counted, so a report stays small."""
    secret_prefix_bytes: int = 64 * 1024
    """How much of a secret-looking file (`*.pem`, `.env`, ...) is read to look inside."""


class Rejected(Exception):
    """The upload is not an image we accept: not an archive, corrupt, or inconsistent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LimitExceeded(Rejected):
    """One of the VetLimits was reached; `limit` is the field's name."""

    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(f"limit {limit} exceeded: {detail}")
        self.limit = limit


class SourceFailed(Exception):
    """Reading the stored upload itself failed (storage, not the archive): an internal error."""


class Budget:
    """The uncompressed bytes one pass over the upload may still produce."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.what = what
        self.spent = 0

    def spend(self, n: int) -> None:
        self.spent += n
        if self.spent > self.limit:
            raise LimitExceeded(
                "max_uncompressed_bytes",
                f"{self.what}: more than {self.limit} bytes once decompressed",
            )
