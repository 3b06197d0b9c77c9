"""Rendering the hosted pages, each with the headers that keep it from being abused.

Templates are Jinja2 with autoescaping on. Pages load nothing from anywhere: the one
stylesheet is inline, allowed by its hash in a Content-Security-Policy that allows nothing
else (no images, no frames, no plugins, and no scripts but on a page that asks for one by
nonce); no page may be framed (clickjacking); no page is cached or sends a Referer. Every
page speaks the language Accept-Language picks among `ui.languages` (`<html lang>`,
`Content-Language`, and `Vary: Accept-Language`).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from authgate.config import ConfigError
from authgate.ui.i18n import CatalogueError, Catalogues, Translate

if TYPE_CHECKING:
    from authgate.config import Settings

PACKAGED_TEMPLATES = Path(__file__).parent / "templates"
_ORIGIN = re.compile(r"https?://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")


def form_action_source(uri: str | None) -> str | None:
    """A CSP source for where a form's answer may redirect (browsers check redirects too)."""
    if uri is None:
        return None
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        return origin if _ORIGIN.fullmatch(origin) else None
    return f"{parts.scheme}:" if _SCHEME.fullmatch(parts.scheme) else None


def security_headers(
    css_hash: str,
    redirects_to: str | None = None,
    script_nonce: str | None = None,
    form_targets: Sequence[str] = (),
) -> dict[str, str]:
    """`form_targets`: other places a form's answer may redirect to (the external
    identity providers' authorization endpoints)."""
    sources = [form_action_source(u) for u in (redirects_to, *form_targets)]
    form_action = " ".join(dict.fromkeys(filter(None, ["'self'", *sources])))
    # A page that asked for a script (WebAuthn) may run exactly the scripts carrying its
    # per-response nonce and fetch from this origin; every other page runs none at all.
    script = f"script-src 'nonce-{script_nonce}'; connect-src 'self'; " if script_nonce else ""
    policy = (
        f"default-src 'none'; {script}style-src 'sha256-{css_hash}'; "
        f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Vary": "Accept-Language, Cookie",
    }


class Pages:
    """The templates and words of one configuration (`ui:`), built once at start.

    A template in `ui.templates_dir` overrides the packaged one of the same name (also
    `style.css`, whose hash the CSP then allows instead); catalogues load as `i18n` says.
    """

    def __init__(self, settings: Settings) -> None:
        ui = settings.ui
        self.site = settings.user_pool.name
        self.prefix = ui.prefix
        try:
            self.catalogues = Catalogues.load(ui.languages, ui.templates_dir)
        except CatalogueError as exc:
            raise ConfigError("ui", [f"ui.languages: {exc}"]) from None
        folders = [PACKAGED_TEMPLATES]
        if ui.templates_dir is not None:
            folders.insert(0, ui.templates_dir)
        css_file = next(f / "style.css" for f in folders if (f / "style.css").is_file())
        css = css_file.read_text(encoding="utf-8").strip()
        self.css_hash = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        self.env = Environment(
            loader=ChoiceLoader([FileSystemLoader(folder) for folder in folders]),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals["css"] = Markup(css)  # noqa: S704 - the operator's or our stylesheet
        self.env.globals["prefix"] = self.prefix

    def language(self, request: Request) -> str:
        return self.catalogues.pick(request.headers.get("accept-language"))

    def translator(self, request: Request) -> Translate:
        return self.catalogues.translator(self.language(request))

    def render(
        self,
        request: Request,
        template: str,
        *,
        status: int = 200,
        redirects_to: str | None = None,
        headers: dict[str, str] | None = None,
        script: bool = False,
        form_targets: Sequence[str] = (),
        **context: Any,
    ) -> HTMLResponse:
        """The page in the browser's language, with the headers every page carries.

        `script=True` gives this one response a fresh nonce (`script_nonce` in the template,
        for `<script nonce="{{ script_nonce }}">`) that the CSP allows, and nothing else.
        """
        language = self.language(request)
        nonce = secrets.token_urlsafe(18) if script else None
        html = self.env.get_template(template).render(
            site=self.site,
            lang=language,
            t=self.catalogues.translator(language),
            script_nonce=nonce,
            **context,
        )
        base = security_headers(self.css_hash, redirects_to, nonce, form_targets)
        base["Content-Language"] = language
        return HTMLResponse(html, status_code=status, headers={**base, **(headers or {})})


def pages_of(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    redirects_to: str | None = None,
    headers: dict[str, str] | None = None,
    script: bool = False,
    form_targets: Sequence[str] = (),
    **context: Any,
) -> HTMLResponse:
    """Render `template` for this request (see `Pages.render`); `t`, `lang`, `prefix`,
    `site`, `css` and `script_nonce` are there in every template."""
    return pages_of(request).render(
        request,
        template,
        status=status,
        redirects_to=redirects_to,
        headers=headers,
        script=script,
        form_targets=form_targets,
        **context,
    )


def translator(request: Request) -> Translate:
    """`t` for Python code: the same words the request's pages get."""
    return pages_of(request).translator(request)


def message_page(
    request: Request,
    title_key: str,
    message_key: str,
    *,
    status: int = 200,
    alert: bool = False,
    links: list[tuple[str, str]] | None = None,
    **values: Any,
) -> HTMLResponse:
    """A page that only says something: a title and a message (catalogue keys, `values`
    filled into the message), and links as (href, catalogue key)."""
    t = translator(request)
    return render(
        request,
        "message.html",
        status=status,
        title=t(title_key),
        message=t(message_key, **values),
        alert=alert,
        links=[(href, t(key)) for href, key in links or []],
    )


def storage_unavailable_page(request: Request, retry_after: int) -> HTMLResponse:
    """The hosted pages' answer while the database is away: say so, change nothing."""
    response = message_page(
        request, "flow.unavailable_title", "flow.unavailable", status=503, alert=True
    )
    response.headers["Retry-After"] = str(retry_after)
    return response
