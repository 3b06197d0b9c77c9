"""The image config: secrets in `Env` and build history, who it runs as, what it exposes.

Also the config's `rootfs.diff_ids`, the digests of the uncompressed layers, which the layer
walk checks every layer against (so a corrupted or swapped layer cannot pass unnoticed).
"""

from __future__ import annotations

import re
from typing import Any

from examples.intake.vetting.limits import Rejected
from examples.intake.vetting.report import Report
from examples.intake.vetting.secrets import redact_text, scan_env, scan_text

_DIFF_ID = re.compile(r"sha256:[0-9a-f]{64}")
ROOT_USERS = frozenset({"", "root", "0"})
MAX_SHOWN = 300
"""Characters of a command shown in an info finding."""


def diff_ids(config: Any, layer_count: int) -> list[str]:
    """The uncompressed digests of the layers, one per layer, or the image is rejected."""
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list) or not all(_DIFF_ID.fullmatch(str(i)) for i in ids):
        raise Rejected("config: rootfs.diff_ids is missing or malformed")
    if len(ids) != layer_count:
        raise Rejected(f"config: {len(ids)} diff_ids for {layer_count} layers")
    return ids


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _shown(command: list[str]) -> str:
    text = redact_text(" ".join(command))
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…"


def check_config(config: Any, report: Report) -> dict[str, Any]:
    """Adds the config's findings to `report`; returns its summary (no secret values)."""
    if not isinstance(config, dict):
        raise Rejected("config: not a JSON object")
    runtime: dict[str, Any] = config["config"] if isinstance(config.get("config"), dict) else {}
    env_names = _check_env(_strings(runtime.get("Env")), report)
    user = _text(runtime.get("User")) or ""
    if user.split(":", 1)[0] in ROOT_USERS:
        detail = "no User set: runs as root" if not user else f"User {user!r} is root"
        report.add("medium", "runs-as-root", "config.User", detail)
    exposed = runtime.get("ExposedPorts")
    ports = sorted(str(p) for p in exposed) if isinstance(exposed, dict) else []
    if ports:
        report.add("info", "exposed-ports", "config.ExposedPorts", ", ".join(ports))
    entrypoint, cmd = _strings(runtime.get("Entrypoint")), _strings(runtime.get("Cmd"))
    for name, command in (("Entrypoint", entrypoint), ("Cmd", cmd)):
        if command:
            report.add("info", name.lower(), f"config.{name}", _shown(command))
            for match in scan_text(" ".join(command)):
                report.add(match.severity, match.kind, f"config.{name}", match.detail)
    _check_history(config.get("history"), report)
    return {
        "user": user,
        "env_names": env_names,
        "exposed_ports": ports,
        "entrypoint": _shown(entrypoint) if entrypoint else None,
        "cmd": _shown(cmd) if cmd else None,
        "working_dir": _text(runtime.get("WorkingDir")),
        "os": _text(config.get("os")),
        "architecture": _text(config.get("architecture")),
    }


def _check_env(env: list[str], report: Report) -> list[str]:
    names = []
    for item in env:
        name, _, value = item.partition("=")
        names.append(name)
        for match in scan_env(name, value):
            report.add(match.severity, match.kind, f"config.Env {name}", match.detail)
    return names


def _check_history(history: Any, report: Report) -> None:
    """Build steps keep their commands, `--build-arg` values included: a classic leak."""
    if not isinstance(history, list):
        return
    for i, step in enumerate(history):
        created_by = step.get("created_by") if isinstance(step, dict) else None
        if isinstance(created_by, str):
            for match in scan_text(created_by):
                report.add(match.severity, match.kind, f"config.history[{i}]", match.detail)
