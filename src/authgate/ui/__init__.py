"""Hosted pages: server-rendered, accessible forms with no external assets."""

from starlette.routing import BaseRoute

from authgate.ui import account_passkeys, consent, passkeys, signin, signout


def routes(prefix: str) -> list[BaseRoute]:
    """Every hosted page, under `ui.prefix` (and the few old /oauth2/ addresses)."""
    return [
        *signin.routes(prefix),
        *consent.routes(prefix),
        *signout.routes(prefix),
        *passkeys.routes(prefix),
        *account_passkeys.routes(prefix),
    ]
