"""Outgoing mail: message texts from templates, and the senders that deliver them.

Domain code renders a `Message` and hands it to whatever `MailSender` the deployment
configured (an SMTP relay, an outbox directory for tests and demos, or the console).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import smtplib
import ssl
import string
import sys
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from importlib import resources
from pathlib import Path
from typing import Literal, Protocol, TextIO

__all__ = [
    "ConsoleSender",
    "FileSender",
    "MailDeliveryError",
    "MailSender",
    "Message",
    "SmtpSender",
    "TemplateError",
    "Templates",
]

_TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9_]*")
_SUBJECT_PREFIX = "Subject:"
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})


@dataclass(frozen=True)
class Message:
    """One plain-text mail to one recipient, independent of how it is delivered."""

    to: str
    subject: str
    text: str


class MailSender(Protocol):
    """Delivers messages; implementations raise `MailDeliveryError` when they cannot."""

    async def send(self, message: Message) -> None: ...


class MailDeliveryError(Exception):
    """A message could not be delivered; the text never contains credentials."""


class TemplateError(Exception):
    """A template is unknown, malformed, or needs a value the caller did not give."""


class Templates:
    """Message texts, overridable by a directory of files with the same names."""

    def __init__(self, override_dir: Path | None = None) -> None:
        self._override_dir = override_dir

    def render(self, name: str, to: str, **context: str) -> Message:
        """Fill template `name`; raises `TemplateError` naming the template and key."""
        subject, body = _split(name, self._source(name))
        values = {key: _one_line(value) for key, value in context.items()}
        return Message(
            to=to,
            subject=" ".join(_fill(name, subject, values).split()),
            text=_fill(name, body, values),
        )

    def _source(self, name: str) -> str:
        if not _TEMPLATE_NAME.fullmatch(name):
            raise TemplateError(f"invalid mail template name {name!r}")
        filename = f"{name}.txt"
        if self._override_dir is not None:
            override = self._override_dir / filename
            if override.is_file():
                return override.read_text(encoding="utf-8-sig")
        builtin = resources.files("authgate.identity").joinpath("templates", filename)
        if not builtin.is_file():
            raise TemplateError(f"unknown mail template {name!r}")
        return builtin.read_text(encoding="utf-8")


def _split(name: str, source: str) -> tuple[str, str]:
    """Separate the `Subject:` line from the body, which follows a blank line."""
    first, _, rest = source.replace("\r\n", "\n").partition("\n")
    blank, _, body = rest.partition("\n")
    if not first.startswith(_SUBJECT_PREFIX) or blank.strip():
        raise TemplateError(
            f"mail template {name!r} must start with a 'Subject:' line and a blank line"
        )
    return first.removeprefix(_SUBJECT_PREFIX).strip(), body


def _fill(name: str, text: str, values: dict[str, str]) -> str:
    try:
        return string.Template(text).substitute(values)
    except KeyError as exc:
        raise TemplateError(f"mail template {name!r} needs a value for ${exc.args[0]}") from None
    except ValueError as exc:
        raise TemplateError(f"mail template {name!r} has a bad placeholder: {exc}") from None


def _one_line(value: str) -> str:
    """Blank out line breaks so a user-chosen value cannot forge lines such as a code."""
    return "".join(" " if unicodedata.category(c) in _LINE_BREAKING else c for c in value)


def _to_email(message: Message, from_addr: str) -> EmailMessage:
    """Build the RFC 5322 form; refuses anything but exactly one well-formed recipient."""
    try:
        email = EmailMessage()
        email["From"] = from_addr
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Date"] = format_datetime(datetime.now(UTC))
        email["Message-ID"] = make_msgid(domain=_domain(from_addr))
        cte = None if message.text.isascii() else "quoted-printable"
        email.set_content(message.text, cte=cte)
    except ValueError as exc:
        raise MailDeliveryError(f"cannot build the message: {exc}") from None
    if len(email["To"].addresses) != 1 or email["To"].defects:
        raise MailDeliveryError("a message needs exactly one well-formed recipient")
    return email


def _domain(address: str) -> str:
    """Message-ID domain from the sender, so no hostname lookup is needed."""
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"


class FileSender:
    """Writes each message as an .eml file, for development and end-to-end tests.

    Lines end in LF, the local-storage convention (as in Maildir), so readers can match
    lines with plain regular expressions.
    """

    def __init__(self, outbox_dir: Path, from_addr: str) -> None:
        self._outbox_dir = outbox_dir
        self._from_addr = from_addr

    async def send(self, message: Message) -> None:
        data = _to_email(message, self._from_addr).as_bytes()
        try:
            await asyncio.to_thread(self._write, data)
        except OSError as exc:
            raise MailDeliveryError(f"cannot write to {self._outbox_dir}: {exc}") from exc

    def _write(self, data: bytes) -> None:
        """Write under a dot-name first so readers globbing *.eml never see half a file."""
        self._outbox_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        final = self._outbox_dir / f"{stamp}-{secrets.token_hex(8)}.eml"
        fd, temp = tempfile.mkstemp(dir=self._outbox_dir, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise


class ConsoleSender:
    """Prints messages, for local runs without any mail setup."""

    def __init__(self, from_addr: str, stream: TextIO = sys.stderr) -> None:
        self._from_addr = from_addr
        self._stream = stream

    async def send(self, message: Message) -> None:
        rule = "-" * 72
        print(
            f"{rule}\nFrom: {self._from_addr}\nTo: {message.to}\nSubject: {message.subject}\n\n"
            f"{message.text.rstrip()}\n{rule}",
            file=self._stream,
            flush=True,
        )


class SmtpSender:
    """Delivers through an SMTP relay with the blocking stdlib client, off the event loop."""

    def __init__(
        self,
        host: str,
        port: int,
        security: Literal["starttls", "tls", "none"],
        username: str | None,
        password: str | None,
        from_addr: str,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("starttls", "tls", "none"):
            raise ValueError(f"unknown SMTP security {security!r}")
        self._host = host
        self._port = port
        self._security = security
        self._username = username
        self._password = password
        self._from_addr = from_addr
        self._timeout = timeout
        self._ssl_context = ssl_context

    async def send(self, message: Message) -> None:
        email = _to_email(message, self._from_addr)
        try:
            await asyncio.to_thread(self._deliver, email)
        except UnicodeError:
            raise self._failure("a credential or address is not ASCII") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise self._failure(_describe(exc)) from exc

    def _deliver(self, email: EmailMessage) -> None:
        client = self._connect()
        try:
            if self._security == "starttls":
                client.starttls(context=self._context())
            if self._username is not None:
                client.login(self._username, self._password or "")
            client.send_message(email)
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.quit()
            client.close()

    def _connect(self) -> smtplib.SMTP:
        if self._security == "tls":
            return smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout, context=self._context()
            )
        return smtplib.SMTP(self._host, self._port, timeout=self._timeout)

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _failure(self, detail: str) -> MailDeliveryError:
        """Build the error, scrubbing the password in case a server echoed it back."""
        text = f"mail delivery via {self._host}:{self._port} failed: {detail}"
        if self._password:
            text = text.replace(self._password, "***")
        return MailDeliveryError(text)


def _describe(exc: smtplib.SMTPException | OSError) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        return f"server replied {exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}"
