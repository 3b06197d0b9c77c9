"""Regular expressions on RE2: linear time whatever the pattern or the input.

Policy patterns are written by admins but run on every request, so no backtracking engine
may evaluate them. RE2 refuses what it cannot run in linear time (backreferences,
lookaround), and a bound on its compiled program size caps what one expression may cost.

google-re2's public match methods build a match object and map byte offsets back to
characters, which costs several microseconds a call; a decision needs only yes or no, so
`Regex` asks the underlying RE2 object directly when the binding exposes it (measured about
six times faster) and falls back to the public methods otherwise. Both give the same answer.
"""

from __future__ import annotations

import os
from typing import Any

import re2  # type: ignore[import-untyped]

# RE2's compiled program size (its instruction count): `.*` is about 10 and
# `((a{10}){10}){10}` about 1,200. Bounds the memory and time one expression may cost.
MAX_PROGRAM_SIZE = 4000
# How far RE2 looks when it works out the prefix all matches share.
PREFIX_PROBE_BYTES = 1024


class RegexError(ValueError):
    """The expression cannot be used; the message says why, for the admin who wrote it."""


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # refusals are reported to the caller, not to stderr
    options.never_capture = True  # yes or no is all we ask
    return options


_OPTIONS = _options()
_RAW = getattr(getattr(getattr(re2, "_re2", None), "RE2", None), "Anchor", None)
_ANCHOR_BOTH = getattr(_RAW, "ANCHOR_BOTH", None)
_UNANCHORED = getattr(_RAW, "UNANCHORED", None)


class Regex:
    """A compiled expression answering only whether it matches."""

    __slots__ = ("_program", "_raw", "expression")

    def __init__(self, expression: str) -> None:
        try:
            program = re2.compile(expression, _OPTIONS)
        except re2.error as exc:
            reason = exc.args[0] if exc.args else "unparsable"
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            raise RegexError(f"invalid regular expression: {reason}") from None
        except UnicodeEncodeError:
            raise RegexError("not valid Unicode text") from None
        if program.programsize > MAX_PROGRAM_SIZE:
            raise RegexError(
                f"regular expression too complex ({program.programsize} > {MAX_PROGRAM_SIZE})"
            )
        self.expression = expression
        self._program = program
        raw = getattr(program, "_regexp", None)
        self._raw = raw if _ANCHOR_BOTH is not None and hasattr(raw, "Match") else None

    def fullmatch(self, text: str) -> bool:
        """The whole of `text` matches; text that is not valid Unicode never does."""
        raw = self._raw
        if raw is None:
            return self._test(text, _ANCHOR_BOTH)
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return bool(raw.Match(_ANCHOR_BOTH, data, 0, len(data))[0][0] >= 0)

    def search(self, text: str) -> bool:
        """Somewhere in `text` matches (unanchored); text that is not valid Unicode never does."""
        return self._test(text, _UNANCHORED)

    def _test(self, text: str, anchor: Any) -> bool:
        try:
            if self._raw is not None:
                data = text.encode("utf-8")
                spans = self._raw.Match(anchor, data, 0, len(data))
                return bool(spans) and spans[0][0] >= 0
            if anchor is _ANCHOR_BOTH:
                return self._program.fullmatch(text) is not None
            return self._program.search(text) is not None
        except UnicodeEncodeError:
            return False

    def whole_match_prefix(self) -> str:
        """Text every string this expression matches whole starts with ("" if none is known).

        From RE2's PossibleMatchRange on the anchored expression: every match lies between
        its `min` and `max`, so it starts with their common prefix; `client-4[0-9]*` gives
        `client-4`, which the regex itself never writes as literal text.
        """
        try:
            probe = re2.compile(f"^(?:{self.expression})$", _OPTIONS)
            low, high = probe.possiblematchrange(PREFIX_PROBE_BYTES)
        except re2.error:
            return ""
        common = os.path.commonprefix([low, high])
        for cut in range(len(common), max(len(common) - 4, 0) - 1, -1):
            try:
                return str(common[:cut].decode("utf-8"))
            except UnicodeDecodeError:
                continue
        return ""

    @property
    def program_size(self) -> int:
        return int(self._program.programsize)
