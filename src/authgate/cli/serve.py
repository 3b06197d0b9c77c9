"""`authgate serve`: run every listener of the configuration, in this process or, with
`server.workers` above 1, in that many worker processes it supervises."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import NoReturn

import typer
import uvloop

from authgate.bootstrap import Services, build_services
from authgate.cli.support import ConfigOption, err, fail
from authgate.config import ConfigError, Settings, load_settings
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


def _show_admin_token(settings: Settings, services: Services) -> None:
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


def _log_listening(settings: Settings, workers: int) -> None:
    from authgate.listeners import listener_specs

    listeners = {
        spec.key: f"{'https' if spec.tls else 'http'}://{spec.listen}"
        for spec in listener_specs(settings)
    }
    where = ", ".join(f"{key} on {url}" for key, url in listeners.items())
    if workers == 1:
        log.info("authgate %s", where, extra={"listeners": listeners})
    else:
        extra = {"listeners": listeners, "workers": workers}
        log.info("authgate %s; %d workers", where, workers, extra=extra)


def serve(config: ConfigOption = None) -> None:
    """Run the public and admin listeners (and the gate's own); SIGHUP reloads the gate.

    With `server.workers` above 1, this process binds, migrates and bootstraps once, then
    supervises that many worker processes serving the same listeners (authgate.workers).
    """
    from authgate.listeners import ListenError, check_listeners, close_all, open_listeners
    from authgate.server import freeze_startup, warn_if_per_process
    from authgate.server import serve as run_server

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        _stop([f"{exc.source}: {p}" for p in exc.problems], configure_logging(None))
    log_format = configure_logging(settings.logging.format, settings.logging.level)
    workers = settings.server.resolved_workers()

    async def run() -> None:
        check_listeners(settings)  # fail fast, before migrations and key generation
        services = await build_services(settings)
        _show_admin_token(settings, services)
        _log_listening(settings, 1)
        freeze_startup()
        await run_server(settings, services, config)

    async def prepare_workers() -> None:
        """The once-only work (migrations, generated secrets, first key, default client)."""
        services = await build_services(settings)
        try:
            _show_admin_token(settings, services)
            warn_if_per_process(settings, workers)
        finally:
            await services.close()

    try:
        if workers == 1:
            uvloop.run(run())
            return
        from authgate.workers import Supervisor, supported, worker_entry

        if not supported():
            needs = "server.workers: above 1 needs Linux (fork, sigtimedwait)"
            raise ConfigError("server", [needs])
        listeners = open_listeners(settings)  # bound here, served by every worker
        try:
            uvloop.run(prepare_workers())
        except BaseException:
            close_all(listeners)
            raise
        _log_listening(settings, workers)
        freeze_startup()
        start = worker_entry(settings, config, listeners)
        raise typer.Exit(Supervisor(workers, listeners, start).run())
    except ConfigError as exc:
        _stop(exc.problems, log_format)
    except ListenError as exc:
        _stop([str(exc)], log_format)
