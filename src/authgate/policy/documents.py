"""Policy documents in Ladon's JSON shape, validated whole before anything stores them.

A Hydra or Ladon export imports unchanged: the same field names, the same `<regex>`
patterns, the same `{"type": ..., "options": {...}}` conditions. Every document that exists
as a `PolicyDocument` has compiled: its patterns are within bounds and each condition is of
a known type with good options, so the decider never meets a policy it cannot evaluate.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from authgate.policy.conditions import ConditionOptionsError, build_condition
from authgate.policy.errors import PolicyInvalid
from authgate.policy.patterns import pattern_problems

MAX_ID_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 2000
MAX_CONDITIONS = 32
MAX_CONDITION_KEY_LENGTH = 128
PATTERN_FIELDS = ("subjects", "actions", "resources")


class ConditionSpec(BaseModel):
    """One condition as written: its Ladon type name and that type's options."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    options: dict[str, Any] = Field(default_factory=dict)


class PolicyDocument(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    description: str = ""
    subjects: list[str]
    actions: list[str]
    resources: list[str]
    effect: Literal["allow", "deny"]
    conditions: dict[str, ConditionSpec] = Field(default_factory=dict)
    meta: Any = None  # Ladon's free field: kept and returned, never interpreted

    @model_validator(mode="after")
    def _compiles(self) -> Self:
        problems = document_problems(self)
        if problems:
            raise _Problems(problems)
        return self


class _Problems(ValueError):
    """Carries the list of problems out through pydantic's ValidationError."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def document_problems(doc: PolicyDocument) -> list[str]:
    """Every reason the document cannot be used, each naming its field (and index)."""
    problems: list[str] = []
    if not doc.id or len(doc.id) > MAX_ID_LENGTH:
        problems.append(f"id: must be 1 to {MAX_ID_LENGTH} characters")
    elif not doc.id.isprintable():
        problems.append("id: must not contain control characters")
    if len(doc.description) > MAX_DESCRIPTION_LENGTH:
        problems.append(f"description: longer than {MAX_DESCRIPTION_LENGTH} characters")
    for field in PATTERN_FIELDS:
        problems.extend(pattern_problems(field, getattr(doc, field)))
    if len(doc.conditions) > MAX_CONDITIONS:
        problems.append(f"conditions: more than {MAX_CONDITIONS}")
        return problems
    for key, spec in doc.conditions.items():
        if not key or len(key) > MAX_CONDITION_KEY_LENGTH:
            problems.append(f"conditions: key must be 1 to {MAX_CONDITION_KEY_LENGTH} characters")
            continue
        try:
            build_condition(spec.type, spec.options)
        except ConditionOptionsError as exc:
            problems.append(f"conditions.{key}: {exc}")
    return problems


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "document"


def _problems_of(error: ValidationError) -> list[str]:
    problems: list[str] = []
    for detail in error.errors():
        cause = (detail.get("ctx") or {}).get("error")
        if isinstance(cause, _Problems):
            problems.extend(cause.problems)
        else:
            problems.append(f"{_location(detail['loc'])}: {detail['msg']}")
    return problems


def parse_document(data: Mapping[str, Any], *, generate_id: bool = True) -> PolicyDocument:
    """A validated document from its JSON, or PolicyInvalid listing every problem.

    With `generate_id`, a missing, null or empty id becomes a fresh uuid4, as Hydra does.
    """
    if not isinstance(data, Mapping):
        raise PolicyInvalid(["document: must be a JSON object"])
    fields = dict(data)
    if generate_id and fields.get("id") in (None, ""):
        fields["id"] = str(uuid.uuid4())
    try:
        return PolicyDocument.model_validate(fields)
    except ValidationError as exc:
        raise PolicyInvalid(_problems_of(exc)) from None


def document_json(doc: PolicyDocument) -> dict[str, Any]:
    """The document in Ladon's JSON shape; `parse_document` of it gives `doc` back."""
    return doc.model_dump(mode="json")
