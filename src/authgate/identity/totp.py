"""TOTP (RFC 6238) with pyotp: HMAC-SHA1, 6 digits, 30-second steps, one step of drift.

Pure functions: which time step a code belongs to, the otpauth URI an authenticator app
reads, and that URI as a QR code in SVG. Remembering which step was used (so a code is
accepted once) is the store's job (`MfaRepository.use_step`).

The QR code is SVG that segno draws from our own URI: only `<svg>` and `<path>` elements,
no text, no script, no external reference, so the page may inline it as it is.
"""

from __future__ import annotations

import hmac
import io

import pyotp
import segno

DIGITS = 6
PERIOD = 30
DRIFT_STEPS = 1
SECRET_CHARS = 32
"""Base32 characters of a new secret: 160 bits, the SHA-1 block-size advice of RFC 4226."""


def new_secret() -> str:
    return pyotp.random_base32(length=SECRET_CHARS)


def step_at(now: float) -> int:
    return int(now // PERIOD)


def code_at_step(secret: str, step: int, digits: int = DIGITS) -> str:
    """The code of time step `step` (the HOTP value at counter `step`)."""
    return pyotp.TOTP(secret, digits=digits, interval=PERIOD).generate_otp(step)


def looks_like_totp(value: object) -> bool:
    return isinstance(value, str) and len(value) == DIGITS and value.isascii() and value.isdigit()


def matching_step(secret: str, code: object, now: float, drift: int = DRIFT_STEPS) -> int | None:
    """The time step, within `drift` steps of now, whose code `code` is; None if none.

    Every candidate is computed and compared in constant time, so the answer's timing says
    nothing about which step (if any) matched.
    """
    if not looks_like_totp(code):
        return None
    assert isinstance(code, str)
    current = step_at(now)
    found: int | None = None
    for step in range(current - drift, current + drift + 1):
        if hmac.compare_digest(code_at_step(secret, step).encode(), code.encode()):
            found = step
    return found


def otpauth_uri(secret: str, username: str, issuer: str) -> str:
    """`otpauth://totp/<issuer>:<username>?secret=...&issuer=...` (Key Uri Format)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(
        name=username, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (no XML declaration, no title, no script)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(
        buffer, kind="svg", xmldecl=False, svgns=True, scale=4, border=2, nl=False
    )
    return buffer.getvalue().decode("ascii")
