"""The name of every cookie authgate sets, in one place: the hosted pages set them
(`ui.cookies`) and the gate keeps them from upstreams (`gateway.own_cookies`)."""

SESSION_COOKIE = "authgate_session"
CSRF_COOKIE = "authgate_csrf"
MFA_COOKIE = "authgate_mfa"
"""The sign-in challenge session between the password page and the second-factor page."""
FEDERATION_COOKIE = "authgate_federation"
"""Binds a sign-in at an external identity provider to the browser that started it."""
OWN_COOKIES = (SESSION_COOKIE, CSRF_COOKIE, MFA_COOKIE, FEDERATION_COOKIE)
"""Before any `__Host-` prefix. A cookie missing here would be forwarded to upstreams."""
