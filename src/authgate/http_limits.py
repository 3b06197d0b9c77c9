"""Bounds on what a request head may be, enforced while it is parsed.

uvicorn's httptools protocol accepts request heads of any size and any number of header
lines, and an absolute-form target (`GET http://host/path`) whose host it then drops. A
gate must not: an unbounded head is memory for the taking, and a front proxy that routes
on the URL's host while we route on `Host` would decide two different requests. This
subclass counts as the parser goes and refuses (400, connection closed, nothing reaches
an app) a head over MAX_HEAD_BYTES or MAX_HEADER_LINES, and any target that is not
origin-form (`/path`) or `*`. Written here because neither uvicorn nor httptools offers
these settings.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
"""Target plus header names and values; nginx's default allows 32 KiB."""
MAX_HEADER_LINES = 100


class HeadRefused(Exception):
    """Raised inside a parser callback: httptools turns it into a parser error, and
    uvicorn answers 400 and closes the connection."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    _head_bytes = 0
    _header_lines = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._header_lines = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_lines += 1
        if self._header_lines > MAX_HEADER_LINES:
            raise HeadRefused("too many header lines")
        self._count(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if not (self.url.startswith(b"/") or self.url == b"*"):
            raise HeadRefused("the request target must be a path")
        super().on_headers_complete()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            raise HeadRefused("the request head is too large")
