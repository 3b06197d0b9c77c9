"""Normalising tar entry names and link targets without touching any filesystem.

A name is split on `/`, `.` and empty parts dropped, `..` pops a part; a `..` with nothing
left to pop *escapes* the root (what `../../etc/passwd` does to a naive extractor). The
result is relative to the image root, never has `..` in it, and is what a runtime would
create; the flags say how the original strayed from it.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass


@dataclass(frozen=True)
class NormalPath:
    path: str
    """Relative to the root, `/`-separated, no `.`/`..`/empty parts; "" is the root itself."""
    absolute: bool
    """The name began with `/`."""
    escapes: bool
    """A `..` climbed above the root (clamped in `path`)."""
    dotdot: bool
    """The name had a `..` part at all, escaping or not."""


def normalise(name: str) -> NormalPath:
    parts: list[str] = []
    escapes = dotdot = False
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            dotdot = True
            if parts:
                parts.pop()
            else:
                escapes = True
            continue
        parts.append(part)
    return NormalPath("/".join(parts), name.startswith("/"), escapes, dotdot)


def link_target(entry: str, target: str, *, hard: bool) -> NormalPath:
    """Where a link points, from the root: a hard link's target is an archive name (from the
    root), a symlink's relative target is taken from the link's own directory."""
    if hard or target.startswith("/"):
        return normalise(target)
    return normalise(posixpath.join(posixpath.dirname(normalise(entry).path), target))


def is_under(path: str, directory: str) -> bool:
    """`path` is `directory` or inside it (both normalised)."""
    return directory == "" or path == directory or path.startswith(directory + "/")
