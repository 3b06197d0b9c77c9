"""The policy engine's refusals.

Domain errors like those in `authgate.errors` (a code and a sentence, no status); each adapter
maps every one of them in its one table.
"""

from __future__ import annotations

from collections.abc import Iterable

from authgate.errors import DomainError


class PolicyInvalid(DomainError):
    """A policy document was refused at write time; `problems` names every field at fault.

    Raised before anything is stored, so a bad pattern or an unknown condition can never
    reach a decision (an unknown condition is never a silent allow).
    """

    code = "invalid_policy"
    message = "The policy document is invalid."

    def __init__(self, problems: Iterable[str], message: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__(message, problems=self.problems)


class PolicyNotFound(DomainError):
    code = "policy_not_found"
    message = "No policy has this id."


class PolicyExists(DomainError):
    code = "policy_exists"
    message = "A policy with this id already exists."


ALL_POLICY_ERRORS: tuple[type[DomainError], ...] = (PolicyInvalid, PolicyNotFound, PolicyExists)
