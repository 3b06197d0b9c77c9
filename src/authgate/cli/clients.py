"""`authgate clients create|list`: app clients of the OAuth 2.0 provider."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from authgate.bootstrap import Services
from authgate.cli.support import CLI, ConfigOption, JsonOption, emit, with_services

clients_app = typer.Typer(help="App clients.", no_args_is_help=True)


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
    refresh_token_rotation: Annotated[
        bool,
        typer.Option(help="Off: a refresh token is reused and not rotated (docs/clients.md)."),
    ] = True,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a client; its secret is printed once."""
    from authgate.clients.metadata import parse_metadata

    fields: dict[str, Any] = {
        "client_name": client_name,
        "token_endpoint_auth_method": token_endpoint_auth_method,
        "first_party": first_party,
        "refresh_token_rotation": refresh_token_rotation,
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
    emit(rows, columns, as_json, "client (the secret is shown only now)")


@clients_app.command("list")
def clients_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List clients."""

    async def work(services: Services) -> list[dict[str, Any]]:
        found = await services.clients.list(None, 500)
        return _client_rows(found.items)

    emit(with_services(config, work), CLIENT_COLUMNS, as_json, "clients")
