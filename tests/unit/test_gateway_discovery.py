"""Targets by DNS without a network: the TTL clamp, which targets need DNS, the `srv+` URL
and nameserver parsing, and configuration mistakes named by their key."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from authgate.config import ConfigError, load_settings
from authgate.gateway.discovery import (
    MAX_TTL,
    MIN_TTL,
    Address,
    DnsTarget,
    clamp_ttl,
    parse_target,
    split_nameserver,
)

LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


# Host names, never an IP address in dotted form ("0.0.0.0" is made of labels too).
NAME = (
    st.lists(LABEL, min_size=1, max_size=4)
    .map(".".join)
    .filter(lambda n: n != "localhost" and not _is_ip(n))
)
SERVICE = st.tuples(LABEL, st.sampled_from(["tcp", "udp"]), NAME).map(
    lambda parts: f"_{parts[0]}._{parts[1]}.{parts[2]}"
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("AUTHGATE_"):
            monkeypatch.delenv(name)
    yield


@given(st.floats(min_value=0, max_value=10**9, allow_nan=False))
def test_the_ttl_is_clamped_to_one_second_and_five_minutes(ttl: float) -> None:
    clamped = clamp_ttl(ttl)
    assert MIN_TTL <= clamped <= MAX_TTL
    if MIN_TTL <= ttl <= MAX_TTL:
        assert clamped == ttl


def test_the_ttl_bounds_are_one_second_and_five_minutes() -> None:
    assert (clamp_ttl(0), clamp_ttl(86400)) == (1.0, 300.0)


@given(SERVICE, st.sampled_from(["http", "https"]))
def test_an_srv_url_names_its_record_and_scheme(service: str, scheme: str) -> None:
    assert parse_target(f"srv+{scheme}://{service}") == DnsTarget(scheme, service, None)


@given(SERVICE, st.integers(min_value=1, max_value=65535))
def test_an_srv_url_with_a_port_is_refused(service: str, port: int) -> None:
    with pytest.raises(ValueError, match="ports from the records"):
        parse_target(f"srv+http://{service}:{port}")


@given(NAME, st.integers(min_value=1, max_value=65535))
def test_a_host_name_target_needs_dns_at_its_port(name: str, port: int) -> None:
    assert parse_target(f"https://{name}:{port}") == DnsTarget("https", name, port)


def test_a_host_name_without_a_port_takes_the_scheme_default() -> None:
    assert parse_target("http://orders") == DnsTarget("http", "orders", 80)
    assert parse_target("https://orders") == DnsTarget("https", "orders", 443)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9000", "http://[::1]:9000", "https://10.0.0.7", "http://localhost:80"]
)
def test_literal_addresses_and_localhost_need_no_dns(url: str) -> None:
    assert parse_target(url) is None


@pytest.mark.parametrize(
    "url", ["srv+http://", "srv+http://_x._tcp.a/path", "srv+https://u@_x._tcp.a"]
)
def test_malformed_srv_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse_target(url)


def test_a_resolved_address_keeps_the_name_it_was_given_by() -> None:
    address = Address("https", "2001:db8::1", 8443, "orders")
    assert address.url == "https://[2001:db8::1]:8443"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:5353", ("::1", 5353)),
        ("::1", ("::1", 53)),
    ],
)
def test_nameservers_are_ip_or_ip_and_port(entry: str, expected: tuple[str, int]) -> None:
    assert split_nameserver(entry) == expected


def problems(tmp_path: Path, section: dict[str, Any]) -> list[str]:
    path = tmp_path / "authgate.yaml"
    path.write_text(yaml.safe_dump({"gateway": section}), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return caught.value.problems


def test_an_srv_target_with_a_port_is_named_by_its_key(tmp_path: Path) -> None:
    section = {"upstreams": {"app": {"targets": ["srv+http://_http._tcp.app:80"]}}}
    (problem,) = problems(tmp_path, section)
    assert problem.startswith("gateway.upstreams.app.targets: "), problem
    assert "ports from the records" in problem


def test_a_bad_nameserver_is_named_by_its_key(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, {"dns": {"nameservers": ["dns.example:53"]}})
    assert problem.startswith("gateway.dns.nameservers: "), problem
    assert "'dns.example:53'" in problem


def test_dns_targets_and_nameservers_load(tmp_path: Path) -> None:
    path = tmp_path / "authgate.yaml"
    section = {
        "dns": {"nameservers": ["127.0.0.1:5353"]},
        "upstreams": {"app": {"targets": ["http://orders:8080", "srv+https://_https._tcp.orders"]}},
    }
    path.write_text(yaml.safe_dump({"gateway": section}), encoding="utf-8")
    loaded = load_settings(path).gateway
    assert loaded.dns.nameservers == ["127.0.0.1:5353"]
    assert loaded.upstreams["app"].targets == [
        "http://orders:8080",
        "srv+https://_https._tcp.orders",
    ]


@pytest.mark.parametrize("address", ["0.0.0.0", "10.1.2.3", "[2001:db8::1]"])
def test_a_literal_address_at_any_port_needs_no_dns(address: str) -> None:
    assert parse_target(f"https://{address}:8443") is None
