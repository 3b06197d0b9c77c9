"""Ladon patterns: literal text with `<regex>` parts, matched against the whole string.

Admins write the patterns but every request is matched against them, so the regex parts run
on RE2 (linear time, no catastrophic backtracking) and each pattern is bounded in length and
in compiled program size. Literal text is escaped, so only what stands between `<` and `>` is
a regular expression. Matching is case-sensitive, as in Ladon; write `<(?i)...>` to relax a
part. Delimiters nest (`<a<b>c>` is one regex part, `a<b>c`), again as in Ladon.

`.` does not match a newline, as in Ladon, so `files:secret<.*>` would not match
`files:secret\n`. Rather than change what imported patterns mean, no control character
ever reaches a pattern: the decider denies a request that holds one, the decision API
refuses it (400), the gate refuses it in paths, and a pattern may not contain one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from authgate.policy.regex import Regex, RegexError

OPEN = "<"
CLOSE = ">"
MAX_PATTERN_LENGTH = 512
MAX_PATTERNS_PER_LIST = 100


# Unicode's control characters (category Cc): C0, DEL and C1.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def has_control_character(text: str) -> bool:
    return _CONTROL.search(text) is not None


class PatternError(ValueError):
    """The pattern cannot be used; the message says why, for the admin who wrote it."""


@dataclass(frozen=True, eq=False)
class Pattern:
    """One compiled pattern. Every string it matches starts with `literal_prefix` (the text
    before the first `<`) and with `match_prefix` (at least as long: what RE2 can prove,
    so `client-<4[0-9]*>` gives `client-4`).

    Ladon's alternations of plain words are read further, for indexes: `<read|list>`
    matches exactly the strings in `expansions` ("read", "list"), so an index files it as
    those literals; `files:<a|b>:<.*>` has no expansions, but every match starts with one
    of its `index_prefixes` ("files:a:", "files:b:"), so a prefix index files it under
    each instead of under the short `match_prefix` it shares with every `files:` pattern.
    """

    text: str
    literal_prefix: str
    regex: Regex | None  # None when the pattern is all literal
    match_prefix: str = ""
    # `prefix<.*>`, the commonest shape (Hydra's own example): the prefix, then any line.
    # Answered without RE2: `.` matches every character but a newline.
    rest_is_any_line: bool = False
    expansions: tuple[str, ...] = ()  # every string it matches, when few and known
    index_prefixes: tuple[str, ...] = ()  # one of these starts every match

    @property
    def is_literal(self) -> bool:
        return self.regex is None

    def matches(self, value: str) -> bool:
        if self.regex is None:
            return value == self.text
        if not value.startswith(self.match_prefix):
            return False
        if self.rest_is_any_line:
            return value.find("\n", len(self.literal_prefix)) < 0
        return self.regex.fullmatch(value)


def split_parts(text: str) -> list[tuple[bool, str]]:
    """The pattern as (is_regex, text) parts, at top-level `<...>` delimiters.

    Text without `<` is all literal (a lone `>` included); once a pattern uses `<`, its
    delimiters must balance, as in Ladon.
    """
    if OPEN not in text:
        return [(False, text)] if text else []
    parts: list[tuple[bool, str]] = []
    depth = 0
    start = 0
    for index, char in enumerate(text):
        if char == OPEN:
            depth += 1
            if depth == 1:
                if index > start:
                    parts.append((False, text[start:index]))
                start = index + 1
        elif char == CLOSE:
            if depth == 0:
                raise PatternError("unbalanced '<' and '>'")
            depth -= 1
            if depth == 0:
                parts.append((True, text[start:index]))
                start = index + 1
    if depth != 0:
        raise PatternError("unbalanced '<' and '>'")
    if start < len(text):
        parts.append((False, text[start:]))
    return parts


def escape_literal(text: str) -> str:
    """RE2 syntax for exactly `text`: ASCII punctuation escaped, control bytes as \\x{..}."""
    out: list[str] = []
    for char in text:
        code = ord(char)
        if char.isalnum() or char == "_" or code >= 0x80:
            out.append(char)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{{{code:02x}}}")
        else:
            out.append("\\" + char)
    return "".join(out)


# Characters that make a `<...>` part more than plain words separated by `|`.
_REGEX_SYNTAX = frozenset("\\.^$?*+()[]{}")
MAX_EXPANSIONS = 16  # alternatives read out per pattern; beyond, the pattern stays a regex


def _words(part: str) -> list[str] | None:
    """The words a `<...>` part alternates between (`read|list`), or None when it uses any
    other regex syntax: then it matches exactly one of them, whole."""
    if any(char in _REGEX_SYNTAX for char in part):
        return None
    return part.split("|")


def _expand(parts: list[tuple[bool, str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(expansions, index prefixes) of a pattern's parts, as `Pattern` describes them."""
    heads = [""]
    alternated = False  # a part before this one was an alternation of words
    for is_regex, part in parts:
        words = _words(part) if is_regex else [part]
        if words is None or len(heads) * len(words) > MAX_EXPANSIONS:
            return (), tuple(dict.fromkeys(heads)) if alternated else ()
        heads = [head + word for head in heads for word in words]
        alternated = alternated or is_regex
    return tuple(dict.fromkeys(heads)), ()


def _regex(expression: str) -> Regex:
    try:
        return Regex(expression)
    except RegexError as exc:
        raise PatternError(str(exc)) from None


@lru_cache(maxsize=65536)
def compile_pattern(text: str) -> Pattern:
    """Compile one pattern (cached: the same text always gives the same program)."""
    if len(text) > MAX_PATTERN_LENGTH:
        raise PatternError(f"longer than {MAX_PATTERN_LENGTH} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PatternError("not valid Unicode text") from None
    parts = split_parts(text)
    if not any(is_regex for is_regex, _ in parts):
        return Pattern(text=text, literal_prefix=text, regex=None, match_prefix=text)
    pieces: list[str] = []
    for is_regex, part in parts:
        if is_regex:
            # Each part must stand alone, so that `(?:...)` keeps it in its place.
            _regex(part)
            pieces.append(f"(?:{part})")
        else:
            pieces.append(escape_literal(part))
    prefix = parts[0][1] if not parts[0][0] else ""
    any_line = parts in ([(True, ".*")], [(False, prefix), (True, ".*")])
    regex = _regex("".join(pieces))
    proven = regex.whole_match_prefix()
    match_prefix = proven if len(proven) > len(prefix) and proven.startswith(prefix) else prefix
    expansions, prefixes = _expand(parts)
    return Pattern(
        text=text,
        literal_prefix=prefix,
        regex=regex,
        match_prefix=match_prefix,
        rest_is_any_line=any_line,
        expansions=expansions,
        index_prefixes=prefixes or (match_prefix,),
    )


def pattern_problems(field: str, patterns: Sequence[str]) -> list[str]:
    """Every reason `patterns` cannot be used, each naming `field[index]`."""
    problems: list[str] = []
    if not patterns:
        problems.append(f"{field}: must list at least one pattern")
    if len(patterns) > MAX_PATTERNS_PER_LIST:
        problems.append(f"{field}: more than {MAX_PATTERNS_PER_LIST} patterns")
        return problems
    for index, text in enumerate(patterns):
        if has_control_character(text):
            problems.append(f"{field}[{index}]: control characters are refused")
            continue
        try:
            compile_pattern(text)
        except PatternError as exc:
            problems.append(f"{field}[{index}]: {exc}")
    return problems


class PatternSet:
    """A policy's patterns for one field: in a set, the literals and the strings each
    alternation of words stands for; other regex patterns, tried in turn."""

    __slots__ = ("literals", "regexes")

    def __init__(self, patterns: Iterable[str]) -> None:
        compiled = [compile_pattern(text) for text in patterns]
        literals = {p.text for p in compiled if p.is_literal}
        literals.update(word for p in compiled for word in p.expansions)
        self.literals = frozenset(literals)
        self.regexes = tuple(p for p in compiled if not p.is_literal and not p.expansions)

    def matches(self, value: str) -> bool:
        if value in self.literals:
            return True
        return any(pattern.matches(value) for pattern in self.regexes)

    def matches_any(self, values: Iterable[str]) -> bool:
        return any(self.matches(value) for value in values)
