"""The `authgate` command: serve, migrate, and day-to-day administration.

Tables are for people (rich); `--json` prints machine-readable output for scripts.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import uvloop
from rich.progress import Progress
from rich.table import Table

from authgate.bootstrap import Services, build_services, ensure_data_dir, open_store
from authgate.cli_devcert import dev_cert
from authgate.cli_policies import policies_app
from authgate.cli_routes import routes_app
from authgate.cli_support import (
    CLI,
    ConfigOption,
    JsonOption,
    T,
    err,
    out,
    settings_or_exit,
    with_services,
)
from authgate.config import ConfigError, json_schema
from authgate.errors import DomainError

app = typer.Typer(
    help="authgate: identity and access for containerized APIs.", no_args_is_help=True
)
config_app = typer.Typer(help="Check or describe the configuration.", no_args_is_help=True)
keys_app = typer.Typer(help="Signing keys.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts of the user pool.", no_args_is_help=True)
clients_app = typer.Typer(help="App clients.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
app.add_typer(clients_app, name="clients")
app.add_typer(policies_app, name="policies")
app.add_typer(routes_app, name="routes")
app.command("dev-cert")(dev_cert)


def _fail(exc: Exception) -> NoReturn:
    """Print every problem, one a line, and exit 1."""
    problems = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
    for problem in problems:
        err.print(f"[red]error[/red] {problem}", highlight=False)
    raise typer.Exit(1)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def _emit(rows: list[dict[str, Any]], columns: list[str], as_json: bool, title: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    out.print(table)


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Run the public and admin listeners (and the gate's own); SIGHUP reloads the gate."""
    from authgate.listeners import ListenError, check_listeners, listener_specs
    from authgate.server import serve as run_server

    settings = settings_or_exit(config)

    async def run() -> None:
        check_listeners(settings)  # fail fast, before migrations and key generation
        services = await build_services(settings)
        if services.admin_token_created:
            err.print(
                f"Generated admin token (shown once, stored in {settings.admin.token[5:]}):\n"
                f"  {services.admin_token}",
                highlight=False,
            )
        where = (
            f"{spec.key} on {'https' if spec.tls else 'http'}://{spec.listen}"
            for spec in listener_specs(settings)
        )
        err.print(f"authgate {', '.join(where)}", highlight=False)
        # What start-up built (modules, settings, services) lives as long as the process:
        # kept out of the collector's walks, a full collection under load takes about 1 ms
        # instead of 80-190 ms that every request in flight would wait for.
        gc.collect()
        gc.freeze()
        await run_server(settings, services, config)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        uvloop.run(run())
    except (ConfigError, ListenError) as exc:
        _fail(exc)


@app.command()
def migrate(config: ConfigOption = None) -> None:
    """Bring the database schema to the newest revision."""
    settings = settings_or_exit(config)

    async def run() -> None:
        ensure_data_dir(settings)
        store = await open_store(settings, migrate=True)
        await store.close()

    asyncio.run(run())
    out.print("database is at the newest revision")


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the configuration; exit 1 listing every error with its key."""
    from authgate.listeners import listener_specs, tls_contexts

    settings = settings_or_exit(config)
    try:
        tls_contexts(listener_specs(settings))  # the TLS files must be readable and fit
    except ConfigError as exc:
        _fail(exc)
    out.print(f"configuration is valid (issuer {settings.issuer})", highlight=False)


@config_app.command("schema")
def config_schema() -> None:
    """Print the configuration's JSON schema."""
    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


def _key_rows(services: Services) -> list[dict[str, Any]]:
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


@keys_app.command("list")
def keys_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List signing keys, newest first."""
    rows = with_services(config, lambda s: _async(_key_rows(s)))
    _emit(rows, ["kid", "alg", "active", "created_at", "verify_until"], as_json, "signing keys")


@keys_app.command("rotate")
def keys_rotate(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Make a new signing key; old keys verify until their tokens expire."""

    async def work(services: Services) -> list[dict[str, Any]]:
        key = await services.keys.rotate(CLI)
        return [{"kid": key.kid, "alg": key.alg}]

    _emit(with_services(config, work), ["kid", "alg"], as_json, "new signing key")


async def _async(value: T) -> T:
    return value


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

    _emit(with_services(config, work), USER_COLUMNS, as_json, "created")


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

    _emit(with_services(config, work), USER_COLUMNS, as_json, "users")


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
            _emit(refused, ["line", "reason"], False, "refused rows")


def _client_rows(clients: list[Any], secret: str | None = None) -> list[dict[str, Any]]:
    rows = []
    for client in clients:
        row = client.public_view
        if secret is not None:
            row["client_secret"] = secret
        rows.append(row)
    return rows


def _json_option(value: str | None, name: str) -> Any:
    try:
        return None if value is None else json.loads(value)
    except ValueError:
        raise typer.BadParameter("must be JSON", param_hint=name) from None


CLIENT_COLUMNS = ["client_id", "client_name", "grant_types", "token_endpoint_auth_method"]


@clients_app.command("create")
def clients_create(
    client_name: Annotated[str, typer.Option(help="Display name.")],
    grant_types: Annotated[list[str] | None, typer.Option("--grant-type")] = None,
    redirect_uris: Annotated[list[str] | None, typer.Option("--redirect-uri")] = None,
    scope: Annotated[str | None, typer.Option(help="Space-separated scopes.")] = None,
    token_endpoint_auth_method: Annotated[str, typer.Option()] = "client_secret_basic",
    first_party: Annotated[bool, typer.Option()] = False,
    post_logout_redirect_uris: Annotated[
        list[str] | None, typer.Option("--post-logout-redirect-uri")
    ] = None,
    audience: Annotated[list[str] | None, typer.Option("--audience")] = None,
    jwks_uri: Annotated[str | None, typer.Option(help="private_key_jwt: the key set URL")] = None,
    jwks: Annotated[str | None, typer.Option(help="private_key_jwt: the JWK Set, JSON")] = None,
    access_token_format: Annotated[str | None, typer.Option(help="jwt or opaque")] = None,
    access_token_ttl: Annotated[float | None, typer.Option(help="seconds")] = None,
    id_token_ttl: Annotated[float | None, typer.Option(help="seconds")] = None,
    refresh_token_ttl: Annotated[float | None, typer.Option(help="seconds")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a client; its secret is printed once."""
    from authgate.clients.metadata import parse_metadata

    fields: dict[str, Any] = {
        "client_name": client_name,
        "token_endpoint_auth_method": token_endpoint_auth_method,
        "first_party": first_party,
    }
    optional = {
        "grant_types": grant_types,
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": post_logout_redirect_uris,
        "audience": audience,
        "jwks_uri": jwks_uri,
        "jwks": _json_option(jwks, "--jwks"),
        "scope": scope,
        "access_token_format": access_token_format,
        "access_token_ttl": access_token_ttl,
        "id_token_ttl": id_token_ttl,
        "refresh_token_ttl": refresh_token_ttl,
    }
    fields.update({name: value for name, value in optional.items() if value is not None})

    async def work(services: Services) -> list[dict[str, Any]]:
        client, secret = await services.clients.create(parse_metadata(fields), CLI)
        return _client_rows([client], secret)

    rows = with_services(config, work)
    columns = CLIENT_COLUMNS + (["client_secret"] if "client_secret" in rows[0] else [])
    _emit(rows, columns, as_json, "client (the secret is shown only now)")


@clients_app.command("list")
def clients_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List clients."""

    async def work(services: Services) -> list[dict[str, Any]]:
        found = await services.clients.list(None, 500)
        return _client_rows(found.items)

    _emit(with_services(config, work), CLIENT_COLUMNS, as_json, "clients")


if __name__ == "__main__":  # pragma: no cover
    app()
