"""How a user authenticated: `amr` values (RFC 8176) and the `acr` they amount to.

The mapping, one place for every token, session and gate check:

| sign-in                                | amr              | acr    |
|----------------------------------------|------------------|--------|
| password                               | ["pwd"]          | "aal1" |
| password, then a TOTP code             | ["pwd", "otp"]   | "aal2" |
| password, then a recovery code         | ["pwd", "mfa"]   | "aal2" |
| passkey (hardware / software key)      | ["hwk"] / ["swk"]| "aal2" |

A recovery code is named "mfa" (several factors, no device named), not "otp", so a
relying party can tell that the user's authenticator was not at hand. acr values are
NIST SP 800-63B's assurance levels: one factor is AAL1; a second factor, or a passkey
(a multi-factor cryptographic authenticator with user verification), is AAL2.

Stored as one space-separated string (`"pwd otp"`) next to every sign-in fact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

PASSWORD = "pwd"
TOTP = "otp"
RECOVERY_CODE = "mfa"
HARDWARE_KEY = "hwk"
SOFTWARE_KEY = "swk"

SECOND_FACTORS = frozenset({TOTP, RECOVERY_CODE, HARDWARE_KEY, SOFTWARE_KEY})
"""amr values that a gate route with `require: {mfa: true}` accepts (any one of them)."""

ACR_SINGLE = "aal1"
ACR_MULTI = "aal2"


def acr_for(amr: Iterable[str]) -> str:
    return ACR_MULTI if SECOND_FACTORS.intersection(amr) else ACR_SINGLE


def is_multi_factor(amr: object) -> bool:
    """True when a claim value is a list naming a second factor (or a passkey)."""
    return isinstance(amr, list) and any(isinstance(v, str) and v in SECOND_FACTORS for v in amr)


def stored(amr: Sequence[str]) -> str:
    return " ".join(amr)


def loaded(value: str | None) -> list[str]:
    return value.split() if value else [PASSWORD]


def claims_for(amr: Sequence[str]) -> dict[str, object]:
    """The `amr` and `acr` claims of a token for a sign-in that used `amr`."""
    return {"amr": list(amr), "acr": acr_for(amr)}
