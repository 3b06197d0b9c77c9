"""Rendering the hosted pages, each with the headers that keep it from being abused.

Templates are Jinja2 with autoescaping on. Pages load nothing from anywhere: the one
stylesheet is inline, allowed by its hash in a Content-Security-Policy that allows nothing
else (no scripts, no images, no frames, no plugins); no page may be framed (clickjacking);
no page is cached or sends a Referer.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse

_TEMPLATES = Path(__file__).parent / "templates"
_CSS = (_TEMPLATES / "style.css").read_text(encoding="utf-8").strip()
_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
_ORIGIN = re.compile(r"https?://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")

_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["css"] = Markup(_CSS)  # noqa: S704 - our own stylesheet, a file in the package


def form_action_source(uri: str | None) -> str | None:
    """A CSP source for where a form's answer may redirect (browsers check redirects too)."""
    if uri is None:
        return None
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        return origin if _ORIGIN.fullmatch(origin) else None
    return f"{parts.scheme}:" if _SCHEME.fullmatch(parts.scheme) else None


def security_headers(redirects_to: str | None = None) -> dict[str, str]:
    form_action = " ".join(filter(None, ["'self'", form_action_source(redirects_to)]))
    policy = (
        f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; form-action {form_action}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
    }


def render(
    template: str,
    site: str,
    *,
    status: int = 200,
    redirects_to: str | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    html = _env.get_template(template).render(site=site, **context)
    return HTMLResponse(
        html, status_code=status, headers={**security_headers(redirects_to), **(headers or {})}
    )


def message_page(
    site: str, title: str, message: str, *, status: int = 200, alert: bool = False
) -> HTMLResponse:
    return render("message.html", site, status=status, title=title, message=message, alert=alert)
