"""The `authgate` command: serve, migrate, and day-to-day administration.

One module per command group; tables are for people (rich), `--json` prints
machine-readable output for scripts.
"""

from __future__ import annotations

import typer

from authgate.cli.clients import clients_app
from authgate.cli.config import config_app
from authgate.cli.devcert import dev_cert
from authgate.cli.keys import keys_app
from authgate.cli.migrate import migrate
from authgate.cli.policies import policies_app
from authgate.cli.routes import routes_app
from authgate.cli.serve import serve
from authgate.cli.users import users_app

app = typer.Typer(
    help="authgate: identity and access for containerized APIs.", no_args_is_help=True
)
app.command()(serve)
app.command()(migrate)
app.add_typer(config_app, name="config")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
app.add_typer(clients_app, name="clients")
app.add_typer(policies_app, name="policies")
app.add_typer(routes_app, name="routes")
app.command("dev-cert")(dev_cert)

__all__ = ["app"]
