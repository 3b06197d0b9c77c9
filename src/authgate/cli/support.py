"""What every `authgate` sub-command shares: consoles, the config and --json options,
printing rows as a table or JSON, and running work on the services built from the
configuration with errors printed one a line (exit 1).

A module of its own so that command modules can use it without importing the package,
which imports them to register them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from authgate.audit import Caller
from authgate.bootstrap import Services, build_services
from authgate.config import ConfigError, Settings, load_settings
from authgate.errors import DomainError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
CLI = Caller(ip=None, user_agent="authgate-cli")
T = TypeVar("T")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML file (default: $AUTHGATE_CONFIG).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def fail(problems: Iterable[str]) -> NoReturn:
    """Print every problem, one a line, and exit 1."""
    for problem in problems:
        err.print(f"[red]error[/red] {problem}", highlight=False)
    raise typer.Exit(1)


def settings_or_exit(config: Path | None, exit_code: int = 1) -> Settings:
    """The configuration, or every problem printed (`config error FILE: key: message`)."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(f"[red]config error[/red] {exc.source}: {problem}", highlight=False)
        raise typer.Exit(exit_code) from None


def with_services(config: Path | None, work: Callable[[Services], Awaitable[T]]) -> T:
    """`work` on the services of the configuration; a domain error is printed with its
    code (and every problem it lists), and exits 1."""
    settings = settings_or_exit(config)

    async def run() -> T:
        services = await build_services(settings)
        try:
            return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(run())
    except ConfigError as exc:
        fail(exc.problems)
    except DomainError as exc:
        err.print(f"[red]{exc.code}[/red]: {exc.message}", highlight=False)
        fail(getattr(exc, "problems", []))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def emit(rows: list[dict[str, Any]], columns: list[str], as_json: bool, title: str) -> None:
    """Rows as a table for people, or as a JSON list for scripts (`--json`)."""
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    out.print(table)
