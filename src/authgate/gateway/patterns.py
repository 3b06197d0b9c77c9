"""Route patterns for paths and hosts: parsing, matching, specificity and overlap.

Kept apart from the route table so that configuration validation (ambiguity is a load
error) and request matching use the very same rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from authgate.gateway.paths import AmbiguousPath, normalize_path, split_path

STAR = "*"
DOUBLE_STAR = "**"
# Per-position ranks for specificity; "end" is a pattern that stops where the path stops.
_LITERAL_RANK, _END_RANK, _STAR_RANK, _DOUBLE_STAR_RANK = 4, 3, 2, 1


@dataclass(frozen=True)
class PathPattern:
    """`/orders/*/items/**`: literal segments, `*` (one non-empty segment), `**` (any rest)."""

    text: str
    segments: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> PathPattern:
        if not text.startswith("/"):
            raise ValueError("a path pattern must start with '/'")
        segments = tuple(split_path(text))
        last = len(segments) - 1
        for position, segment in enumerate(segments):
            if segment == DOUBLE_STAR and position != last:
                raise ValueError("'**' may only be the last segment")
            if segment == "" and position != last:
                raise ValueError("empty segments ('//') are not allowed")
            if segment in (STAR, DOUBLE_STAR) or segment == "":
                continue
            if STAR in segment:
                raise ValueError(f"'*' must be a whole segment, not part of {segment!r}")
            try:
                normalized = normalize_path("/" + segment)
            except AmbiguousPath as exc:
                raise ValueError(f"segment {segment!r}: {exc.reason}") from None
            if normalized != "/" + segment:
                raise ValueError(
                    f"segment {segment!r} is not in normalized form; write {normalized[1:]!r}"
                )
        return cls(text=text, segments=segments)

    @property
    def literal_prefix(self) -> tuple[str, ...]:
        """The leading literal segments, which every matching path starts with."""
        prefix: list[str] = []
        for segment in self.segments:
            if segment in (STAR, DOUBLE_STAR):
                break
            prefix.append(segment)
        return tuple(prefix)

    @property
    def specificity(self) -> tuple[int, tuple[int, ...], int]:
        """Larger is more specific: literal count, then segment kinds left to right, then length."""
        ranks = [_rank(segment) for segment in self.segments]
        if self.segments[-1] != DOUBLE_STAR:
            ranks.append(_END_RANK)
        literals = sum(1 for rank in ranks if rank == _LITERAL_RANK)
        return (literals, tuple(ranks), len(self.segments))

    def match(self, segments: list[str]) -> list[str] | None:
        """The wildcard captures (`*` segments, then the `**` rest) or None when no match."""
        params: list[str] = []
        for position, pattern in enumerate(self.segments):
            if pattern == DOUBLE_STAR:
                params.append("/".join(segments[position:]))
                return params
            if position >= len(segments):
                return None
            segment = segments[position]
            if pattern == STAR:
                if not segment:
                    return None
                params.append(segment)
            elif pattern != segment:
                return None
        return params if len(segments) == len(self.segments) else None

    def overlaps(self, other: PathPattern) -> bool:
        """Whether some path matches both patterns."""
        return _overlap(self.segments, other.segments)


def _rank(segment: str) -> int:
    if segment == DOUBLE_STAR:
        return _DOUBLE_STAR_RANK
    if segment == STAR:
        return _STAR_RANK
    return _LITERAL_RANK


def _overlap(left: tuple[str, ...], right: tuple[str, ...]) -> bool:
    for position in range(max(len(left), len(right))):
        a = left[position] if position < len(left) else None
        b = right[position] if position < len(right) else None
        if DOUBLE_STAR in (a, b):
            return True
        if a is None or b is None:
            return False
        if a == STAR and b == STAR:
            continue
        if STAR in (a, b):
            if (b if a == STAR else a) == "":
                return False
            continue
        if a != b:
            return False
    return True


_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
EXACT_HOST_RANK, WILDCARD_HOST_RANK, ANY_HOST_RANK, NO_HOST_MATCH = 2, 1, 0, -1


@dataclass(frozen=True)
class HostPattern:
    """An exact host name, or `*.example.com`: exactly one more label in front of the suffix."""

    name: str
    wildcard: bool

    @classmethod
    def parse(cls, text: str) -> HostPattern:
        lowered = text.lower()
        wildcard = lowered.startswith("*.")
        name = lowered[2:] if wildcard else lowered
        if not _HOST.fullmatch(name):
            raise ValueError(f"host {text!r} must be a host name (no port) or '*.' followed by one")
        return cls(name=name, wildcard=wildcard)

    def rank(self, host: str) -> int:
        if not self.wildcard:
            return EXACT_HOST_RANK if host == self.name else NO_HOST_MATCH
        label, dot, rest = host.partition(".")
        if dot and label and rest == self.name:
            return WILDCARD_HOST_RANK
        return NO_HOST_MATCH


def host_rank(patterns: tuple[HostPattern, ...], host: str | None) -> int:
    """How specifically a route's hosts match `host`; no hosts means any host."""
    if not patterns:
        return ANY_HOST_RANK
    if host is None:
        return NO_HOST_MATCH
    return max(pattern.rank(host) for pattern in patterns)


def sample_hosts(*routes: tuple[HostPattern, ...]) -> list[str | None]:
    """Hosts that reach every distinct host rank of the given routes, for overlap checks."""
    exact = {p.name for patterns in routes for p in patterns if not p.wildcard}
    samples: list[str | None] = [None, *sorted(exact)]
    for suffix in sorted({p.name for patterns in routes for p in patterns if p.wildcard}):
        label = "x"
        while f"{label}.{suffix}" in exact:
            label += "x"
        samples.append(f"{label}.{suffix}")
    samples.append(_fresh_host(exact))
    return samples


def _fresh_host(taken: set[str]) -> str:
    host = "unlisted.invalid"
    while host in taken:
        host = "x" + host
    return host
