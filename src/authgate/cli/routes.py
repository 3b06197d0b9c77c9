"""`authgate routes check METHOD URL [--token T]`: which route serves a request, what it
requires, and whether a token would pass — for people debugging access.

The answer comes from the gate's own code: the route table matches, and with a token the
real pipeline decides (against the configured database and keys), so what this prints is
what the gate would do. Exit status: 0 would pass (or, without a token, a route serves the
request), 1 refused, 2 a usage or configuration error.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import sys
from typing import Annotated, Any, NoReturn
from urllib.parse import urlsplit

import typer
from pydantic import BaseModel

from authgate.cli.support import ConfigOption, JsonOption, settings_or_exit
from authgate.config import ConfigError, Settings
from authgate.errors import DomainError
from authgate.gateway.config import RouteSettings
from authgate.gateway.failure_answers import GATE_FAILURES, failure_response
from authgate.gateway.paths import normalize_path
from authgate.gateway.pipeline import Decision
from authgate.gateway.request import GateRequest, check_method, host_name
from authgate.gateway.routes import RouteMatch, RouteTable

routes_app = typer.Typer(help="The gateway's routes.", no_args_is_help=True)

PASS, REFUSED, USAGE = 0, 1, 2


class UsageError(Exception):
    """The command line or the configuration cannot be used (exit 2)."""


def _usage(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(USAGE)


def describe_request(
    method: str, url: str, token: str | None, client_ip: str | None = None
) -> GateRequest:
    """The request as the gate would see it; `url` is absolute or a path (any host)."""
    parts = urlsplit(url)
    if parts.scheme and parts.scheme not in ("http", "https"):
        raise UsageError(f"{url!r}: the URL must be http(s)://HOST/PATH or /PATH")
    if not parts.path.startswith("/") or parts.fragment or parts.username:
        raise UsageError(f"{url!r}: the URL must be http(s)://HOST/PATH or /PATH")
    if token is not None and (not token or any(c.isspace() for c in token)):
        raise UsageError("the token must be one non-empty word")
    if client_ip is not None:
        try:
            client_ip = str(ipaddress.ip_address(client_ip))
        except ValueError:
            raise UsageError(f"{client_ip!r} is not an IP address") from None
    headers: list[tuple[str, str]] = []
    if parts.netloc:
        headers.append(("host", parts.netloc))
    if token is not None:
        headers.append(("authorization", f"Bearer {token}"))
    return GateRequest(
        method=method,
        scheme=parts.scheme or "https",
        host=parts.netloc,
        raw_path=parts.path,
        query=parts.query,
        headers=tuple(headers),
        peer=client_ip,
    )


def _options(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_defaults=True)
    return None if value is True else value


def _rate_limit(route: RouteSettings) -> str | None:
    limit = route.rate_limit
    if limit is None:
        return None
    return f"{limit.rate.count} per {limit.rate.period:g}s per {limit.key} (in each process)"


def route_summary(match: RouteMatch, query: str, settings: Settings) -> dict[str, Any]:
    """What a person needs to know about the route that serves a request."""
    route: RouteSettings = match.route
    kind = route.authorize.kind
    upstream_path = match.upstream_path + (f"?{query}" if query else "")
    upstream = settings.gateway.upstreams[route.upstream]
    return {
        "route": route.name,
        "path": route.path,
        "hosts": route.hosts or ["*"],
        "methods": sorted(route.allowed_methods) if route.allowed_methods else ["*"],
        "upstream": route.upstream,
        "targets": upstream.targets,
        "upstream_path": upstream_path,
        "authenticate": list(route.authenticate),
        "authorize": kind,
        "authorize_options": _options(getattr(route.authorize, kind)),
        "audience": route.audience or upstream.audience,
        "rate_limit": _rate_limit(route),
        "cors": _options(route.cors),
    }


def _failure(exc: Exception) -> dict[str, Any]:
    response = failure_response(exc)
    body: dict[str, Any] = json.loads(bytes(response.body))
    return {"status": response.status_code, **body}


def _passed(decision: Decision) -> dict[str, Any]:
    principal = decision.principal
    return {
        "status": 200,
        "authenticated_by": principal.method,
        "subject": principal.subject,
        "client": principal.client_id,
        "scopes": sorted(principal.scopes),
        "groups": list(principal.groups),
        "identity_headers": sorted(decision.patch.set),
    }


async def _decide(settings: Settings, request: GateRequest) -> dict[str, Any]:
    from authgate.bootstrap import build_services

    services = await build_services(settings)
    try:
        decision = await services.gateway.pipeline.decide(request)
    except GATE_FAILURES as exc:
        return _failure(exc)
    finally:
        await services.close()
    return _passed(decision)


def _print(lines: list[tuple[str, Any]]) -> None:
    for label, value in lines:
        if value is None or value == []:
            continue
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        elif isinstance(value, dict):
            value = json.dumps(value, sort_keys=True)
        typer.echo(f"{label:<18}{value}")


def _verdict(outcome: dict[str, Any]) -> None:
    if outcome["status"] == 200:
        typer.echo("verdict           would pass (200)")
        _print([(k.replace("_", " "), v) for k, v in outcome.items() if k != "status"])
        return
    reason = f" reason_id={outcome['reason_id']}" if "reason_id" in outcome else ""
    typer.echo(f"verdict           refused {outcome['status']} {outcome['error']}{reason}")
    typer.echo(f"why               {outcome['message']}")


@routes_app.command("check")
def check(
    method: Annotated[str, typer.Argument(help="HTTP method, e.g. GET.")],
    url: Annotated[str, typer.Argument(help="http(s)://HOST/PATH?QUERY, or /PATH for any host.")],
    token: Annotated[
        str | None, typer.Option("--token", help="Bearer token to try on the route.")
    ] = None,
    config: ConfigOption = None,
    client_ip: Annotated[
        str | None,
        typer.Option("--from", help="The client's IP address (policies may test remoteIP)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Which route serves METHOD URL, what it requires, and whether --token would pass."""
    settings = settings_or_exit(config, USAGE)
    try:
        request = describe_request(method, url, token, client_ip)
    except UsageError as exc:
        _usage(str(exc))
    result: dict[str, Any] = {}
    try:
        check_method(request.method)
        path = normalize_path(request.raw_path)
        table = RouteTable(settings.gateway.routes)
        match = table.match(request.method, host_name(request.host), path)
    except GATE_FAILURES as exc:
        result["outcome"] = _failure(exc)
    else:
        result.update(route_summary(match, request.query, settings))
        if token is not None:
            try:
                result["outcome"] = asyncio.run(_decide(settings, request))
            except (ConfigError, DomainError) as exc:
                _usage(str(exc))
    outcome = result.get("outcome")
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        _print([(k.replace("_", " "), v) for k, v in result.items() if k != "outcome"])
        if outcome is not None:
            _verdict(outcome)
    raise typer.Exit(PASS if outcome is None or outcome["status"] == 200 else REFUSED)
