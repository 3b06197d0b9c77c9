"""Per-user quotas, counting the uploads still streaming in as well as the stored images.

The service is one process, so what is in flight is counted in memory: two uploads by one
user at once share one budget, and a refused or broken upload gives back what it held.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from examples.intake.config import Quota


class QuotaExceeded(Exception):
    """Over `quota.images` (429) or `quota.bytes` (413); the message says which and how much."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


@dataclass
class Reservation:
    """One upload's hold on its owner's budget: one image, and the bytes received so far."""

    quotas: Quotas
    owner: str
    stored_bytes: int
    bytes: int = 0

    def grow(self, more: int) -> None:
        """Count `more` bytes received; QuotaExceeded as soon as they would not fit."""
        others = self.quotas.in_flight_bytes(self.owner) - self.bytes
        if self.stored_bytes + others + self.bytes + more > self.quotas.quota.bytes:
            raise QuotaExceeded(413, self.quotas.bytes_message())
        self.bytes += more
        self.quotas.held_bytes[self.owner] += more

    def release(self) -> None:
        self.quotas.held_images[self.owner] -= 1
        self.quotas.held_bytes[self.owner] -= self.bytes
        self.bytes = 0


class Quotas:
    def __init__(self, quota: Quota) -> None:
        self.quota = quota
        self.held_images: defaultdict[str, int] = defaultdict(int)
        self.held_bytes: defaultdict[str, int] = defaultdict(int)

    def in_flight_bytes(self, owner: str) -> int:
        return self.held_bytes[owner]

    def held(self, owner: str) -> tuple[int, int]:
        """(images, bytes) of the owner's uploads still streaming in."""
        return self.held_images[owner], self.held_bytes[owner]

    def bytes_message(self) -> str:
        return (
            f"This upload would take you over your storage quota of {_size(self.quota.bytes)}:"
            " delete images you no longer need."
        )

    def reserve(
        self, owner: str, images: int, stored_bytes: int, announced: int | None
    ) -> Reservation:
        """A hold for one more image, given what the owner stores now; QuotaExceeded if not."""
        if images + self.held_images[owner] >= self.quota.images:
            raise QuotaExceeded(
                429,
                f"You have reached your quota of {self.quota.images} images:"
                " delete one before uploading another.",
            )
        if announced is not None and (
            stored_bytes + self.held_bytes[owner] + announced > self.quota.bytes
        ):
            raise QuotaExceeded(413, self.bytes_message())
        self.held_images[owner] += 1
        return Reservation(self, owner, stored_bytes)
