"""What a decision is asked about, and what it answers.

Kept apart from the decider so that conditions, which look at the request, do not import
the engine that calls them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

GROUP_PREFIX = "group:"


@dataclass(frozen=True)
class AccessRequest:
    """`subject` is the primary name (user sub, or client id for machines); `subjects` is
    every name it goes by, groups as `group:<name>`. Policies match any of them."""

    subject: str
    subjects: tuple[str, ...]
    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyMatch:
    """A policy whose subject, action and resource patterns all matched the request."""

    policy_id: str
    effect: str
    conditions_held: bool  # False: the patterns matched but a condition failed


@dataclass(frozen=True)
class AccessDecision:
    allowed: bool
    reason: str  # the deciding policy's id, or NO_MATCH
    matches: tuple[PolicyMatch, ...]


NO_MATCH = "no_match"


def subjects_for(sub: str | None, client_id: str | None, groups: Iterable[str]) -> tuple[str, ...]:
    """Every name a caller goes by: its sub, its client id, and `group:<name>` per group."""
    names: list[str] = []
    for name in (sub, client_id, *(GROUP_PREFIX + group for group in groups)):
        if name and name not in names:
            names.append(name)
    return tuple(names)
