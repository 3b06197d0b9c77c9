"""What the hosted pages show of the external identity providers: the sign-in page's
buttons, the account page's section, and where their forms may lead (CSP form-action).
Apart from ui/federation.py so the sign-in page can show them without importing it."""

from __future__ import annotations

from starlette.requests import Request

from authgate.identity.sessions import SignedIn
from authgate.ui.account_passkeys import when
from authgate.ui.flow import services_of

STATUS_KEYS = ("provider_linked", "provider_unlinked")


def provider_buttons(request: Request) -> list[dict[str, str]]:
    """The sign-in page's buttons, one per provider."""
    prefix = services_of(request).settings.ui.prefix
    return [
        {"label": p.label, "action": f"{prefix}/federation/{p.name}/start"}
        for p in services_of(request).federation.providers
    ]


def form_targets(request: Request) -> list[str]:
    """Where a provider button's form may end (the pages' CSP form-action)."""
    federation = services_of(request).federation
    return [federation.flow.discovery.authorization_origin(p) for p in federation.providers]


async def account_section(request: Request, signed_in: SignedIn) -> dict[str, object]:
    """The account page's section: `linked` (name, label, when) and `available` providers."""
    federation = services_of(request).federation
    linked = await federation.accounts.links(signed_in.user.sub, federation.flow.providers)
    names = {link.provider for link in linked}
    return {
        "linked": [
            {"name": link.provider, "label": link.display_name, "linked": when(link.linked_at)}
            for link in linked
        ],
        "available": [
            {"name": p.name, "label": p.label} for p in federation.providers if p.name not in names
        ],
    }
