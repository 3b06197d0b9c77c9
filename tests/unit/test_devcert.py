"""`authgate dev-cert`: the pair it writes, the names it covers, and what it refuses."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from authgate.cli import app
from authgate.cli.devcert import DevCertError, write_dev_cert


def certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def san(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(names.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    return dns, ips


def test_the_certificate_names_loopback_by_default(tmp_path: Path) -> None:
    made = write_dev_cert(tmp_path, [], 30, force=False)
    assert san(certificate(made.cert)) == ({"localhost"}, {"127.0.0.1", "::1"})


def test_given_hosts_are_added_as_dns_names_or_ip_addresses(tmp_path: Path) -> None:
    made = write_dev_cert(tmp_path, ["api.example.com", "*.apps.test", "10.0.0.7"], 30, False)
    dns, ips = san(certificate(made.cert))
    assert dns == {"localhost", "api.example.com", "*.apps.test"}
    assert ips == {"127.0.0.1", "::1", "10.0.0.7"}


def test_the_certificate_is_valid_now_for_the_given_days(tmp_path: Path) -> None:
    cert = certificate(write_dev_cert(tmp_path, [], 10, False).cert)
    now = datetime.now(UTC)
    assert cert.not_valid_before_utc <= now
    assert now + timedelta(days=9) < cert.not_valid_after_utc <= now + timedelta(days=10)


def test_the_certificate_is_for_tls_servers_only(tmp_path: Path) -> None:
    cert = certificate(write_dev_cert(tmp_path, [], 30, False).cert)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]


def test_the_key_fits_the_certificate(tmp_path: Path) -> None:
    made = write_dev_cert(tmp_path, [], 30, False)
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(made.cert, made.key)


def test_the_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    made = write_dev_cert(tmp_path, [], 30, False)
    assert stat.S_IMODE(made.key.stat().st_mode) == 0o600


def test_an_existing_pair_is_not_replaced_without_force(tmp_path: Path) -> None:
    first = write_dev_cert(tmp_path, [], 30, False)
    before = first.cert.read_bytes(), first.key.read_bytes()
    with pytest.raises(DevCertError, match="--force"):
        write_dev_cert(tmp_path, [], 30, False)
    assert (first.cert.read_bytes(), first.key.read_bytes()) == before


def test_an_existing_key_alone_also_blocks_writing(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text("mine")
    with pytest.raises(DevCertError, match="key.pem"):
        write_dev_cert(tmp_path, [], 30, False)
    assert (tmp_path / "key.pem").read_text() == "mine"
    assert not (tmp_path / "cert.pem").exists()


def test_force_replaces_the_pair_and_keeps_the_key_private(tmp_path: Path) -> None:
    first = write_dev_cert(tmp_path, [], 30, False)
    old_cert = first.cert.read_bytes()
    first.key.chmod(0o644)
    second = write_dev_cert(tmp_path, [], 30, True)
    assert second.cert.read_bytes() != old_cert
    assert stat.S_IMODE(second.key.stat().st_mode) == 0o600
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(second.cert, second.key)


@pytest.mark.parametrize(
    "host",
    [
        "bad name",
        "-leading.example",
        "a..b",
        "under_score.example",
        " api.example.com",
        "api.example.com\t",
        "fe80::1%eth0",
    ],
)
def test_a_host_that_is_no_dns_name_or_ip_is_refused(tmp_path: Path, host: str) -> None:
    with pytest.raises(DevCertError, match="--host"):
        write_dev_cert(tmp_path, [host], 30, False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("days", [0, 826])
def test_days_outside_1_to_825_are_refused(tmp_path: Path, days: int) -> None:
    with pytest.raises(DevCertError, match="--days"):
        write_dev_cert(tmp_path, [], days, False)


def test_the_command_prints_a_yaml_snippet_pointing_at_the_pair(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dev-cert", "--out", str(tmp_path / "tls")])
    assert result.exit_code == 0, result.output
    snippet = yaml.safe_load(result.stdout)
    tls = snippet["public"]["tls"]
    assert Path(tls["cert"]) == (tmp_path / "tls" / "cert.pem").resolve()
    assert Path(tls["key"]) == (tmp_path / "tls" / "key.pem").resolve()
    assert x509.load_pem_x509_certificate(Path(tls["cert"]).read_bytes())


def test_the_command_fails_with_exit_1_when_the_pair_exists(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["dev-cert", "--out", str(tmp_path)]).exit_code == 0
    again = runner.invoke(app, ["dev-cert", "--out", str(tmp_path), "--host", "x.test"])
    assert again.exit_code == 1
    assert "--force" in again.stderr
    dns, _ = san(certificate(tmp_path / "cert.pem"))
    assert "x.test" not in dns


def test_ipv6_hosts_are_normalized_ip_addresses(tmp_path: Path) -> None:
    made = write_dev_cert(tmp_path, ["2001:DB8::1"], 30, False)
    _, ips = san(certificate(made.cert))
    assert ipaddress.ip_address("2001:db8::1").compressed in ips


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
DNS_NAMES = st.lists(LABEL, min_size=1, max_size=4).map(".".join)
TMP_PATH_IS_FINE = [HealthCheck.function_scoped_fixture]  # examples overwrite or write nothing


@settings(max_examples=30, deadline=None, suppress_health_check=TMP_PATH_IS_FINE)
@given(name=DNS_NAMES)
def test_any_dns_name_given_is_in_the_certificate(tmp_path: Path, name: str) -> None:
    made = write_dev_cert(tmp_path, [name.upper()], 1, force=True)
    dns, ips = san(certificate(made.cert))
    assert name in ips if is_ip(name) else name in dns


@settings(max_examples=60, deadline=None, suppress_health_check=TMP_PATH_IS_FINE)
@given(name=st.text(min_size=1, max_size=30).filter(lambda s: any(c in s for c in " _/:@\\\x00")))
def test_a_name_with_characters_no_host_has_is_refused(tmp_path: Path, name: str) -> None:
    if is_ip(name.strip().lower()):
        return  # an IPv6 address legitimately holds ':'
    with pytest.raises(DevCertError):
        write_dev_cert(tmp_path / "never", [name], 1, force=False)
    assert not (tmp_path / "never").exists()
