"""`authgate dev-cert`: a self-signed certificate and key for trying TLS listeners locally.

The certificate names localhost, 127.0.0.1 and ::1 (and any `--host`), so a client that
trusts this one file (`curl --cacert`, httpx `verify=`) can reach every loopback listener.
It is for development only: nothing chains to a public root.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
MAX_DAYS = 825
"""The longest validity Apple platforms accept for a TLS server certificate."""

_DNS_NAME = re.compile(
    r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
)


class DevCertError(Exception):
    """The pair cannot be written as asked (a file exists, a bad host name)."""


@dataclass(frozen=True)
class DevCert:
    cert: Path
    key: Path
    names: list[str]
    not_after: datetime


def _subject_names(hosts: list[str]) -> tuple[list[str], list[x509.GeneralName]]:
    """The names as given (lower-cased: DNS is case-blind), each a DNS name or an IP address.

    Nothing else is trimmed or repaired: a name with a space, even at an end, is refused
    rather than silently becoming another name than the one asked for."""
    names = list(dict.fromkeys([*DEFAULT_HOSTS, *(host.lower() for host in hosts)]))
    general: list[x509.GeneralName] = []
    for name in names:
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            pass
        else:
            if getattr(address, "scope_id", None):
                raise DevCertError(f"--host {name!r}: a certificate cannot name a scoped address")
            general.append(x509.IPAddress(address))
            continue
        if len(name) > 253 or not _DNS_NAME.fullmatch(name):
            raise DevCertError(f"--host {name!r} is neither a DNS name nor an IP address")
        general.append(x509.DNSName(name))
    return names, general


def _certificate(
    key: ec.EllipticCurvePrivateKey, general: list[x509.GeneralName], days: int
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "authgate development")])
    now = datetime.now(UTC)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(general), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _write(path: Path, data: bytes, mode: int, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    fd = os.open(path, flags, mode)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), mode)  # an overwritten file keeps its old mode otherwise
        handle.write(data)


def write_dev_cert(out: Path, hosts: list[str], days: int, force: bool) -> DevCert:
    """Write `cert.pem` and `key.pem` (0600) into `out`; never replace files unless `force`."""
    if not 1 <= days <= MAX_DAYS:
        raise DevCertError(f"--days must be between 1 and {MAX_DAYS}")
    names, general = _subject_names(hosts)
    cert_path, key_path = out / "cert.pem", out / "key.pem"
    existing = [str(path) for path in (cert_path, key_path) if path.exists()]
    if existing and not force:
        raise DevCertError(f"{' and '.join(existing)} already exist; --force replaces them")
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _certificate(key, general, days)
    out.mkdir(parents=True, exist_ok=True)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(key_path, key_pem, 0o600, force)
    _write(cert_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644, force)
    return DevCert(cert_path, key_path, names, certificate.not_valid_after_utc)


def dev_cert(
    out: Annotated[Path, typer.Option("--out", help="Directory for cert.pem and key.pem.")] = Path(
        "./.authgate/tls"
    ),
    host: Annotated[
        list[str] | None,
        typer.Option("--host", help="Another name or IP for the certificate (repeatable)."),
    ] = None,
    days: Annotated[int, typer.Option("--days", help=f"Validity, 1-{MAX_DAYS} days.")] = 365,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing pair.")] = False,
) -> None:
    """Write a self-signed TLS certificate and key for local development."""
    try:
        made = write_dev_cert(out, host or [], days, force)
    except (DevCertError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    cert, key = made.cert.resolve(), made.key.resolve()
    typer.echo(
        f"Wrote {cert} and {key} (the key 0600), valid until {made.not_after:%Y-%m-%d} for "
        f"{', '.join(made.names)}.\nClients trust it with e.g. `curl --cacert {cert}`. "
        "The same `tls:` goes on admin or on an entry of gateway.listen:",
        err=True,
    )
    # JSON strings are YAML scalars: any path quotes safely.
    typer.echo(f"public:\n  tls: {{cert: {json.dumps(str(cert))}, key: {json.dumps(str(key))}}}")
