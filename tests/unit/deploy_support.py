"""What the static checks of deploy/ share: where the files are, and what looks secret.

No container engine runs where the tests run, so deploy/ is checked as files: parsed, and
held to the rules docs/deploy.md states.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

SECRET_NAME = re.compile(r"pass(word)?|secret|token|(^|_)key($|_)|kek|credential|dsn", re.I)
"""Names of variables and arguments that would carry a secret."""

CREDENTIAL_URL = re.compile(r"://[^/@\s:]+:[^/@\s]+@")
"""A URL with a password in it (scheme://user:password@host)."""


def looks_secret(name: str, value: object) -> bool:
    """A name that sounds secret with a value that is not a path to a file, or a value
    that holds credentials whatever its name."""
    text = "" if value is None else str(value)
    if CREDENTIAL_URL.search(text):
        return True
    if not SECRET_NAME.search(name):
        return False
    return not (name.upper().endswith("_FILE") and text.startswith("/run/secrets/"))
