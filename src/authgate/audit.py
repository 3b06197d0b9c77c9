"""Who asked, and the audit events the domain records about them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from authgate.store import Transaction
from authgate.store.records import AuditRecord


@dataclass(frozen=True)
class Caller:
    """Where a request came from, as the adapter saw it."""

    ip: str | None = None
    user_agent: str | None = None
    client_id: str | None = None
    """The client the request came through, when the adapter knows it (for hooks)."""
    validation_data: tuple[tuple[str, str], ...] = ()
    """Pass-through data for lifecycle hooks (Cognito's ValidationData); never audited."""
    client_metadata: tuple[tuple[str, str], ...] = ()
    """Pass-through data for lifecycle hooks (ClientMetadata); never audited."""


SYSTEM = Caller(ip=None, user_agent="authgate")


async def record(
    tx: Transaction,
    event: str,
    caller: Caller,
    *,
    sub: str | None = None,
    client_id: str | None = None,
    **detail: Any,
) -> None:
    await tx.audit.add(
        AuditRecord(
            event=event,
            at=time.time(),
            sub=sub,
            client_id=client_id,
            ip=caller.ip,
            user_agent=(caller.user_agent or "")[:512] or None,
            detail=detail,
        )
    )
