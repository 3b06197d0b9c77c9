"""Hosted pages: server-rendered, accessible forms with no external assets."""

from starlette.routing import BaseRoute

from authgate.ui import (
    account,
    account_actions,
    account_mfa,
    account_passkeys,
    consent,
    federation,
    login_mfa,
    passkeys,
    password,
    reauth,
    signin,
    signout,
    signup,
)


def routes(prefix: str) -> list[BaseRoute]:
    """Every hosted page, under `ui.prefix` (and the few old /oauth2/ addresses)."""
    return [
        *signin.routes(prefix),
        *login_mfa.routes(prefix),
        *account_mfa.routes(prefix),
        *signup.routes(prefix),
        *password.routes(prefix),
        *consent.routes(prefix),
        *signout.routes(prefix),
        *account.routes(prefix),
        *account_actions.routes(prefix),
        *reauth.routes(prefix),
        *passkeys.routes(prefix),
        *account_passkeys.routes(prefix),
        *federation.routes(prefix),
    ]
