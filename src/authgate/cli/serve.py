"""`authgate serve`: run every listener of the configuration in this process."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Iterable
from typing import NoReturn

import typer
import uvloop

from authgate.bootstrap import build_services
from authgate.cli.support import ConfigOption, err, fail
from authgate.config import ConfigError, load_settings
from authgate.logs import LogFormat, configure_logging

log = logging.getLogger("authgate")


def _stop(problems: Iterable[str], log_format: LogFormat) -> NoReturn:
    """Exit 1 naming every problem: log records in JSON (so every line stays JSON), else
    one plain line each."""
    if log_format == "text":
        fail(problems)
    for problem in problems:
        log.error("%s", problem)
    raise typer.Exit(1)


def serve(config: ConfigOption = None) -> None:
    """Run the public and admin listeners (and the gate's own); SIGHUP reloads the gate."""
    from authgate.listeners import ListenError, check_listeners, listener_specs
    from authgate.server import serve as run_server

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        _stop([f"{exc.source}: {p}" for p in exc.problems], configure_logging(None))
    log_format = configure_logging(settings.logging.format, settings.logging.level)

    async def run() -> None:
        check_listeners(settings)  # fail fast, before migrations and key generation
        services = await build_services(settings)
        if services.admin_token_created:
            stored = settings.admin.token[5:]
            if sys.stderr.isatty():  # a person reads it, once; a log file keeps no secret
                err.print(
                    f"Generated admin token (shown once, stored in {stored}):\n"
                    f"  {services.admin_token}",
                    highlight=False,
                )
            else:
                log.warning("generated an admin token, stored in %s", stored)
        listeners = {
            spec.key: f"{'https' if spec.tls else 'http'}://{spec.listen}"
            for spec in listener_specs(settings)
        }
        where = ", ".join(f"{key} on {url}" for key, url in listeners.items())
        log.info("authgate %s", where, extra={"listeners": listeners})
        # What start-up built (modules, settings, services) lives as long as the process:
        # kept out of the collector's walks, a full collection under load takes about 1 ms
        # instead of 80-190 ms that every request in flight would wait for.
        gc.collect()
        gc.freeze()
        await run_server(settings, services, config)

    try:
        uvloop.run(run())
    except ConfigError as exc:
        _stop(exc.problems, log_format)
    except ListenError as exc:
        _stop([str(exc)], log_format)
