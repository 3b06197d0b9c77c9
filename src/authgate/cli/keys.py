"""`authgate keys list|rotate`: the signing keys."""

from __future__ import annotations

from typing import Any

import typer

from authgate.bootstrap import Services
from authgate.cli.support import CLI, ConfigOption, JsonOption, emit, with_services

keys_app = typer.Typer(help="Signing keys.", no_args_is_help=True)


@keys_app.command("list")
def keys_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List signing keys, newest first."""

    async def work(services: Services) -> list[dict[str, Any]]:
        return [
            {
                "kid": k.kid,
                "alg": k.alg,
                "active": k.retired_at is None,
                "created_at": int(k.created_at),
                "verify_until": int(k.verify_until) if k.verify_until else None,
            }
            for k in services.keys.list()
        ]

    rows = with_services(config, work)
    emit(rows, ["kid", "alg", "active", "created_at", "verify_until"], as_json, "signing keys")


@keys_app.command("rotate")
def keys_rotate(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Make a new signing key; old keys verify until their tokens expire."""

    async def work(services: Services) -> list[dict[str, Any]]:
        key = await services.keys.rotate(CLI)
        return [{"kid": key.kid, "alg": key.alg}]

    emit(with_services(config, work), ["kid", "alg"], as_json, "new signing key")
