"""The intake service's settings: a YAML file, each key overridable by a command-line flag.

Secrets (the S3 keys) are never written in the file itself but named by reference,
`env:NAME` or `file:PATH`, as authgate's own config does.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
SIZE = re.compile(r"^\s*(\d+)\s*([a-zA-Z]*)\s*$")


class ConfigError(ValueError):
    """The configuration cannot be used as written; the message says which key and why."""


def parse_size(value: object, key: str) -> int:
    """`10GiB`, `2GB`, `512` (bytes) -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    found = SIZE.match(str(value))
    unit = found.group(2).lower() if found else None
    if found is None or unit not in UNITS:
        raise ConfigError(f"{key}: {value!r} is not a size like 10GiB, 500MB or 1024")
    return int(found.group(1)) * UNITS[unit]


def resolve_secret(reference: str, key: str) -> str:
    """`env:NAME` or `file:PATH` -> the secret; a bare value is refused (no secret in files)."""
    kind, _, where = reference.partition(":")
    if kind == "env" and where:
        value = os.environ.get(where)
        if value is None:
            raise ConfigError(f"{key}: the environment variable {where} is not set")
        return value
    if kind == "file" and where:
        try:
            return Path(where).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{key}: cannot read {where}: {exc.strerror}") from None
    raise ConfigError(f"{key}: give a reference, env:NAME or file:PATH")


@dataclass(frozen=True)
class Quota:
    images: int = 20
    bytes: int = 10 * 1024**3


@dataclass(frozen=True)
class StorageSettings:
    """`kind: filesystem` (path) or `kind: s3` (endpoint_url, bucket, region, keys, part_size)."""

    kind: str = "filesystem"
    path: str = "./.authgate/images"
    endpoint_url: str | None = None
    bucket: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    prefix: str = ""
    part_size: int = 8 * 1024**2


@dataclass(frozen=True)
class IntakeSettings:
    listen: str = "127.0.0.1:9002"
    issuer: str = "http://127.0.0.1:8080"
    audience: str = "intake"
    jwks_url: str | None = None
    database: str = "./.authgate/intake.db"
    storage: StorageSettings = field(default_factory=StorageSettings)
    quota: Quota = field(default_factory=Quota)
    vetting_concurrency: int = 1
    vetting_limits: dict[str, int] = field(default_factory=dict)
    """Overrides of examples.intake.vetting.VetLimits' defaults, by field name."""


def _storage(raw: dict[str, Any]) -> StorageSettings:
    kind = raw.get("kind", "filesystem")
    if kind == "filesystem":
        return StorageSettings(kind=kind, path=str(raw.get("path", StorageSettings.path)))
    if kind != "s3":
        raise ConfigError(f"storage.kind: {kind!r} is neither filesystem nor s3")
    if not raw.get("bucket"):
        raise ConfigError("storage.bucket: required for kind s3")
    part_size = parse_size(raw.get("part_size", StorageSettings.part_size), "storage.part_size")
    if part_size < 5 * 1024**2:
        raise ConfigError("storage.part_size: S3 parts are at least 5MiB")
    key_id, secret = (
        resolve_secret(str(raw[name]), f"storage.{name}") if raw.get(name) else None
        for name in ("access_key_id", "secret_access_key")
    )
    return StorageSettings(
        kind=kind,
        endpoint_url=raw.get("endpoint_url"),
        bucket=str(raw["bucket"]),
        region=str(raw.get("region", StorageSettings.region)),
        prefix=str(raw.get("prefix", "")),
        part_size=part_size,
        access_key_id=key_id,
        secret_access_key=secret,
    )


def load_settings(path: Path | None, overrides: dict[str, Any]) -> IntakeSettings:
    """The file's settings (all optional), then each non-None override on top."""
    raw: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top")
        raw = loaded
    raw.update({key: value for key, value in overrides.items() if value is not None})
    known = {"listen", "issuer", "audience", "jwks_url", "database", "storage", "quota", "vetting"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown key(s): {', '.join(sorted(unknown))}")
    quota = raw.get("quota") or {}
    vetting = dict(raw.get("vetting") or {})
    concurrency = int(vetting.pop("concurrency", 1))
    limits = {
        name: parse_size(value, f"vetting.{name}") if name.endswith("_bytes") else int(value)
        for name, value in (vetting.pop("limits", None) or {}).items()
    }
    if vetting:
        raise ConfigError(f"vetting: unknown key(s): {', '.join(sorted(vetting))}")
    return IntakeSettings(
        listen=str(raw.get("listen", IntakeSettings.listen)),
        issuer=str(raw.get("issuer", IntakeSettings.issuer)),
        audience=str(raw.get("audience", IntakeSettings.audience)),
        jwks_url=raw.get("jwks_url"),
        database=str(raw.get("database", IntakeSettings.database)),
        storage=_storage(raw.get("storage") or {}),
        quota=Quota(
            images=int(quota.get("images", Quota.images)),
            bytes=parse_size(quota.get("bytes", Quota.bytes), "quota.bytes"),
        ),
        vetting_concurrency=max(1, concurrency),
        vetting_limits=limits,
    )
