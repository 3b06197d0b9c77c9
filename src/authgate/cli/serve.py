"""`authgate serve`: run every listener of the configuration in this process."""

from __future__ import annotations

import gc
import logging

import uvloop

from authgate.bootstrap import build_services
from authgate.cli.support import ConfigOption, err, fail, settings_or_exit
from authgate.config import ConfigError


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
    except ConfigError as exc:
        fail(exc.problems)
    except ListenError as exc:
        fail([str(exc)])
