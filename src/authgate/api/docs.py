"""A server-rendered page for an OpenAPI document: no external CDN, no script.

FastAPI's and Swagger's pages load their assets from a CDN, which a self-hosted,
offline-capable gate must not depend on; this page lists every operation instead.
"""

from __future__ import annotations

import html
from typing import Any

from starlette.responses import HTMLResponse


def render_docs(spec: dict[str, Any]) -> HTMLResponse:
    info = spec.get("info", {})
    title = html.escape(str(info.get("title", "API")))
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8>",
        f"<title>{title}</title>",
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem}code{background:#f3f3f3;padding:0 .2rem}h2{margin-top:2rem}"
        "dt{font-weight:600}</style>",
        f"<h1>{title}</h1><p>Machine-readable: <a href=openapi.json>openapi.json</a></p>",
    ]
    for path, operations in sorted(spec.get("paths", {}).items()):
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            summary = html.escape(str(operation.get("summary", "")))
            parts.append(f"<h2><code>{method.upper()} {html.escape(path)}</code></h2>")
            parts.append(f"<p>{summary}</p>")
            if operation.get("description"):
                parts.append(f"<p>{html.escape(str(operation['description']))}</p>")
            responses = operation.get("responses", {})
            if responses:
                parts.append("<dl>")
                for status, response in responses.items():
                    text = response.get("description", "") if isinstance(response, dict) else ""
                    parts.append(
                        f"<dt>{html.escape(str(status))}</dt><dd>{html.escape(str(text))}</dd>"
                    )
                parts.append("</dl>")
    return HTMLResponse(
        "".join(parts),
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )
