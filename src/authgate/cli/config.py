"""`authgate config check|schema`: validate the configuration, or describe it."""

from __future__ import annotations

import json
import sys

import typer

from authgate.cli.support import ConfigOption, fail, out, settings_or_exit
from authgate.config import ConfigError, json_schema, secret_problems

config_app = typer.Typer(help="Check or describe the configuration.", no_args_is_help=True)


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the configuration and its secret references and TLS files; exit 1 listing
    every error with its key."""
    from authgate.listeners import listener_specs, tls_contexts

    settings = settings_or_exit(config)
    problems = secret_problems(settings)  # every reference must resolve
    try:
        tls_contexts(listener_specs(settings))  # the TLS files must be readable and fit
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems:
        fail(problems)
    out.print(f"configuration is valid (issuer {settings.issuer})", highlight=False)


@config_app.command("schema")
def config_schema() -> None:
    """Print the configuration's JSON schema."""
    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")
