"""Sending the pool's mail without making a caller wait for it.

Mail leaves in a background task, so an answer takes the same time whether or not a
message was sent (no enumeration through timing), and a slow SMTP server never holds a
request. Delivery failures are logged without the message body.
"""

from __future__ import annotations

import asyncio
import logging
import time

from authgate.flows import NO_FLOWS, FlowRecorder
from authgate.identity.mail import MailSender, Templates

log = logging.getLogger("authgate.mail")


class Postman:
    def __init__(self, sender: MailSender, templates: Templates, pool_name: str) -> None:
        self._sender = sender
        self._templates = templates
        self._pool_name = pool_name
        self._pending: set[asyncio.Task[None]] = set()
        self.flows: FlowRecorder = NO_FLOWS
        """Told each delivery's outcome (sent, failed) and time (metrics)."""

    def send(self, template: str, to: str, username: str, **context: str) -> None:
        message = self._templates.render(
            template, to, username=username, pool_name=self._pool_name, **context
        )
        task = asyncio.get_running_loop().create_task(self._deliver(template, message))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver(self, template: str, message: object) -> None:
        started = time.perf_counter()
        try:
            await self._sender.send(message)  # type: ignore[arg-type]
        except Exception as exc:
            self.flows.record("mail", "failed", time.perf_counter() - started)
            log.error("mail %s could not be delivered: %s", template, exc)
        else:
            self.flows.record("mail", "sent", time.perf_counter() - started)

    async def drain(self) -> None:
        """Wait for mail in flight (at shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
