"""`authgate users create|list|disable|export|import|mfa-reset`: accounts of the user pool."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

from authgate.bootstrap import Services
from authgate.cli.support import CLI, ConfigOption, JsonOption, emit, err, out, with_services
from authgate.errors import DomainError, InvalidRequest, NotFound

users_app = typer.Typer(help="Accounts of the user pool.", no_args_is_help=True)


def _user_row(user: Any) -> dict[str, Any]:
    return {
        "sub": user.sub,
        "username": user.username,
        "email": user.email,
        "status": user.status,
        "enabled": user.enabled,
        "groups": ",".join(user.groups),
    }


USER_COLUMNS = ["sub", "username", "email", "status", "enabled", "groups"]


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Email address.")],
    password: Annotated[
        str | None, typer.Option(help="Password; omit to invite with a temporary one.")
    ] = None,
    username: Annotated[str | None, typer.Option(help="Username (default: the email).")] = None,
    send_invite: Annotated[bool, typer.Option(help="Mail an invitation.")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an account."""

    async def work(services: Services) -> list[dict[str, Any]]:
        user = await services.admin.create_user(
            email, password, username, {}, send_invite, False, CLI
        )
        return [_user_row(user)]

    emit(with_services(config, work), USER_COLUMNS, as_json, "created")


@users_app.command("list")
def users_list(
    username_prefix: Annotated[str | None, typer.Option()] = None,
    email_prefix: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option()] = None,
    group: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List accounts."""

    async def work(services: Services) -> list[dict[str, Any]]:
        found = await services.admin.list_users(
            None,
            limit,
            username_prefix=username_prefix,
            email_prefix=email_prefix,
            status=status,
            group=group,
        )
        return [_user_row(u) for u in found.items]

    emit(with_services(config, work), USER_COLUMNS, as_json, "users")


@users_app.command("disable")
def users_disable(
    username: Annotated[str, typer.Argument(help="Username of the account.")],
    config: ConfigOption = None,
) -> None:
    """Disable an account and revoke its sign-ins."""

    async def work(services: Services) -> None:
        user = await services.admin.get_by_username(username)
        await services.admin.set_enabled(user.sub, False, CLI)

    with_services(config, work)
    out.print(f"disabled {username}", highlight=False)


@users_app.command("export")
def users_export(config: ConfigOption = None) -> None:
    """Write every account as JSON Lines to stdout (password hashes included)."""

    async def work(services: Services) -> None:
        async for line in services.admin.export_users():
            sys.stdout.write(json.dumps(line) + "\n")

    with_services(config, work)


@users_app.command("import")
def users_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".csv or .jsonl")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import accounts with their password hashes (argon2, bcrypt, PBKDF2-SHA256)."""
    from authgate.identity.importer import RefusedRow, read_rows

    async def work(services: Services) -> tuple[int, list[dict[str, Any]]]:
        imported = 0
        refused: list[dict[str, Any]] = []
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("importing", total=None)
            for row in read_rows(file):
                if isinstance(row, RefusedRow):
                    refused.append({"line": row.line, "reason": row.reason})
                else:
                    try:
                        await services.admin.import_user(row, CLI)
                        imported += 1
                    except DomainError as exc:
                        refused.append({"line": row.line, "reason": exc.message})
                progress.advance(task)
        return imported, refused

    imported, refused = with_services(config, work)
    if as_json:
        sys.stdout.write(json.dumps({"imported": imported, "refused": refused}) + "\n")
    else:
        out.print(f"imported {imported}, refused {len(refused)}")
        if refused:
            emit(refused, ["line", "reason"], False, "refused rows")


@users_app.command("mfa-reset")
def users_mfa_reset(
    user: Annotated[str, typer.Argument(help="Username or sub of the account.")],
    config: ConfigOption = None,
) -> None:
    """Remove an account's TOTP authenticator and recovery codes (a lost device)."""

    async def work(services: Services) -> bool:
        try:
            found = await services.admin.get_by_username(user)
        except (NotFound, InvalidRequest):
            found = await services.admin.get_user(user)
        return await services.mfa.reset(found.sub, CLI)

    removed = with_services(config, work)
    out.print(
        f"mfa reset for {user}" if removed else f"{user} had no authenticator", highlight=False
    )
