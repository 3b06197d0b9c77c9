"""The account page's passkeys section: its context (`section`, rendered by
templates/account/passkeys.html as `passkeys`), and a page of its own, `{prefix}/account/
passkeys`, that shows the section alone (reachable before and besides the account page)."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.identity.sessions import SignedIn
from authgate.ui.csrf import csrf_token, remember_csrf
from authgate.ui.flow import services_of
from authgate.ui.page_session import signed_in_or_login
from authgate.ui.pages import render

STATUS_KEYS = ("passkey_added", "passkey_renamed", "passkey_removed")


def when(epoch: float | None) -> str | None:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch)) if epoch else None


async def section(request: Request, signed_in: SignedIn) -> dict[str, Any]:
    """`entries` (the user's passkeys), `offered` (browsers can use our RP ID) and `script`
    (the page must render with a script nonce)."""
    services = services_of(request)
    offered = services.passkeys.browsers_can_use
    passkeys = await services.passkeys.list(signed_in.user)
    items = [
        {
            "id": p.id,
            "name": p.name,
            "created": when(p.created_at),
            "last_used": when(p.last_used_at),
            "synced": p.backup_eligible,
        }
        for p in passkeys
    ]
    return {"entries": items, "offered": offered, "script": offered}


async def show(request: Request) -> Response:
    found = await signed_in_or_login(request)
    if not isinstance(found, SignedIn):
        return found
    services = services_of(request)
    passkeys = {**await section(request, found), "standalone": True}
    token, is_new = csrf_token(request, services.settings.issuer)
    status = request.query_params.get("status", "")
    response = render(
        request,
        "passkeys/manage.html",
        script=bool(passkeys["script"]),
        username=found.user.email or found.user.username,
        csrf_token=token,
        passkeys=passkeys,
        status_key=status if status in STATUS_KEYS else None,
    )
    return remember_csrf(response, token, is_new, services.settings.issuer)


def routes(prefix: str) -> list[BaseRoute]:
    return [Route(f"{prefix}/account/passkeys", show, methods=["GET"])]
