"""What the pool's self-service flows share: the password a user chose, a code that may be
refused, and the name a mail may greet.

Sign-up (signup.py), password recovery (recovery.py) and the signed-in user's own account
(users.py) each need these; they live apart so that none of those modules imports another.
"""

from __future__ import annotations

from authgate.audit import Caller
from authgate.errors import InvalidRequest
from authgate.identity.codes import CodeBook, CodeRefused
from authgate.identity.passwords import PasswordPolicy
from authgate.store import Transaction
from authgate.store.records import UserRecord


def chosen_password(policy: PasswordPolicy, value: object, field: str = "password") -> str:
    """`value`, a string that keeps the policy; InvalidRequest or InvalidPassword if not."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be a string.", field=field)
    policy.check(value)
    return value


async def issue_code(
    codes: CodeBook,
    tx: Transaction,
    sub: str,
    purpose: str,
    ttl: float,
    to: str,
    caller: Caller,
) -> str | None:
    """A new code, or None when the purpose is locked or a re-issue limit is reached
    (audited; the caller answers as if the code were sent)."""
    try:
        return await codes.issue(tx, sub, purpose, ttl, to, caller)
    except CodeRefused:
        return None


def greeting(user: UserRecord) -> str:
    """The name a mail may greet: the username only once the address is verified, since
    before that the username is whatever someone typed next to a stranger's address."""
    return user.username if user.email_verified and user.email else (user.email or "")
