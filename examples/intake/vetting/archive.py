"""Reading a tar archive as a stream: members one by one, counted, never kept.

`tarfile` in stream mode (`r|`) reads forward only, which is what a one-pass walk over an
upload needs; it also appends every member to `TarFile.members`, which for a tar of a
million entries is a million objects, so the list is emptied as we go.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator

from examples.intake.vetting.limits import LimitExceeded, Rejected
from examples.intake.vetting.streams import Readable

MAX_HEADER_BYTES = 1 << 20
"""A GNU long name or PAX header is read whole by `tarfile`: bigger ones are refused first."""
_HEADER_TYPES = frozenset(
    {
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
    }
)


class _BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses a huge long-name or PAX header before `tarfile` reads it."""

    def _proc_member(self, tarfile: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _HEADER_TYPES and self.size > MAX_HEADER_BYTES:
            raise Rejected(f"a {self.size}-byte tar header (at most {MAX_HEADER_BYTES})")
        return super()._proc_member(tarfile)  # type: ignore[misc,no-any-return]


def members(
    stream: Readable, *, limit: int, limit_name: str, where: str, empty_ok: bool = False
) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
    """Each member in order with its TarFile (to read the member's data before moving on)."""
    try:
        archive = tarfile.open(  # type: ignore[call-overload]  # noqa: SIM115
            fileobj=stream, mode="r|", tarinfo=_BoundedTarInfo
        )
    except tarfile.ReadError as exc:
        if empty_ok and str(exc) == "empty file":
            return
        raise Rejected(f"{where}: not a tar archive ({exc})") from None
    except tarfile.TarError as exc:
        raise Rejected(f"{where}: corrupt tar archive ({exc})") from None
    count = 0
    with archive:
        while True:
            try:
                member = archive.next()
            except tarfile.TarError as exc:
                raise Rejected(f"{where}: corrupt tar archive ({exc})") from None
            archive.members.clear()
            if member is None:
                return
            count += 1
            if count > limit:
                raise LimitExceeded(limit_name, f"{where} has more than {limit} entries")
            yield archive, member


def read_prefix(archive: tarfile.TarFile, member: tarfile.TarInfo, size: int) -> bytes:
    """At most `size` bytes from the start of a regular file member."""
    data = archive.extractfile(member)
    if data is None:
        return b""
    try:
        return data.read(min(size, member.size))
    except tarfile.TarError as exc:
        raise Rejected(f"{member.name}: truncated archive ({exc})") from None


def read_capped(
    archive: tarfile.TarFile, member: tarfile.TarInfo, *, cap: int, limit_name: str, name: str
) -> bytes:
    """A whole small member (a JSON document), refused before reading when over `cap`."""
    if member.size > cap:
        raise LimitExceeded(limit_name, f"{name} is {member.size} bytes (at most {cap})")
    data = read_prefix(archive, member, cap)
    if len(data) != member.size:
        raise Rejected(f"{name}: truncated archive")
    return data
