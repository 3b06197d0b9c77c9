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
from authgate.identity.lifecycle import NO_HOOKS, LifecycleHooks
from authgate.identity.mail import MailSender, Message, Templates

log = logging.getLogger("authgate.mail")

MESSAGE_EVENTS = {
    "signup_code": "signup",
    "reset_code": "forgot_password",
    "verify_email": "update_user_attribute",
    "invitation": "admin_create_user",
}
"""The custom_message event of each template that carries a code or a password; the
other mails (notices) are not the hook's to word."""


class Postman:
    def __init__(self, sender: MailSender, templates: Templates, pool_name: str) -> None:
        self._sender = sender
        self._templates = templates
        self._pool_name = pool_name
        self._pending: set[asyncio.Task[None]] = set()
        self.flows: FlowRecorder = NO_FLOWS
        """Told each delivery's outcome (sent, failed) and time (metrics)."""
        self.hooks: LifecycleHooks = NO_HOOKS
        """May word a message its own way (custom_message), in the background task."""

    def send(
        self, template: str, to: str, username: str, *, event: str | None = None, **context: str
    ) -> None:
        """Render and send in the background; `event` names the custom_message event when
        the template's own (MESSAGE_EVENTS) is not it (a resent code)."""
        message = self._templates.render(
            template, to, username=username, pool_name=self._pool_name, **context
        )
        event = event or MESSAGE_EVENTS.get(template)
        secret = context.get("code") or context.get("temporary_password")
        user = {"username": username, "email": to}
        task = asyncio.get_running_loop().create_task(
            self._deliver(template, message, event, secret, user)
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver(
        self,
        template: str,
        message: Message,
        event: str | None,
        code: str | None,
        user: dict[str, str],
    ) -> None:
        if event is not None:
            worded = await self.hooks.custom_message(event, message, code, user)
            if worded is None:
                log.warning("mail %s not sent: the custom_message hook failed", template)
                return
            message = worded
        started = time.perf_counter()
        try:
            await self._sender.send(message)
        except Exception as exc:
            self.flows.record("mail", "failed", time.perf_counter() - started)
            log.error("mail %s could not be delivered: %s", template, exc)
        else:
            self.flows.record("mail", "sent", time.perf_counter() - started)

    async def drain(self) -> None:
        """Wait for mail in flight (at shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
