"""Whether a TCP peer is one of `gateway.trusted_proxies`, remembered per address.

Asked on every request (for the request id, and by forward-auth and Envoy's ext_authz),
and parsing an address costs more than the rest of a cached decision's bookkeeping; the
peers a server sees are few (its proxies, its clients), so the answers are kept, up to
CACHE_MAX addresses, after which the memory starts over.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
CACHE_MAX = 1024


class TrustedPeers:
    def __init__(self, networks: Sequence[Network]) -> None:
        self.networks = tuple(networks)
        self._known: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, peer: str | None) -> bool:
        if peer is None or not self.networks:
            return False
        known = self._known.get(peer)
        if known is None:
            if len(self._known) >= CACHE_MAX:
                self._known.clear()
            try:
                address = ipaddress.ip_address(peer)
            except ValueError:
                known = False
            else:
                known = any(address in network for network in self.networks)
            self._known[peer] = known
        return known
