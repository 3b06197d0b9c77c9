r"""One normalized form of a request path, shared by routing, proxying and forward-auth.

The gate and the upstream must read a path the same way (SECURITY.md item 1), so the path is
normalized once, matched on, and forwarded exactly as normalized. The form is chosen so that
two spellings an upstream would decode to the same path normalize to the same string:

- escapes of characters allowed raw in a segment are decoded (`%61` -> `a`, `%3A` -> `:`),
  since almost every upstream decodes them before routing (`/a%3Ab` must not dodge a route
  for `/a:b`);
- the few ASCII characters that cannot stand raw in a path (space, `"`, `<`, `>`, `?`, `#`,
  `[`, `]`, `^`, backquote, `{`, `|`, `}`) stay escaped, with upper-case hex;
- everything servers disagree on is refused rather than guessed: encoded `/`, `\` and `;`, a raw
  `\`, `%25` (servers that decode twice would read another path), control characters and
  `%00`, non-ASCII bytes (raw or encoded, including overlong UTF-8 such as `%c0%ae`), invalid
  escapes, raw `;` (path parameters, read differently by servers), dot segments (also after
  decoding, and any all-dots segment), empty segments (`//`), and segments ending in `.` or
  a space (Windows servers strip those, so `/admin./x` and `/admin%20/x` read as `/admin/x`).

A trailing slash is kept: `/a/` and `/a` are different paths. Case is preserved. Dot
segments are never resolved, only refused, and every other refusal is decided on the path
as sent: `/a/%00/../b` is refused for its `%00`, not read as `/a/b`.
"""

from __future__ import annotations

import re
import string

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_SUB_DELIMS_SAFE = frozenset("!$&'()*+,=:@")
# Characters that appear raw in a normalized path segment; their escapes are decoded.
SEGMENT_CHARS = _UNRESERVED | _SUB_DELIMS_SAFE
_HEX = frozenset(string.hexdigits)
_ALREADY_NORMAL = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,=:@/]*")
"""A path of raw segment characters only: nothing to decode or refuse character by
character (the segment checks still run), which is nearly every request."""


class AmbiguousPath(Exception):
    """A path that upstreams could read differently; the gate answers 400."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _decoded(escape: str) -> str:
    byte = int(escape, 16)
    char = chr(byte)
    if char in SEGMENT_CHARS:
        return char
    if char == "/":
        raise AmbiguousPath("an encoded '/' (%2F) is ambiguous")
    if char == "\\":
        raise AmbiguousPath("an encoded '\\' (%5C) is ambiguous")
    if char == "%":
        raise AmbiguousPath(
            "an encoded '%' (%25) is refused: it reads differently when decoded twice"
        )
    if char == ";":
        raise AmbiguousPath("an encoded ';' (%3B) is refused: decoded, it is a path parameter")
    if byte < 0x20 or byte == 0x7F:
        raise AmbiguousPath(f"an encoded control character (%{byte:02X}) is refused")
    if byte >= 0x80:
        raise AmbiguousPath("non-ASCII bytes in a path are refused")
    return f"%{byte:02X}"


def _raw(char: str) -> str:
    if char in SEGMENT_CHARS or char == "/":
        return char
    if char == "\\":
        raise AmbiguousPath("a '\\' in a path is ambiguous")
    if char == ";":
        raise AmbiguousPath("';' path parameters are read differently by servers")
    if not char.isascii():
        raise AmbiguousPath("non-ASCII characters in a path are refused")
    if not char.isprintable():
        raise AmbiguousPath("control characters in a path are refused")
    raise AmbiguousPath(f"the character {char!r} must be percent-encoded")


def normalize_path(raw_path: str) -> str:
    """The normalized form of `raw_path` (percent-encoded, without query), or AmbiguousPath."""
    if _ALREADY_NORMAL.fullmatch(raw_path):
        _check_segments(raw_path)
        return raw_path
    if not raw_path.startswith("/"):
        raise AmbiguousPath("the path must start with '/'")
    out: list[str] = []
    index = 0
    while index < len(raw_path):
        char = raw_path[index]
        if char == "%":
            escape = raw_path[index + 1 : index + 3]
            if len(escape) != 2 or not _HEX.issuperset(escape):
                raise AmbiguousPath("an invalid percent-escape")
            out.append(_decoded(escape))
            index += 3
        else:
            out.append(_raw(char))
            index += 1
    path = "".join(out)
    _check_segments(path)
    return path


def _check_segments(path: str) -> None:
    """Refuse empty segments (`//`), dot segments (any all-dots one), and segments that
    end in a dot or a space."""
    if "//" not in path and "." not in path and "%20" not in path:
        return
    segments = path[1:].split("/")
    for position, segment in enumerate(segments):
        if segment == "" and position != len(segments) - 1:
            raise AmbiguousPath("empty path segments ('//') are ambiguous")
        if segment and segment.strip(".") == "":
            raise AmbiguousPath("dot segments are refused")
        if segment.endswith((".", "%20")):
            raise AmbiguousPath("a segment ending in '.' or a space is read differently")


def split_path(path: str) -> list[str]:
    """The segments of a normalized path: `/` -> [""], `/a/` -> ["a", ""]."""
    return path[1:].split("/")
