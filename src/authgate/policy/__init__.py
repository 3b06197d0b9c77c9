"""Policies: Ladon-shaped documents, their patterns and conditions, and the decider.

Domain code: it knows nothing of HTTP or SQL. The store keeps documents as JSON; services
compile them into a `Decider` and ask it.
"""

from authgate.policy.access import (
    NO_MATCH,
    AccessDecision,
    AccessRequest,
    PolicyMatch,
    subjects_for,
)
from authgate.policy.decider import Decider
from authgate.policy.documents import (
    ConditionSpec,
    PolicyDocument,
    document_json,
    parse_document,
)
from authgate.policy.errors import ALL_POLICY_ERRORS, PolicyInvalid, PolicyNotFound

__all__ = [
    "ALL_POLICY_ERRORS",
    "NO_MATCH",
    "AccessDecision",
    "AccessRequest",
    "ConditionSpec",
    "Decider",
    "PolicyDocument",
    "PolicyInvalid",
    "PolicyMatch",
    "PolicyNotFound",
    "document_json",
    "parse_document",
    "subjects_for",
]
