"""What a secret looks like: in an `ENV` value, a build command, or the first bytes of a file.

Well-known formats (AWS access key ids, private key blocks, GitHub and Slack tokens, an AWS
secret key next to an AWS-ish name) are `high`: they are real credentials with near
certainty. A `*_TOKEN`/`*_SECRET`/`*PASSWORD` variable with a non-trivial value, or a URL with
a password in it, is `medium`: probably a secret, possibly a default. Every pattern is a plain
linear regex (no nested repetition), and nothing here ever returns a secret whole: details
carry `redact`ed forms.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from examples.intake.vetting.report import Severity

_B64 = r"A-Za-z0-9/+="
TOKEN_PATTERNS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    (
        "aws-access-key-id",
        "AWS access key id",
        re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])"),
    ),
    (
        "private-key",
        "private key block",
        re.compile(r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY( BLOCK)?-----"),
    ),
    (
        "github-token",
        "GitHub token",
        re.compile(
            r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"
        ),
    ),
    ("slack-token", "Slack token", re.compile(r"(?<![A-Za-z0-9])xox[baprs]-[A-Za-z0-9-]{10,255}")),
    (
        "aws-secret-access-key",
        "AWS secret access key",
        re.compile(
            rf"(?i:aws_?secret_?access_?key|aws_?secret)[\"']?\s{{0,8}}[=:]\s{{0,8}}[\"']?[{_B64}]{{40}}(?![{_B64}])"
        ),
    ),
)
_AWS_SECRET_VALUE = re.compile(rf"(?<![{_B64}])[{_B64}]{{40}}(?![{_B64}])")
_AWS_NAME = re.compile(r"AWS|SECRET_ACCESS_KEY", re.IGNORECASE)
_SECRET_NAME = re.compile(
    r"(?:^|_)(?:TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_KEY|SECRET_KEY|PRIVATE_KEY|"
    r"CLIENT_SECRET|AUTH_TOKEN|CREDENTIALS?)$",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(
    r"[a-z][a-z0-9+.-]{0,30}://[^/\s:@]{1,256}:[^/\s@]{1,256}@", re.IGNORECASE
)
_PLACEHOLDERS = frozenset(
    {
        "changeme",
        "change_me",
        "password",
        "secret",
        "example",
        "placeholder",
        "none",
        "null",
        "undefined",
        "true",
        "false",
        "disabled",
        "redacted",
    }
)


@dataclass(frozen=True)
class Match:
    severity: Severity
    kind: str
    detail: str


def redact(secret: str) -> str:
    """The first four characters and the length: enough to recognise it, not to use it."""
    return f"{secret[:4]}…({len(secret)} chars)" if len(secret) > 8 else f"…({len(secret)} chars)"


def redact_text(text: str) -> str:
    """`text` with every well-known secret and URL password in it redacted."""
    for _, _, pattern in TOKEN_PATTERNS:
        text = pattern.sub(lambda m: redact(m.group(0)), text)
    return _URL_PASSWORD.sub(lambda m: m.group(0).split("://")[0] + "://…:…@", text)


def scan_text(text: str) -> list[Match]:
    """Well-known secret formats anywhere in `text` (high), each kind reported once."""
    found = []
    for kind, label, pattern in TOKEN_PATTERNS:
        match = pattern.search(text)
        if match:
            found.append(Match("high", kind, f"{label} {redact(match.group(0))}"))
    return found


def _trivial(value: str) -> bool:
    v = value.strip().strip("\"'")
    return (
        len(v) < 8
        or len(set(v)) < 4
        or v.lower() in _PLACEHOLDERS
        or v.startswith(("$", "/", "<", "{{", "%"))
    )


def scan_env(name: str, value: str) -> list[Match]:
    """Findings for one `NAME=value` of the image's environment."""
    found = scan_text(value)
    kinds = {m.kind for m in found}
    if _AWS_NAME.search(name) and "aws-secret-access-key" not in kinds:
        match = _AWS_SECRET_VALUE.search(value)
        if match:
            found.append(
                Match(
                    "high",
                    "aws-secret-access-key",
                    f"AWS secret access key {redact(match.group(0))}",
                )
            )
    if not found and _SECRET_NAME.search(name) and not _trivial(value):
        found.append(Match("medium", "secret-in-env", f"a non-trivial value {redact(value)}"))
    if _URL_PASSWORD.search(value):
        found.append(Match("medium", "password-in-url", "a URL with a user and password"))
    return found


@dataclass(frozen=True)
class FileRule:
    """A file whose name says it may hold a secret, and what in its first bytes confirms it."""

    kind: str
    label: str
    confirm: re.Pattern[str] | None
    """Content that makes it `high`; None: any non-empty content does."""
    unconfirmed: Severity | None
    """Severity when the content does not confirm it (None: not reported)."""


_PRIVATE_KEY = TOKEN_PATTERNS[1][2]
_SSH_KEYS = frozenset(
    {"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk"}
)
_RULES = {
    "ssh": FileRule("ssh-private-key", "SSH private key", _PRIVATE_KEY, "medium"),
    "aws": FileRule(
        "aws-credentials",
        "AWS credentials file",
        re.compile(r"aws_secret_access_key|aws_session_token|(?:AKIA|ASIA)[0-9A-Z]{16}", re.I),
        "medium",
    ),
    "pem": FileRule("private-key-file", "private key file", _PRIVATE_KEY, None),
    "dotenv": FileRule("dotenv-file", "dotenv file", None, None),
    "git": FileRule(
        "git-credentials", "git credentials", re.compile(r"://[^\s/:@]+:[^\s/@]+@"), "low"
    ),
    "netrc": FileRule("netrc", "netrc with a password", re.compile(r"\bpassword\s+\S"), None),
    "docker": FileRule(
        "docker-auth", "registry credentials", re.compile(r"\"auth\"\s*:\s*\"[^\"]"), None
    ),
    "npmrc": FileRule("npm-token", "npm token", re.compile(r"_auth(?:Token)?\s*=\s*\S"), None),
    "pypirc": FileRule(
        "pypi-password", "PyPI password", re.compile(r"\bpassword\s*[=:]\s*\S"), None
    ),
}


def file_rule(path: str) -> FileRule | None:
    """The rule for a (normalised) path, if its name suggests a secret."""
    base = posixpath.basename(path)
    parent = posixpath.basename(posixpath.dirname(path))
    if base in _SSH_KEYS:
        return _RULES["ssh"]
    if parent == ".aws" and base in ("credentials", "config"):
        return _RULES["aws"]
    if base.endswith((".pem", ".key", ".p8")):
        return _RULES["pem"]
    if base == ".env" or (base.startswith(".env.") and base not in (".env.example", ".env.sample")):
        return _RULES["dotenv"]
    if base == ".git-credentials":
        return _RULES["git"]
    if base in (".netrc", "_netrc"):
        return _RULES["netrc"]
    if parent == ".docker" and base == "config.json":
        return _RULES["docker"]
    if base == ".npmrc":
        return _RULES["npmrc"]
    if base == ".pypirc":
        return _RULES["pypirc"]
    return None


def scan_file(rule: FileRule, head: bytes) -> list[Match]:
    """Findings for a rule's file from its first bytes (never more is read)."""
    text = head.decode("latin-1")
    if rule is _RULES["dotenv"]:
        return _scan_dotenv(text)
    found = [m for m in scan_text(text) if m.kind != rule.kind]
    if rule.confirm is None or rule.confirm.search(text):
        if text.strip():
            found.insert(0, Match("high", rule.kind, f"{rule.label} (content confirms it)"))
    elif rule.unconfirmed is not None and text.strip():
        found.insert(0, Match(rule.unconfirmed, rule.kind, f"named like a {rule.label}"))
    return found


def _scan_dotenv(text: str) -> list[Match]:
    found: list[Match] = []
    for line in text.splitlines():
        name, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep:
            found.extend(scan_env(name.strip(), value.strip()))
    return found or [Match("low", "dotenv-file", "a .env file (no secret recognised in it)")]
