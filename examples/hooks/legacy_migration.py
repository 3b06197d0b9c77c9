"""Move users over lazily from a legacy SQLite table, as authgate's `user_migration` hook
(`hooks.format: authgate`).

    HOOK_SECRET=whsec_... python -m examples.hooks.legacy_migration \\
        --listen 127.0.0.1:9101 --database legacy.db

The legacy table (`users` by default) has the seed-style columns `email`, `salt` (hex)
and `password_hash` (hex PBKDF2-HMAC-SHA256 of the password, 100,000 iterations), plus an
optional `name`. authgate asks only about users it does not have yet, with the password
just typed (sign-in) or without one (forgot-password). This answers whether the user
exists and the password matches; authgate then stores its own argon2id hash of that
password, and never asks about that user again. The legacy hashes never leave here.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import sqlite3
from pathlib import Path
from typing import Any

from examples.hooks.receiver import Answer, secret_from_environment, serve

log = logging.getLogger("legacy_migration")

ITERATIONS = 100_000
NOT_FOUND: dict[str, Any] = {"found": False, "password_ok": False}


class LegacyUsers:
    def __init__(self, database: Path, table: str = "users") -> None:
        if not table.isidentifier():
            raise SystemExit(f"--table {table}: not a table name")
        self._database = database
        self._table = table

    def find(self, email: str) -> sqlite3.Row | None:
        with sqlite3.connect(f"file:{self._database}?mode=ro", uri=True) as db:
            db.row_factory = sqlite3.Row
            found: sqlite3.Row | None = db.execute(
                f"SELECT * FROM {self._table} WHERE lower(email) = lower(?)",  # noqa: S608
                (email,),
            ).fetchone()
        return found

    def answer(self, event: dict[str, Any]) -> dict[str, Any]:
        """The user_migration answer for one event (authgate's format)."""
        username = event.get("username")
        if event.get("type") != "user_migration" or not isinstance(username, str):
            return NOT_FOUND
        row = self.find(username)
        if row is None:
            return NOT_FOUND
        attributes: dict[str, Any] = {"email": row["email"], "email_verified": True}
        columns = row.keys()
        if "name" in columns and row["name"]:
            attributes["name"] = row["name"]
        password = event.get("password")
        if password is None:  # forgot-password: the user exists, a reset code follows
            return {"found": True, "password_ok": False, "attributes": attributes}
        ok = isinstance(password, str) and _matches(row["salt"], row["password_hash"], password)
        if not ok:
            return {"found": True, "password_ok": False}
        return {"found": True, "password_ok": True, "confirmed": True, "attributes": attributes}


def _matches(salt_hex: str, hash_hex: str, password: str) -> bool:
    try:
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(hash_hex)
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
    return hmac.compare_digest(digest, expected)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m examples.hooks.legacy_migration", description=__doc__
    )
    parser.add_argument("--listen", default="127.0.0.1:9101")
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--table", default="users")
    parser.add_argument("--secret-env", default="HOOK_SECRET")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    legacy = LegacyUsers(args.database, args.table)

    def handle(event: Any, headers: dict[str, str]) -> Answer:
        if not isinstance(event, dict):
            return 400, {"error": "not an event"}
        answer = legacy.answer(event)
        log.info("user_migration: found=%s", answer["found"])
        return 200, answer

    server = serve(args.listen, secret_from_environment(args.secret_env), handle)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
