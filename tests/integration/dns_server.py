"""A small authoritative DNS server on loopback whose answers a test changes as it runs.

Built on dnslib's threaded server (UDP). Records are set per (name, type); `failing`
turns every answer into SERVFAIL, and `failures` counts those answers, so a test can wait
until the gate has asked while the server was failing.
"""

from __future__ import annotations

import threading
from typing import Any

from dnslib import AAAA, QTYPE, RCODE, RR, SRV, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

TTL = 1


class Zone(BaseResolver):  # type: ignore[misc]
    """The records served now; replaced whole by `set_*`, read by the server thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], list[RR]] = {}
        self.failing = False
        self.failures = 0

    def set_a(self, name: str, addresses: list[str]) -> None:
        self._set(name, "A", [RR(name, QTYPE.A, rdata=A(ip), ttl=TTL) for ip in addresses])

    def set_aaaa(self, name: str, addresses: list[str]) -> None:
        rrs = [RR(name, QTYPE.AAAA, rdata=AAAA(ip), ttl=TTL) for ip in addresses]
        self._set(name, "AAAA", rrs)

    def set_srv(self, name: str, records: list[tuple[int, int, int, str]]) -> None:
        """`records`: (priority, weight, port, target host)."""
        rrs = [
            RR(name, QTYPE.SRV, rdata=SRV(priority, weight, port, host), ttl=TTL)
            for priority, weight, port, host in records
        ]
        self._set(name, "SRV", rrs)

    def _set(self, name: str, kind: str, rrs: list[RR]) -> None:
        with self._lock:
            self._records[(name.rstrip(".").lower(), kind)] = rrs

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        if self.failing:
            with self._lock:
                self.failures += 1
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        name = str(request.q.qname).rstrip(".").lower()
        with self._lock:
            answers = list(self._records.get((name, QTYPE[request.q.qtype]), []))
        for rr in answers:
            reply.add_answer(rr)
        return reply


class LoopbackDns:
    """The server on 127.0.0.1 at a free UDP port, serving `zone`."""

    def __init__(self) -> None:
        self.zone = Zone()
        quiet = DNSLogger("-recv,-send,-request,-reply,-truncated,-error,-data")
        self._server = DNSServer(self.zone, address="127.0.0.1", port=0, logger=quiet)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server.server_address[1]}"

    def start(self) -> LoopbackDns:
        self._server.start_thread()
        return self

    def stop(self) -> None:
        self._server.stop()
