"""Mail templates and senders, with SMTP delivery checked against a real local server."""

from __future__ import annotations

import io
import re
import ssl
import stat
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from importlib import resources
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from authgate.identity.mail import (
    ConsoleSender,
    FileSender,
    MailDeliveryError,
    Message,
    SmtpSender,
    TemplateError,
    Templates,
)
from tests.ports import free_port

CODE_LINE = re.compile(r"^\d{6}$", re.MULTILINE)
COMMON = {"username": "alice", "pool_name": "Acme Users"}
FROM = "Acme <noreply@acme.test>"
TO = "alice@acme.test"
LOGIN = "mailer"
PASSWORD = "Sup3r-Secret-Relay-Pw"

CODE_TEMPLATES = ["signup_code", "reset_code", "verify_email"]
ALL_TEMPLATES = {
    "signup_code",
    "account_exists",
    "reset_code",
    "verify_email",
    "invitation",
    "password_changed",
}


# --- templates ---------------------------------------------------------------------------


def test_every_shipped_template_is_known() -> None:
    folder = resources.files("authgate.identity").joinpath("templates")
    shipped = {p.name.removesuffix(".txt") for p in folder.iterdir() if p.name.endswith(".txt")}
    assert shipped == ALL_TEMPLATES


@pytest.mark.parametrize("name", CODE_TEMPLATES)
def test_code_stands_on_its_own_line(name: str) -> None:
    message = Templates().render(name, TO, code="048213", **COMMON)
    assert message.to == TO
    assert "Acme Users" in message.subject
    assert CODE_LINE.findall(message.text) == ["048213"]
    assert "$" not in message.text + message.subject


@pytest.mark.parametrize("name", ["signup_code", "verify_email"])
def test_mail_to_an_unverified_address_carries_no_username(name: str) -> None:
    """These go to an address nobody has verified yet: the requester's words stay out."""
    message = Templates().render(name, TO, code="048213", **COMMON)
    assert "alice" not in message.text + message.subject


def test_account_exists_has_no_code_and_suggests_reset() -> None:
    message = Templates().render("account_exists", TO, **COMMON)
    assert CODE_LINE.search(message.text) is None
    assert "alice" in message.text
    assert "ignore" in message.text
    assert "reset" in message.text


@pytest.mark.parametrize("temporary_password", ["Tmp-9xQ!w2", ""])
def test_invitation_puts_the_temporary_password_on_its_own_line(temporary_password: str) -> None:
    message = Templates().render("invitation", TO, temporary_password=temporary_password, **COMMON)
    lines = message.text.splitlines()
    assert temporary_password in lines
    assert "alice" in message.text
    assert "Acme Users" in message.subject


def test_password_changed_renders() -> None:
    message = Templates().render("password_changed", TO, **COMMON)
    assert "changed" in message.subject
    assert "alice" in message.text


def test_context_values_cannot_forge_lines() -> None:
    message = Templates().render(
        "signup_code", TO, code="111111", username="eve\n999999\u2028x", pool_name="P\r\nQ"
    )
    assert CODE_LINE.findall(message.text) == ["111111"]
    assert "\n" not in message.subject and "\r" not in message.subject


def test_override_dir_wins_and_others_fall_back(tmp_path: Path) -> None:
    (tmp_path / "signup_code.txt").write_text(
        "Subject: Welcome to $pool_name\n\nHi $username, your code:\n$code\n", encoding="utf-8"
    )
    templates = Templates(tmp_path)
    custom = templates.render("signup_code", TO, code="123456", **COMMON)
    assert custom.subject == "Welcome to Acme Users"
    assert custom.text == "Hi alice, your code:\n123456\n"
    fallback = templates.render("reset_code", TO, code="654321", **COMMON)
    assert CODE_LINE.findall(fallback.text) == ["654321"]


def test_missing_placeholder_names_template_and_key() -> None:
    with pytest.raises(TemplateError) as caught:
        Templates().render("reset_code", TO, **COMMON)
    assert "reset_code" in str(caught.value)
    assert "code" in str(caught.value).replace("reset_code", "")


@pytest.mark.parametrize("name", ["nope", "../signup_code", "Signup_Code", ""])
def test_unknown_or_invalid_template_name(name: str) -> None:
    with pytest.raises(TemplateError):
        Templates().render(name, TO, **COMMON)


def test_override_without_subject_line_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "password_changed.txt").write_text("Hello $username\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="password_changed"):
        Templates(tmp_path).render("password_changed", TO, **COMMON)


# --- file and console senders --------------------------------------------------------------


def _parse(raw: bytes) -> EmailMessage:
    parsed = BytesParser(policy=default_policy).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def test_file_sender_writes_a_private_parseable_eml(tmp_path: Path) -> None:
    outbox = tmp_path / "mail" / "outbox"
    message = Templates().render("signup_code", TO, code="777123", **COMMON)
    await FileSender(outbox, FROM).send(message)

    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
    files = list(outbox.iterdir())
    assert len(files) == 1 and files[0].suffix == ".eml"
    assert re.fullmatch(r"\d{8}T\d{12}Z-[0-9a-f]{16}\.eml", files[0].name)
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600

    raw = files[0].read_bytes()
    assert CODE_LINE.findall(raw.decode("ascii")) == ["777123"]
    parsed = _parse(raw)
    assert parsed["From"] == FROM
    assert parsed["To"] == TO
    assert parsed["Subject"] == message.subject
    assert parsed["Date"].datetime.tzinfo is not None
    assert re.fullmatch(r"<.+@acme\.test>", parsed["Message-ID"])
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content_charset() == "utf-8"
    assert parsed.get_content() == message.text


async def test_file_sender_keeps_non_ascii_text_and_names_files_uniquely(tmp_path: Path) -> None:
    sender = FileSender(tmp_path, FROM)
    message = Message(to=TO, subject="Grüße", text="Héllo\n\n314159\n")
    await sender.send(message)
    await sender.send(message)
    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 2
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".eml")] == []
    parsed = _parse(files[0].read_bytes())
    assert parsed["Subject"] == "Grüße"
    assert parsed.get_content() == message.text
    assert CODE_LINE.search(files[0].read_bytes().decode("ascii")) is not None


@pytest.mark.parametrize(
    "to", ["alice@acme.test, mallory@evil.test", "alice@acme.test\r\nBcc: mallory@evil.test"]
)
async def test_file_sender_refuses_anything_but_one_recipient(tmp_path: Path, to: str) -> None:
    with pytest.raises(MailDeliveryError):
        await FileSender(tmp_path, FROM).send(Message(to=to, subject="s", text="t\n"))
    assert list(tmp_path.glob("*.eml")) == []


async def test_console_sender_prints_the_message() -> None:
    stream = io.StringIO()
    await ConsoleSender(FROM, stream).send(Message(to=TO, subject="Hi there", text="Code:\n\n5\n"))
    out = stream.getvalue()
    assert f"From: {FROM}" in out
    assert f"To: {TO}" in out
    assert "Subject: Hi there" in out
    assert "Code:\n\n5\n" in out


# --- SMTP sender against a real aiosmtpd server --------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throw-away self-signed certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def server_tls(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_files)
    return context


@pytest.fixture
def client_tls(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_files[0]))


class Inbox:
    """aiosmtpd handler keeping every accepted envelope."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def only_message(self) -> EmailMessage:
        assert len(self.envelopes) == 1
        content = self.envelopes[0].content
        assert isinstance(content, bytes)
        parsed = message_from_bytes(content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        return parsed


class Authenticator:
    """Accepts LOGIN/PASSWORD only, remembering which mechanism the client used."""

    def __init__(self) -> None:
        self.mechanisms: list[str] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.mechanisms.append(mechanism)
        ok = isinstance(auth_data, LoginPassword) and auth_data == (
            LOGIN.encode(),
            PASSWORD.encode(),
        )
        return AuthResult(success=ok, handled=False)


StartServer = Callable[..., tuple[Inbox, int]]


@pytest.fixture
def smtp_server() -> Iterator[StartServer]:
    """Start aiosmtpd on 127.0.0.1 with the given Controller options; stop it afterwards."""
    controllers: list[Controller] = []

    def start(**options: Any) -> tuple[Inbox, int]:
        inbox, port = Inbox(), free_port()
        controller = Controller(
            inbox, hostname="127.0.0.1", port=port, server_hostname="localhost", **options
        )
        controller.start()
        controllers.append(controller)
        return inbox, port

    yield start
    for controller in controllers:
        controller.stop()


def _sender(port: int, security: Any = "none", **options: Any) -> SmtpSender:
    settings: dict[str, Any] = {"username": None, "password": None} | options
    return SmtpSender("127.0.0.1", port, security, from_addr=FROM, timeout=5.0, **settings)


def _signup() -> Message:
    return Templates().render("signup_code", TO, code="246810", **COMMON)


def _assert_delivered(inbox: Inbox) -> None:
    assert inbox.envelopes[0].rcpt_tos == [TO]
    assert inbox.envelopes[0].mail_from == "noreply@acme.test"
    received = inbox.only_message()
    assert received["To"] == TO
    assert received["Subject"] == "Your Acme Users confirmation code"
    assert CODE_LINE.findall(received.get_content().replace("\r\n", "\n")) == ["246810"]


async def test_smtp_plain(smtp_server: StartServer) -> None:
    inbox, port = smtp_server()
    await _sender(port).send(_signup())
    _assert_delivered(inbox)


async def test_smtp_starttls(
    smtp_server: StartServer, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    inbox, port = smtp_server(tls_context=server_tls, require_starttls=True)
    await _sender(port, "starttls", ssl_context=client_tls).send(_signup())
    _assert_delivered(inbox)


async def test_smtp_implicit_tls(
    smtp_server: StartServer, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    inbox, port = smtp_server(ssl_context=server_tls)
    await _sender(port, "tls", ssl_context=client_tls).send(_signup())
    _assert_delivered(inbox)


async def test_smtp_starttls_verifies_the_server_certificate(
    smtp_server: StartServer, server_tls: ssl.SSLContext
) -> None:
    inbox, port = smtp_server(tls_context=server_tls, require_starttls=True)
    with pytest.raises(MailDeliveryError):
        await _sender(port, "starttls").send(_signup())
    assert inbox.envelopes == []


async def test_smtp_plain_is_refused_where_starttls_is_required(
    smtp_server: StartServer, server_tls: ssl.SSLContext
) -> None:
    inbox, port = smtp_server(tls_context=server_tls, require_starttls=True)
    with pytest.raises(MailDeliveryError, match="530"):
        await _sender(port).send(_signup())
    assert inbox.envelopes == []


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
async def test_smtp_auth(
    smtp_server: StartServer,
    server_tls: ssl.SSLContext,
    client_tls: ssl.SSLContext,
    mechanism: str,
) -> None:
    authenticator = Authenticator()
    other = "PLAIN" if mechanism == "LOGIN" else "LOGIN"
    inbox, port = smtp_server(
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=True,
        auth_exclude_mechanism=[other],
    )
    sender = _sender(port, "starttls", username=LOGIN, password=PASSWORD, ssl_context=client_tls)
    await sender.send(_signup())
    assert authenticator.mechanisms == [mechanism]
    _assert_delivered(inbox)


async def test_smtp_wrong_password_does_not_leak_it(
    smtp_server: StartServer, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    wrong = "Wr0ng-Password-Never-Shown"
    inbox, port = smtp_server(
        tls_context=server_tls,
        require_starttls=True,
        authenticator=Authenticator(),
        auth_required=True,
        auth_require_tls=True,
    )
    sender = _sender(port, "starttls", username=LOGIN, password=wrong, ssl_context=client_tls)
    with pytest.raises(MailDeliveryError) as caught:
        await sender.send(_signup())
    assert "535" in str(caught.value)
    assert wrong not in str(caught.value)
    assert wrong not in "".join(traceback.format_exception(caught.value))
    assert inbox.envelopes == []


async def test_smtp_without_credentials_is_refused_where_auth_is_required(
    smtp_server: StartServer, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    inbox, port = smtp_server(
        tls_context=server_tls,
        require_starttls=True,
        authenticator=Authenticator(),
        auth_required=True,
    )
    with pytest.raises(MailDeliveryError):
        await _sender(port, "starttls", ssl_context=client_tls).send(_signup())
    assert inbox.envelopes == []


async def test_smtp_connection_refused() -> None:
    with pytest.raises(MailDeliveryError, match=r"127\.0\.0\.1"):
        await _sender(free_port()).send(_signup())


def test_smtp_rejects_unknown_security() -> None:
    with pytest.raises(ValueError, match="security"):
        _sender(25, "ssl")
