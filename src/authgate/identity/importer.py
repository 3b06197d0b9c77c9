"""Parsing of user-import files for `authgate users import`.

Each row is judged on its own: a bad row becomes a `RefusedRow` with a reason and
reading goes on, so one typo does not abort an import of thousands of users. Files are
streamed line by line, never read whole. Reasons never quote a password hash, salt or
email, so an import report can be shared safely.
"""

from __future__ import annotations

import base64
import binascii
import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from authgate.errors import InvalidRequest
from authgate.identity.passwords import (
    MAX_PBKDF2_ITERATIONS,
    is_supported_hash,
    pbkdf2_sha256_hash,
)

MAX_LINE_BYTES = 1 << 20
"""Longest physical line (newline included); longer lines are refused, never held whole."""

DEFAULT_ITERATIONS = 100_000
"""PBKDF2 rounds assumed for `salt`/`hash` rows without an `iterations` field."""

MAX_ITERATIONS = MAX_PBKDF2_ITERATIONS
"""More PBKDF2 rounds would turn every sign-in of that user into a denial of service."""

_DIGEST_BYTES = 32
_RECOGNISED = frozenset(
    {"email", "username", "email_verified", "groups", "password_hash", "salt", "hash", "iterations"}
)
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_GROUP_SEPARATOR = re.compile(r"[;|]")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_DIGITS = re.compile(r"[0-9]{1,12}")
# Short enough that a bare digest before a "$" is never mistaken for a scheme and echoed.
_SCHEME = re.compile(r"\$?([A-Za-z0-9][A-Za-z0-9_-]{0,19})\$")
_PBKDF2_LIMIT = f" or has more than {MAX_ITERATIONS} iterations"
_SCHEME_PREFIXES = (
    ("$argon2", "argon2", ""),
    ("$2a$", "bcrypt", ""),
    ("$2b$", "bcrypt", ""),
    ("$2y$", "bcrypt", ""),
    ("pbkdf2_sha256$", "Django pbkdf2_sha256", _PBKDF2_LIMIT),
    ("$pbkdf2-sha256$", "passlib pbkdf2-sha256", _PBKDF2_LIMIT),
)
_SUPPORTED = "argon2, bcrypt ($2a$/$2b$/$2y$), Django pbkdf2_sha256$ or passlib $pbkdf2-sha256$"


@dataclass(frozen=True)
class ImportRow:
    """One user to create; `password_hash` is in stored form, or None if they must reset."""

    line: int
    username: str | None
    email: str
    password_hash: str | None
    email_verified: bool
    attributes: dict[str, str]
    groups: list[str]


@dataclass(frozen=True)
class RefusedRow:
    """A row that was not imported, with the reason to show the operator."""

    line: int
    reason: str


class _Refused(Exception):
    """A row-level problem; the message is the reason. Not a ValueError on purpose, so
    it passes through the `json` error handling untouched."""


def read_rows(path: Path) -> Iterator[ImportRow | RefusedRow]:
    """Parse a `.csv` (header row first) or `.jsonl` (one JSON object per line) import file.

    Yields rows in file order; `line` is the 1-based physical line a row starts on.
    Raises `InvalidRequest` for problems with the whole file: an unknown extension
    (at once), or a missing or malformed CSV header, e.g. one without an `email` column
    (on the first `next`). Opening the file is also deferred to the first `next`.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".jsonl":
        return _read_jsonl(path)
    raise InvalidRequest(f"Unsupported import file type {suffix!r}; use .csv or .jsonl.")


def _read_jsonl(path: Path) -> Iterator[ImportRow | RefusedRow]:
    with path.open("rb") as stream:
        for number, text, problem in _lines(stream):
            if problem is not None:
                yield RefusedRow(number, problem)
            elif text.strip():
                yield _judge(number, text)


def _read_csv(path: Path) -> Iterator[ImportRow | RefusedRow]:
    with path.open("rb") as stream:
        source = _CsvSource(stream)
        reader = csv.reader(source, strict=True)
        header = _csv_header(_first_record(reader, source))
        done = reader.line_num
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                start, done = done + 1, reader.line_num
                source.take(start, done)
                yield RefusedRow(start, f"malformed CSV: {exc}")
                continue
            start, done = done + 1, reader.line_num
            problem = source.take(start, done)
            if problem is not None:
                yield RefusedRow(start, problem)
            elif not any(cell.strip() for cell in record):
                continue
            elif len(record) != len(header):
                reason = f"row has {len(record)} fields but the header has {len(header)}"
                yield RefusedRow(start, reason)
            else:
                yield _judge(start, dict(zip(header, record, strict=True)))


def _first_record(reader: Iterator[list[str]], source: _CsvSource) -> list[str]:
    """The header: the first record that is not blank."""
    names: list[str] = []
    while not any(name.strip() for name in names):
        try:
            names = next(reader)
        except StopIteration:
            raise InvalidRequest("The CSV file is empty; it needs a header row.") from None
        except csv.Error as exc:
            raise InvalidRequest(f"The CSV header row is malformed: {exc}.") from None
        problem = source.take(1, source.lines_read)
        if problem is not None:
            raise InvalidRequest(f"The CSV header row is unreadable: {problem}.")
    return names


def _csv_header(names: list[str]) -> list[str]:
    header = [_field_name(name) for name in names]
    for column, name in enumerate(header, start=1):
        if not name:
            raise InvalidRequest(f"CSV header column {column} has no name.")
        if name in header[: column - 1]:
            raise InvalidRequest(f"CSV header column {_quoted(name)} appears twice.")
    if "email" not in header:
        raise InvalidRequest("The CSV header has no 'email' column.")
    return header


class _CsvSource:
    """Decoded lines for `csv.reader`; unusable lines are fed as blank lines and their
    problems kept until the record containing them is judged."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._problems: dict[int, str] = {}
        self.lines_read = 0

    def __iter__(self) -> Iterator[str]:
        for number, text, problem in _lines(self._stream):
            self.lines_read = number
            if problem is not None:
                self._problems[number] = problem
            yield text

    def take(self, first: int, last: int) -> str | None:
        """Forget the problems of lines up to `last`; describe the first of them, if any."""
        found = None
        for number in sorted(n for n in self._problems if n <= last):
            problem = self._problems.pop(number)
            if found is None:
                found = problem if number == first else f"line {number}: {problem}"
        return found


def _lines(stream: BinaryIO) -> Iterator[tuple[int, str, str | None]]:
    """Yield (number, text, problem) per physical line; text is a bare newline when the
    line is too long or not UTF-8, and the rest of an overlong line is skipped unread."""
    number = 0
    while chunk := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(chunk) > MAX_LINE_BYTES:
            while not chunk.endswith(b"\n") and (chunk := stream.readline(MAX_LINE_BYTES)):
                pass
            yield number, "\n", f"line is longer than {MAX_LINE_BYTES} bytes"
            continue
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            yield number, "\n", "line is not valid UTF-8"
            continue
        yield number, text.removeprefix("\ufeff") if number == 1 else text, None


def _json_object(text: str) -> dict[str, object]:
    try:
        value: object = json.loads(
            text.rstrip("\r\n"), object_pairs_hook=_unique_keys, parse_constant=_no_constant
        )
    except json.JSONDecodeError as exc:
        raise _Refused(f"malformed JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise _Refused("malformed JSON: nested too deeply") from None
    except ValueError:
        raise _Refused("malformed JSON: a number is too long") from None
    if not isinstance(value, dict):
        raise _Refused("line is not a JSON object")
    return value


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _Refused("malformed JSON: an object repeats a key")
    return value


def _no_constant(name: str) -> object:
    raise _Refused(f"malformed JSON: {name} is not a JSON value")


def _judge(line: int, raw: str | dict[str, str]) -> ImportRow | RefusedRow:
    """Turn a JSONL line's text, or a CSV row's cells, into a row or a refusal."""
    try:
        return _row(line, _json_object(raw) if isinstance(raw, str) else dict(raw))
    except _Refused as refused:
        return RefusedRow(line, str(refused))


def _row(line: int, raw: dict[str, object]) -> ImportRow:
    fields: dict[str, object] = {}
    for raw_name, value in raw.items():
        name = _field_name(raw_name)
        if not name:
            raise _Refused("a field has an empty name")
        _check_characters(f"field name {_quoted(name)}", name)
        if name in fields:
            raise _Refused(f"field {_quoted(name)} is given twice")
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                _check_characters(f"field {_quoted(name)}", text)
        fields[name] = value
    return ImportRow(
        line=line,
        email=_email(fields.pop("email", None)),
        username=_username(fields.pop("username", None)),
        email_verified=_flag(fields.pop("email_verified", None)),
        groups=_groups(fields.pop("groups", None)),
        password_hash=_password_hash(
            fields.pop("password_hash", None),
            salt=fields.pop("salt", None),
            digest=fields.pop("hash", None),
            iterations=fields.pop("iterations", None),
        ),
        attributes={name: _attribute(name, value) for name, value in fields.items()},
    )


def _field_name(name: str) -> str:
    """Stripped; recognised fields match case-insensitively and come back lower-case."""
    stripped = name.strip()
    return stripped.lower() if stripped.lower() in _RECOGNISED else stripped


def _check_characters(label: str, text: str) -> None:
    if "\x00" in text:
        raise _Refused(f"{label} contains a NUL character")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise _Refused(f"{label} contains an unpaired surrogate") from None


def _email(value: object) -> str:
    if value is None:
        raise _Refused("email is missing")
    email = _text("email", value).strip().lower()
    local, _, domain = email.partition("@")
    if email.count("@") != 1 or not local or not domain:
        raise _Refused("email must have exactly one '@' with text on both sides")
    if any(char.isspace() or not char.isprintable() for char in email):
        raise _Refused("email must not contain spaces or control characters")
    return email


def _username(value: object) -> str | None:
    return None if value is None else _text("username", value).strip()


def _flag(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _Refused("email_verified must be true/false, 1/0 or yes/no")


def _groups(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        names = _GROUP_SEPARATOR.split(value)
    elif isinstance(value, list) and all(isinstance(name, str) for name in value):
        names = value
    else:
        raise _Refused("groups must be a list of strings")
    return list(dict.fromkeys(name.strip() for name in names if name.strip()))


def _password_hash(
    stored: object, *, salt: object, digest: object, iterations: object
) -> str | None:
    if salt is None:
        if digest is not None:
            raise _Refused("field 'hash' needs a 'salt' field beside it")
        if iterations is not None:
            raise _Refused("field 'iterations' applies only with 'salt' and 'hash'")
        return None if stored is None else _stored_hash(stored)
    if stored is not None and digest is not None:
        raise _Refused("give the PBKDF2 digest as 'hash' or 'password_hash', not both")
    label = "hash" if stored is None else "password_hash"
    digest = digest if stored is None else stored
    if digest is None:
        raise _Refused("field 'salt' needs a 'hash' field beside it")
    salt_bytes = _hex_or_base64("salt", salt)
    digest_bytes = _hex_or_base64(label, digest)
    if len(digest_bytes) != _DIGEST_BYTES:
        raise _Refused(
            f"{label} must be a {_DIGEST_BYTES}-byte PBKDF2-SHA256 digest,"
            f" not {len(digest_bytes)} bytes"
        )
    converted = pbkdf2_sha256_hash(salt_bytes, digest_bytes, _iterations(iterations))
    if not is_supported_hash(converted):
        raise _Refused("the PBKDF2 salt, digest and iterations do not form a usable hash")
    return converted


def _stored_hash(value: object) -> str:
    stored = _text("password_hash", value).strip()
    if is_supported_hash(stored):
        return stored
    for prefix, scheme, limit in _SCHEME_PREFIXES:
        if stored.startswith(prefix):
            raise _Refused(f"password_hash looks like {scheme} but is malformed{limit}")
    match = _SCHEME.match(stored)
    if match is not None:
        raise _Refused(f"password_hash scheme {match[1]!r} is not supported; use {_SUPPORTED}")
    raise _Refused(f"password_hash is not in a recognised format; use {_SUPPORTED}")


def _hex_or_base64(label: str, value: object) -> bytes:
    text = _text(label, value).strip()
    if _HEX.fullmatch(text):
        return bytes.fromhex(text)
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _Refused(f"{label} is neither hex nor standard base64") from None
    if not decoded:
        raise _Refused(f"{label} is empty")
    return decoded


def _iterations(value: object) -> int:
    if value is None:
        return DEFAULT_ITERATIONS
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        count = int(value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        count = value
    else:
        raise _Refused("iterations must be a whole number")
    if not 1 <= count <= MAX_ITERATIONS:
        raise _Refused(f"iterations must be between 1 and {MAX_ITERATIONS}")
    return count


def _attribute(name: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    kind = "object" if isinstance(value, dict) else "list"
    raise _Refused(f"attribute {_quoted(name)} is a nested {kind}; only text, numbers and booleans")


def _text(label: str, value: object) -> str:
    if not isinstance(value, str):
        raise _Refused(f"{label} must be a string")
    return value


def _quoted(name: str) -> str:
    """`name` for a reason, shortened so a pathological header cannot flood the report."""
    return repr(name if len(name) <= 40 else name[:40] + "...")
