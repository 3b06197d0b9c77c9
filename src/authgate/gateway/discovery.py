"""Upstream targets by DNS: which configured targets need resolving, and what a name resolves to.

A target whose host is a literal IP address or `localhost` is static (aiohttp connects to it
as before, no DNS work on the hot path). Any other host name is resolved here, off the request
path: every A/AAAA record becomes an address of the upstream (a Kubernetes headless Service),
and a `srv+http://_http._tcp.orders` target takes SRV records (host and port), the records of
the lowest priority value only; weights are ignored (the pool round-robins evenly). Answers
are trusted for their TTL, clamped to [MIN_TTL, MAX_TTL].
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

MIN_TTL = 1.0
MAX_TTL = 300.0
SRV_SCHEMES = {"srv+http": "http", "srv+https": "https"}


class ResolutionFailed(Exception):
    """The name has no usable answer right now (no records, timeout, server failure)."""


def clamp_ttl(ttl: float) -> float:
    """The seconds an answer is trusted: the record's TTL within [MIN_TTL, MAX_TTL]."""
    return min(MAX_TTL, max(MIN_TTL, float(ttl)))


@dataclass(frozen=True)
class Address:
    """One resolved endpoint of a DNS target: where to connect, and what it is called."""

    scheme: str
    ip: str
    port: int
    name: str
    """The host name the target was given by (Host header and TLS server name)."""

    @property
    def url(self) -> str:
        shown = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{self.scheme}://{shown}:{self.port}"


@dataclass(frozen=True)
class DnsTarget:
    """A configured target that needs DNS: `http(s)://name[:port]` or `srv+http(s)://name`."""

    scheme: str
    name: str
    port: int | None
    """None for SRV targets (the port comes from each record)."""

    @property
    def srv(self) -> bool:
        return self.port is None


def is_static_host(host: str) -> bool:
    """Whether a target host is used as is: a literal IP address or `localhost`."""
    if host.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_target(url: str) -> DnsTarget | None:
    """The DNS target a configured URL names, or None when it is static (IP or localhost).

    Raises ValueError for a malformed `srv+` URL (a port, a path, no name)."""
    parts = urlsplit(url)
    if parts.scheme in SRV_SCHEMES:
        if not parts.hostname:
            raise ValueError(f"target {url!r} must name an SRV record")
        if parts.port is not None:
            raise ValueError(f"target {url!r}: an SRV target takes its ports from the records")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ValueError(f"target {url!r} must be srv+http(s)://NAME, nothing else")
        return DnsTarget(SRV_SCHEMES[parts.scheme], parts.hostname.rstrip("."), None)
    host = parts.hostname or ""
    if is_static_host(host):
        return None
    default_port = 443 if parts.scheme == "https" else 80
    return DnsTarget(parts.scheme, host, parts.port or default_port)


def make_resolver(nameservers: list[str]) -> dns.asyncresolver.Resolver:
    """The system resolver, or one asking `nameservers` ("IP" or "IP:PORT") only."""
    if not nameservers:
        return dns.asyncresolver.Resolver()
    resolver = dns.asyncresolver.Resolver(configure=False)
    servers: list[str | dns.nameserver.Nameserver] = []
    for entry in nameservers:
        ip, port = split_nameserver(entry)
        servers.append(dns.nameserver.Do53Nameserver(ip, port))
    resolver.nameservers = servers
    resolver.lifetime = 2.0
    return resolver


def split_nameserver(entry: str) -> tuple[str, int]:
    """("IP", port) of "IP", "IP:PORT" or "[IPv6]:PORT"; ValueError when it is neither."""
    text = entry.strip()
    port = 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = int(rest.removeprefix(":"))
        text = host
    elif text.count(":") == 1:
        text, _, raw = text.partition(":")
        port = int(raw)
    ipaddress.ip_address(text)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range")
    return text, port


async def resolve(
    resolver: dns.asyncresolver.Resolver, target: DnsTarget
) -> tuple[list[Address], float]:
    """Every address of the target now, and how long the answer holds (clamped)."""
    if target.srv:
        return await _resolve_srv(resolver, target)
    assert target.port is not None
    ips, ttl = await _addresses(resolver, target.name)
    return [Address(target.scheme, ip, target.port, target.name) for ip in ips], ttl


async def _addresses(resolver: dns.asyncresolver.Resolver, name: str) -> tuple[list[str], float]:
    """The A and AAAA records of `name` (either may be absent, not both)."""
    found: list[str] = []
    ttls: list[float] = []
    for kind in (dns.rdatatype.A, dns.rdatatype.AAAA):
        try:
            answer = await resolver.resolve(name, kind, search=False)
        except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
            continue
        except (dns.exception.DNSException, OSError) as exc:
            raise ResolutionFailed(f"{name}: {type(exc).__name__}") from None
        found.extend(sorted(record.address for record in answer))
        ttls.append(answer.rrset.ttl if answer.rrset is not None else MIN_TTL)
    if not found:
        raise ResolutionFailed(f"{name}: no A or AAAA record")
    return found, clamp_ttl(min(ttls))


async def _resolve_srv(
    resolver: dns.asyncresolver.Resolver, target: DnsTarget
) -> tuple[list[Address], float]:
    try:
        answer = await resolver.resolve(target.name, dns.rdatatype.SRV, search=False)
    except dns.exception.DNSException as exc:
        raise ResolutionFailed(f"{target.name}: {type(exc).__name__}") from None
    ttl = float(answer.rrset.ttl if answer.rrset is not None else MIN_TTL)
    records = sorted(answer, key=lambda record: (record.priority, str(record.target)))
    # The lowest priority value whose hosts resolve wins; higher values are fallbacks.
    for priority in sorted({record.priority for record in records}):
        addresses: list[Address] = []
        for record in records:
            if record.priority != priority:
                continue
            host = str(record.target).rstrip(".")
            try:
                ips, host_ttl = await _addresses(resolver, host)
            except ResolutionFailed:
                continue
            ttl = min(ttl, host_ttl)
            addresses.extend(Address(target.scheme, ip, record.port, host) for ip in ips)
        if addresses:
            return addresses, clamp_ttl(ttl)
    raise ResolutionFailed(f"{target.name}: no SRV target resolves")
