"""Tests for parsing user-import files (CSV and JSONL) into rows and refusals."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import argon2
import bcrypt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authgate.errors import InvalidRequest
from authgate.identity import importer
from authgate.identity.importer import ImportRow, RefusedRow, read_rows
from authgate.identity.passwords import (
    Argon2Params,
    PasswordHasher,
    is_supported_hash,
    pbkdf2_sha256_hash,
)

PASSWORD = "correct horse battery staple"
SALT = b"\x00\x01legacy-salt\xff"


def pbkdf2_digest(salt: bytes = SALT, iterations: int = 100_000) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, iterations)


def bcrypt_hash(prefix: str = "$2b$") -> str:
    stored = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    return prefix + stored.removeprefix("$2b$")


ARGON2 = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
BCRYPT = {prefix: bcrypt_hash(prefix) for prefix in ("$2a$", "$2b$", "$2y$")}


def ab64(raw: bytes) -> str:
    """passlib's adapted base64: the standard alphabet with "." for "+", and no padding."""
    return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")


PBKDF2_STORED = f"$pbkdf2-sha256$100000${ab64(SALT)}${ab64(pbkdf2_digest())}"
"""passlib's format, which is what a `salt` + `hash` row must become."""
DJANGO_SALT = "Wq3dT8uXr2LmNc7Pz0KbYe"
DJANGO_STORED = (
    f"pbkdf2_sha256$260000${DJANGO_SALT}$"
    + base64.b64encode(pbkdf2_digest(DJANGO_SALT.encode(), 260_000)).decode()
)
"""Django's format: the salt is text and is hashed as its UTF-8 bytes."""


def hash_records() -> list[dict[str, Any]]:
    """One user per supported hash kind, as fields of an import row."""
    records: list[dict[str, Any]] = [
        {"email": "argon@example.com", "password_hash": ARGON2},
        {"email": "pbkdf2@example.com", "password_hash": PBKDF2_STORED},
        {"email": "django@example.com", "password_hash": DJANGO_STORED},
        {"email": "hex@example.com", "salt": SALT.hex(), "hash": pbkdf2_digest().hex()},
        {
            "email": "b64@example.com",
            "salt": base64.b64encode(SALT).decode(),
            "hash": base64.b64encode(pbkdf2_digest()).decode(),
        },
        {
            "email": "alias@example.com",
            "salt": SALT.hex().upper(),
            "password_hash": pbkdf2_digest().hex(),
        },
        {
            "email": "rounds@example.com",
            "salt": SALT.hex(),
            "hash": pbkdf2_digest(iterations=1000).hex(),
            "iterations": "1000",
        },
    ]
    for prefix, stored in BCRYPT.items():
        records.append({"email": f"bcrypt{prefix[2]}@example.com", "password_hash": stored})
    return records


def write_csv(path: Path, records: list[dict[str, Any]], columns: list[str] | None = None) -> Path:
    names = columns or list(dict.fromkeys(name for record in records for name in record))
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, names)
        writer.writeheader()
        writer.writerows(records)
    return path


def write_jsonl(path: Path, lines: list[str | dict[str, Any]]) -> Path:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def rows(path: Path) -> list[ImportRow | RefusedRow]:
    return list(read_rows(path))


def refusal(path: Path) -> str:
    """The reason of the only row in `path`, which must be refused."""
    [row] = rows(path)
    assert isinstance(row, RefusedRow), row
    return row.reason


def only_row(path: Path) -> ImportRow:
    [row] = rows(path)
    assert isinstance(row, ImportRow), row
    return row


@pytest.fixture
async def hasher() -> AsyncIterator[PasswordHasher]:
    h = PasswordHasher(Argon2Params(memory_kib=1024, time_cost=1), max_concurrency=2)
    yield h
    await h.close()


class TestHashKinds:
    @pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
    async def test_every_hash_kind_imports_and_verifies(
        self, tmp_path: Path, suffix: str, hasher: PasswordHasher
    ) -> None:
        records = hash_records()
        path = tmp_path / f"users{suffix}"
        if suffix == ".csv":
            write_csv(path, records)
        else:
            write_jsonl(path, list(records))
        imported = rows(path)
        first_line = 2 if suffix == ".csv" else 1
        assert [row.line for row in imported] == list(range(first_line, first_line + len(records)))
        for row, record in zip(imported, records, strict=True):
            assert isinstance(row, ImportRow), row
            assert row.email == record["email"]
            assert row.password_hash is not None
            assert is_supported_hash(row.password_hash)
            assert row.attributes == {}
            assert await hasher.verify(row.password_hash, PASSWORD)
            assert not await hasher.verify(row.password_hash, "wrong")

    def test_stored_hashes_are_kept_as_given(self, tmp_path: Path) -> None:
        lines: list[str | dict[str, Any]] = [
            {"email": "a@x.io", "password_hash": f"  {ARGON2} "},
            {"email": "b@x.io", "password_hash": BCRYPT["$2y$"]},
        ]
        first, second = rows(write_jsonl(tmp_path / "u.jsonl", lines))
        assert isinstance(first, ImportRow) and isinstance(second, ImportRow)
        assert first.password_hash == ARGON2
        assert second.password_hash == BCRYPT["$2y$"]

    def test_salt_and_hash_become_passlib_pbkdf2_sha256(self, tmp_path: Path) -> None:
        assert "+" in base64.b64encode(pbkdf2_digest()).decode()
        assert base64.b64encode(SALT).endswith(b"=")
        record = {"email": "a@x.io", "salt": SALT.hex(), "hash": pbkdf2_digest().hex()}
        row = only_row(write_jsonl(tmp_path / "u.jsonl", [record]))
        assert row.password_hash == PBKDF2_STORED
        assert row.password_hash == pbkdf2_sha256_hash(SALT, pbkdf2_digest())

    def test_django_and_passlib_hashes_are_kept_as_given(self, tmp_path: Path) -> None:
        lines: list[str | dict[str, Any]] = [
            {"email": "a@x.io", "password_hash": DJANGO_STORED},
            {"email": "b@x.io", "password_hash": f" {PBKDF2_STORED}  "},
        ]
        first, second = rows(write_jsonl(tmp_path / "u.jsonl", lines))
        assert isinstance(first, ImportRow) and isinstance(second, ImportRow)
        assert first.password_hash == DJANGO_STORED
        assert second.password_hash == PBKDF2_STORED

    def test_iterations_are_carried_over(self, tmp_path: Path) -> None:
        digest = pbkdf2_digest(iterations=1000)
        record = {"email": "a@x.io", "salt": SALT.hex(), "hash": digest.hex(), "iterations": 1000}
        row = only_row(write_jsonl(tmp_path / "u.jsonl", [record]))
        assert row.password_hash == f"$pbkdf2-sha256$1000${ab64(SALT)}${ab64(digest)}"

    def test_no_hash_means_reset(self, tmp_path: Path) -> None:
        row = only_row(write_csv(tmp_path / "u.csv", [{"email": "a@x.io", "password_hash": ""}]))
        assert row.password_hash is None


class TestHashRefusals:
    @pytest.mark.parametrize(
        ("fields", "reason"),
        [
            ({"password_hash": "md5$abc$5f4dcc3b5aa765d61d8327deb882cf99"}, "scheme 'md5'"),
            ({"password_hash": "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"}, "scheme '1'"),
            ({"password_hash": "5f4dcc3b5aa765d61d8327deb882cf99"}, "not in a recognised format"),
            ({"password_hash": "$2b$04$tooshort"}, "looks like bcrypt but is malformed"),
            ({"password_hash": "$argon2id$v=19$garbage"}, "looks like argon2 but is malformed"),
            (
                {"password_hash": "pbkdf2_sha256$1$!!$!!"},
                "looks like Django pbkdf2_sha256 but is malformed"
                " or has more than 10000000 iterations",
            ),
            (
                {"password_hash": f"pbkdf2_sha256$10000001${DJANGO_SALT}$" + "A" * 43 + "="},
                "looks like Django pbkdf2_sha256 but is malformed"
                " or has more than 10000000 iterations",
            ),
            (
                {"password_hash": "$pbkdf2-sha256$1$!!$!!"},
                "looks like passlib pbkdf2-sha256 but is malformed"
                " or has more than 10000000 iterations",
            ),
            (
                {"password_hash": "$pbkdf2-sha256$10000001$c2FsdA$" + "A" * 43},
                "looks like passlib pbkdf2-sha256 but is malformed"
                " or has more than 10000000 iterations",
            ),
            (
                {"salt": "not hex or b64!", "hash": "00" * 32},
                "salt is neither hex nor standard base64",
            ),
            ({"salt": "abcd", "hash": "xyz!" * 16}, "hash is neither hex nor standard base64"),
            ({"salt": "abcd", "hash": "00" * 16}, "32-byte PBKDF2-SHA256 digest, not 16 bytes"),
            (
                {"salt": "abcd", "password_hash": base64.b64encode(b"x" * 20).decode()},
                "password_hash must be a 32-byte PBKDF2-SHA256 digest, not 20 bytes",
            ),
            ({"salt": "abcd"}, "'salt' needs a 'hash'"),
            ({"hash": "00" * 32}, "'hash' needs a 'salt'"),
            ({"iterations": 5}, "'iterations' applies only with 'salt' and 'hash'"),
            (
                {"salt": "ab", "hash": "00" * 32, "password_hash": "00" * 32},
                "as 'hash' or 'password_hash', not both",
            ),
            ({"salt": "ab", "hash": "00" * 32, "iterations": 0}, "between 1 and"),
            ({"salt": "ab", "hash": "00" * 32, "iterations": 10**9}, "between 1 and"),
            ({"salt": "ab", "hash": "00" * 32, "iterations": "many"}, "whole number"),
            ({"salt": "ab", "hash": "00" * 32, "iterations": True}, "whole number"),
            ({"salt": 1234, "hash": "00" * 32}, "salt must be a string"),
            ({"password_hash": 5}, "password_hash must be a string"),
        ],
    )
    def test_refused_with_a_precise_reason(
        self, tmp_path: Path, fields: dict[str, Any], reason: str
    ) -> None:
        got = refusal(write_jsonl(tmp_path / "u.jsonl", [{"email": "a@x.io", **fields}]))
        assert reason in got
        for value in fields.values():
            if isinstance(value, str) and len(value) > 4:
                assert value not in got

    def test_reasons_never_quote_the_hash(self, tmp_path: Path) -> None:
        secret = "sha1$pepper$" + hashlib.sha1(PASSWORD.encode()).hexdigest()
        reason = refusal(
            write_jsonl(tmp_path / "u.jsonl", [{"email": "a@x", "password_hash": secret}])
        )
        assert "sha1" in reason
        assert "pepper" not in reason
        assert hashlib.sha1(PASSWORD.encode()).hexdigest() not in reason


class TestRefusalsKeepReading:
    def test_jsonl(self, tmp_path: Path) -> None:
        good = {"email": "good@x.io"}
        lines: list[str | dict[str, Any]] = [
            {"email": "no-at-sign"},
            good,
            {"email": "a@x.io", "password_hash": "md5$x$y"},
            good,
            {"email": "a@x.io", "salt": "@@@", "hash": "00" * 32},
            good,
            {"email": "a@x.io", "salt": "ab", "hash": "00" * 31},
            good,
            '{"email": "a@x.io",',
            good,
            {"email": "a@x.io", "address": {"city": "Oslo"}},
            good,
            {"email": "a@x.io", "tags": ["a"]},
            good,
            "[1, 2]",
            good,
        ]
        result = rows(write_jsonl(tmp_path / "u.jsonl", lines))
        assert [row.line for row in result] == list(range(1, 17))
        reasons = [row.reason for row in result if isinstance(row, RefusedRow)]
        assert [type(row) for row in result[1::2]] == [ImportRow] * 8
        assert reasons == [
            "email must have exactly one '@' with text on both sides",
            "password_hash scheme 'md5' is not supported;"
            " use argon2, bcrypt ($2a$/$2b$/$2y$), Django pbkdf2_sha256$"
            " or passlib $pbkdf2-sha256$",
            "salt is neither hex nor standard base64",
            "hash must be a 32-byte PBKDF2-SHA256 digest, not 31 bytes",
            "malformed JSON: Expecting property name enclosed in double quotes at column 20",
            "attribute 'address' is a nested object; only text, numbers and booleans",
            "attribute 'tags' is a nested list; only text, numbers and booleans",
            "line is not a JSON object",
        ]

    def test_csv(self, tmp_path: Path) -> None:
        path = tmp_path / "u.csv"
        path.write_bytes(
            b"email,password_hash,note\n"
            b"a@x.io,md5$x$y,\n"
            b"b@x.io,,\n"
            b'c@x.io,,"two\nlines"\n'
            b'"d@x.io"oops,,\n'
            b"e@x.io,,\n"
            b"f@x.io,,\xff\xfe\n"
            b"g@x.io,,\n"
            b"h@x.io,extra,field,here\n"
            b"@x.io,,\n"
            b"i@x.io,,\n"
        )
        result = [(row.line, getattr(row, "reason", None)) for row in rows(path)]
        assert result == [
            (
                2,
                "password_hash scheme 'md5' is not supported;"
                " use argon2, bcrypt ($2a$/$2b$/$2y$), Django pbkdf2_sha256$"
                " or passlib $pbkdf2-sha256$",
            ),
            (3, None),
            (4, None),
            (6, "malformed CSV: ',' expected after '\"'"),
            (7, None),
            (8, "line is not valid UTF-8"),
            (9, None),
            (10, "row has 4 fields but the header has 3"),
            (11, "email must have exactly one '@' with text on both sides"),
            (12, None),
        ]

    def test_bad_line_inside_a_quoted_field_refuses_that_row(self, tmp_path: Path) -> None:
        path = tmp_path / "u.csv"
        path.write_bytes(b'email,note\na@x.io,"one\n\xff\nthree"\nb@x.io,ok\n')
        first, second = rows(path)
        assert first == RefusedRow(2, "line 3: line is not valid UTF-8")
        assert isinstance(second, ImportRow) and second.line == 5

    def test_overlong_lines_are_refused_without_reading_them_whole(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(importer, "MAX_LINE_BYTES", 64)
        long_line = json.dumps({"email": "a@x.io", "bio": "x" * 500})
        path = write_jsonl(tmp_path / "u.jsonl", [long_line, {"email": "b@x.io"}])
        first, second = rows(path)
        assert first == RefusedRow(1, "line is longer than 64 bytes")
        assert isinstance(second, ImportRow) and (second.line, second.email) == (2, "b@x.io")


class TestFields:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("true", True),
            ("TRUE", True),
            ("1", True),
            ("yes", True),
            (" Yes ", True),
            ("false", False),
            ("0", False),
            ("no", False),
            ("", False),
        ],
    )
    def test_email_verified_in_csv(self, tmp_path: Path, value: str, expected: bool) -> None:
        row = only_row(
            write_csv(tmp_path / "u.csv", [{"email": "a@x.io", "email_verified": value}])
        )
        assert row.email_verified is expected

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (True, True),
            (False, False),
            (1, True),
            (0, False),
            ("yes", True),
            ("no", False),
            (None, False),
        ],
    )
    def test_email_verified_in_jsonl(self, tmp_path: Path, value: object, expected: bool) -> None:
        path = write_jsonl(tmp_path / "u.jsonl", [{"email": "a@x.io", "email_verified": value}])
        assert only_row(path).email_verified is expected

    @pytest.mark.parametrize("value", ["maybe", 2, 1.0, ["yes"]])
    def test_email_verified_refuses_other_values(self, tmp_path: Path, value: object) -> None:
        path = write_jsonl(tmp_path / "u.jsonl", [{"email": "a@x.io", "email_verified": value}])
        assert refusal(path) == "email_verified must be true/false, 1/0 or yes/no"

    def test_email_verified_defaults_to_false(self, tmp_path: Path) -> None:
        assert (
            only_row(write_jsonl(tmp_path / "u.jsonl", [{"email": "a@x.io"}])).email_verified
            is False
        )

    @pytest.mark.parametrize(
        ("cell", "groups"),
        [
            ("admins", ["admins"]),
            ("a;b|c", ["a", "b", "c"]),
            (" a ; b ;; a |", ["a", "b"]),
            ("", []),
        ],
    )
    def test_groups_in_csv(self, tmp_path: Path, cell: str, groups: list[str]) -> None:
        row = only_row(write_csv(tmp_path / "u.csv", [{"email": "a@x.io", "groups": cell}]))
        assert row.groups == groups

    @pytest.mark.parametrize(
        ("value", "groups"),
        [(["a", "b;c"], ["a", "b;c"]), ([], []), (["x", " x ", ""], ["x"]), ("a|b", ["a", "b"])],
    )
    def test_groups_in_jsonl(self, tmp_path: Path, value: object, groups: list[str]) -> None:
        path = write_jsonl(tmp_path / "u.jsonl", [{"email": "a@x.io", "groups": value}])
        assert only_row(path).groups == groups

    @pytest.mark.parametrize("value", [["a", 1], {"a": 1}, 5])
    def test_groups_refuses_non_strings(self, tmp_path: Path, value: object) -> None:
        path = write_jsonl(tmp_path / "u.jsonl", [{"email": "a@x.io", "groups": value}])
        assert refusal(path) == "groups must be a list of strings"

    def test_email_is_trimmed_and_lower_cased(self, tmp_path: Path) -> None:
        row = only_row(write_csv(tmp_path / "u.csv", [{"email": "  Alice@Example.COM "}]))
        assert row.email == "alice@example.com"

    @pytest.mark.parametrize(
        ("email", "reason"),
        [
            ("alice", "exactly one '@'"),
            ("a@b@c", "exactly one '@'"),
            ("@example.com", "exactly one '@'"),
            ("alice@", "exactly one '@'"),
            ("al ice@example.com", "spaces or control characters"),
            ("alice@exa\u0007mple.com", "spaces or control characters"),
            (42, "email must be a string"),
            (None, "email is missing"),
            ("   ", "email is missing"),
        ],
    )
    def test_bad_emails_are_refused(self, tmp_path: Path, email: object, reason: str) -> None:
        path = write_jsonl(tmp_path / "u.jsonl", [{"email": email, "username": "x"}])
        assert reason in refusal(path)

    def test_missing_email_field_is_refused(self, tmp_path: Path) -> None:
        assert refusal(write_jsonl(tmp_path / "u.jsonl", [{"username": "x"}])) == "email is missing"

    def test_username_is_optional(self, tmp_path: Path) -> None:
        path = write_jsonl(
            tmp_path / "u.jsonl", [{"email": "a@x.io"}, {"email": "b@x.io", "username": " bob "}]
        )
        first, second = rows(path)
        assert isinstance(first, ImportRow) and first.username is None
        assert isinstance(second, ImportRow) and second.username == "bob"

    def test_other_fields_become_string_attributes(self, tmp_path: Path) -> None:
        record = {
            "email": "a@x.io",
            "name": "Alice",
            "age": 42,
            "score": 1.5,
            "admin": True,
            "nickname": None,
            "blank": "",
        }
        row = only_row(write_jsonl(tmp_path / "u.jsonl", [record]))
        assert row.attributes == {"name": "Alice", "age": "42", "score": "1.5", "admin": "True"}

    def test_csv_attributes_skip_empty_cells(self, tmp_path: Path) -> None:
        records = [{"email": "a@x.io", "dept": "ops", "room": ""}]
        assert only_row(write_csv(tmp_path / "u.csv", records)).attributes == {"dept": "ops"}

    def test_recognised_field_names_ignore_case_and_spaces(self, tmp_path: Path) -> None:
        path = tmp_path / "u.csv"
        path.write_text(" Email ,Groups,Email_Verified,Team\nA@X.io,a,yes,blue\n")
        row = only_row(path)
        assert (row.email, row.groups, row.email_verified) == ("a@x.io", ["a"], True)
        assert row.attributes == {"Team": "blue"}

    @pytest.mark.parametrize(
        ("line", "reason"),
        [
            ('{"email": "a@x.io", "email": "b@x.io"}', "malformed JSON: an object repeats a key"),
            ('{"email": "a@x.io", "Email": "b@x.io"}', "field 'email' is given twice"),
            ('{"email": "a@x.io", "n": NaN}', "malformed JSON: NaN is not a JSON value"),
            (
                '{"email": "a@x.io", "n": ' + "9" * 5000 + "}",
                "malformed JSON: a number is too long",
            ),
            ("[" * 100_000 + "]" * 100_000, "malformed JSON: nested too deeply"),
            ('{"email": "a@x.io", " ": "x"}', "a field has an empty name"),
            ('{"email": "a@x.io", "n": "a\\u0000b"}', "field 'n' contains a NUL character"),
            ('{"email": "a@x.io", "n": "\\ud800"}', "field 'n' contains an unpaired surrogate"),
            ('{"email": "a@x.io", "username": 7}', "username must be a string"),
        ],
    )
    def test_odd_json_is_refused(self, tmp_path: Path, line: str, reason: str) -> None:
        assert refusal(write_jsonl(tmp_path / "u.jsonl", [line])) == reason


class TestLayout:
    def test_jsonl_blank_lines_are_skipped_but_counted(self, tmp_path: Path) -> None:
        path = tmp_path / "u.jsonl"
        path.write_text('\n{"email": "a@x.io"}\n  \n\r\n{"email": "b@x.io"}\r\n')
        assert [row.line for row in rows(path)] == [2, 5]

    def test_byte_order_marks_are_ignored(self, tmp_path: Path) -> None:
        csv_path = tmp_path / "u.csv"
        csv_path.write_bytes("\ufeffemail\na@x.io\n".encode())
        jsonl_path = tmp_path / "u.jsonl"
        jsonl_path.write_bytes('\ufeff{"email": "a@x.io"}\n'.encode())
        assert only_row(csv_path).email == only_row(jsonl_path).email == "a@x.io"

    def test_csv_line_numbers_count_the_header_and_multiline_cells(self, tmp_path: Path) -> None:
        path = tmp_path / "u.csv"
        path.write_text('email,note\na@x.io,"1\n2\n3"\n\nb@x.io,x\n')
        assert [row.line for row in rows(path)] == [2, 6]

    def test_extension_picks_the_format(self, tmp_path: Path) -> None:
        path = tmp_path / "USERS.JSONL"
        path.write_text('{"email": "a@x.io"}\n')
        assert only_row(path).email == "a@x.io"

    def test_unknown_extension_is_refused_at_once(self, tmp_path: Path) -> None:
        with pytest.raises(InvalidRequest, match="use .csv or .jsonl"):
            read_rows(tmp_path / "users.json")

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b"", "empty"),
            (b"\n\n", "empty"),
            (b"username,name\nbob,Bob\n", "no 'email' column"),
            (b"email,Email\na@x.io,b@x.io\n", "'email' appears twice"),
            (b"email,,name\n", "column 2 has no name"),
            (b'"email"x\n', "header row is malformed"),
            (b"email,\xff\n", "header row is unreadable"),
        ],
    )
    def test_bad_csv_headers_fail_the_whole_file(
        self, tmp_path: Path, content: bytes, message: str
    ) -> None:
        path = tmp_path / "u.csv"
        path.write_bytes(content)
        with pytest.raises(InvalidRequest, match=message):
            rows(path)

    def test_rows_stream_one_at_a_time(self, tmp_path: Path) -> None:
        path = tmp_path / "u.jsonl"
        path.write_text('{"email": "a@x.io"}\n')
        reader = read_rows(path)
        first = next(reader)
        with path.open("a") as more:
            more.write('{"email": "b@x.io"}\n')
        second = next(reader)
        assert isinstance(first, ImportRow) and isinstance(second, ImportRow)
        assert second.email == "b@x.io"


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELD_NAMES = st.sampled_from(
    [
        "email",
        "username",
        "email_verified",
        "groups",
        "password_hash",
        "salt",
        "hash",
        "iterations",
        "Email",
        "other",
    ]
) | st.text(max_size=8)
JSON_LINES = st.one_of(
    st.text(max_size=60).map(lambda text: text.replace("\n", " ")),
    st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=6).map(json.dumps),
    JSON_VALUES.map(json.dumps),
)


class TestNeverRaises:
    @given(lines=st.lists(JSON_LINES, max_size=12))
    @settings(
        max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    def test_jsonl_lines(self, tmp_path: Path, lines: list[str]) -> None:
        path = tmp_path / "fuzz.jsonl"
        path.write_text("\n".join(lines), encoding="utf-8", newline="")
        self._check(path, len(lines))

    @given(content=st.binary(max_size=300))
    @settings(
        max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    def test_jsonl_bytes(self, tmp_path: Path, content: bytes) -> None:
        path = tmp_path / "fuzz.jsonl"
        path.write_bytes(content)
        self._check(path, content.count(b"\n") + 1)

    @given(content=st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
    @settings(
        max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    def test_csv_bytes_after_a_good_header(self, tmp_path: Path, content: bytes) -> None:
        path = tmp_path / "fuzz.csv"
        path.write_bytes(b"email,groups,password_hash,salt,hash,x\n" + content)
        self._check(path, content.count(b"\n") + 2)

    @staticmethod
    def _check(path: Path, line_count: int) -> None:
        lines = [row.line for row in read_rows(path)]
        assert all(isinstance(line, int) for line in lines)
        assert lines == sorted(set(lines))
        assert all(1 <= line <= line_count for line in lines)


def test_csv_writer_round_trip_of_awkward_values(tmp_path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["email", "bio"])
    writer.writerow(["a@x.io", 'says "hi",\nthen leaves'])
    path = tmp_path / "u.csv"
    path.write_text(buffer.getvalue())
    assert only_row(path).attributes == {"bio": 'says "hi",\nthen leaves'}
