"""Who a request speaks for, as the authenticate stage found out.

The later stages (authorize, mutate) read only this, never the credential, so every
authenticator feeds them the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Principal:
    """`method` names the authenticator that vouched; `subject` is None only for anonymous."""

    method: str
    subject: str | None = None
    client_id: str | None = None
    username: str | None = None
    scopes: frozenset[str] = frozenset()
    groups: tuple[str, ...] = ()
    claims: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def is_anonymous(self) -> bool:
        return self.subject is None and self.client_id is None


ANONYMOUS = Principal(method="anonymous")
