"""Plain records the repositories read and write.

They carry no SQLAlchemy state, so the domain can hold and change them without
knowing how they are stored. Times are epoch seconds (float), the same on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class UserRecord:
    sub: str
    username: str
    email: str | None
    password_hash: str | None
    status: str = "unconfirmed"  # unconfirmed | confirmed | force_change_password | reset_required
    enabled: bool = True
    email_verified: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    pending_email: str | None = None
    tokens_valid_after: float = 0.0
    created_at: float = 0.0
    updated_at: float = 0.0
    groups: list[str] = field(default_factory=list)
    username_skeleton: str | None = None


@dataclass
class GroupRecord:
    name: str
    description: str = ""
    created_at: float = 0.0


@dataclass
class ClientRecord:
    client_id: str
    client_name: str
    secret_ciphertext: bytes | None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass
class KeyRecord:
    kid: str
    alg: str
    private_key_ciphertext: bytes
    created_at: float
    retired_at: float | None = None
    verify_until: float | None = None


@dataclass
class CodeRecord:
    sub: str
    purpose: str  # signup | reset | verify_email
    code_hash: str
    expires_at: float
    attempts_left: int


@dataclass
class RefreshFamilyRecord:
    family_id: str
    sub: str
    client_id: str
    scope: str
    auth_time: float
    created_at: float
    revoked_at: float | None = None
    amr: str = "pwd"


@dataclass
class RefreshTokenRecord:
    token_hash: str
    family_id: str
    issued_at: float
    expires_at: float
    spent_at: float | None = None
    successor_ciphertext: bytes | None = None
    successor_until: float | None = None


@dataclass
class IssuedAccessRecord:
    """An access token issued to a user: enough to deny it when its sign-in ends."""

    jti: str
    sub: str
    client_id: str
    family_id: str | None
    expires_at: float


@dataclass
class AuditRecord:
    event: str
    at: float
    sub: str | None = None
    client_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass
class Page(Generic[T]):
    items: list[T]
    next: str | None


@dataclass
class AuthorizationCodeRecord:
    code_hash: str
    client_id: str
    sub: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    auth_time: float
    created_at: float
    expires_at: float
    used_at: float | None = None
    family_id: str | None = None
    access_jti: str | None = None
    access_expires_at: float | None = None
    amr: str = "pwd"


@dataclass
class ConsentRecord:
    sub: str
    client_id: str
    scope: str
    granted_at: float


@dataclass
class BrowserSessionRecord:
    session_hash: str
    sub: str
    auth_time: float
    created_at: float
    expires_at: float
    revoked_at: float | None = None
    public_id: str | None = None
    user_agent: str | None = None
    ip: str | None = None
    last_used_at: float | None = None
    reauth_at: float | None = None
    amr: str = "pwd"


@dataclass
class OpaqueTokenRecord:
    token_hash: str
    jti: str
    client_id: str
    sub: str | None
    claims: dict[str, Any]
    issued_at: float
    expires_at: float
    revoked_at: float | None = None


@dataclass
class LoginFailureRecord:
    """Recent failed sign-ins of one key and the lockout they led to."""

    key: str
    failures: list[float] = field(default_factory=list)
    locked_until: float | None = None
    strikes: int = 0


@dataclass
class PasskeyRecord:
    """A registered WebAuthn credential; `credential_id` is base64url."""

    id: str
    sub: str
    credential_id: str
    public_key: bytes
    sign_count: int
    transports: list[str]
    aaguid: str
    backup_eligible: bool
    backed_up: bool
    device_type: str  # single_device | multi_device
    name: str
    created_at: float
    last_used_at: float | None = None


@dataclass
class WebAuthnChallengeRecord:
    challenge_hash: str
    purpose: str  # register | login
    sub: str | None
    binding_hash: str
    restricted: bool
    created_at: float
    expires_at: float


@dataclass
class TotpRecord:
    """A user's TOTP factor: active and pending secrets (sealed), the last step accepted."""

    sub: str
    secret_ciphertext: bytes | None
    pending_ciphertext: bytes | None
    updated_at: float
    last_step: int = -1
    enabled_at: float | None = None


@dataclass
class MfaChallengeRecord:
    """A sign-in waiting for its second factor (kind "totp") or its enrolment ("mfa_setup")."""

    session_hash: str
    sub: str
    client_id: str | None
    kind: str
    amr: str
    created_at: float
    expires_at: float
    failures: int = 0
    ended_at: float | None = None


# -- Cognito SRP and auth challenges (migration 0011) --------------------------------------


@dataclass
class SrpVerifierRecord:
    sub: str
    user_id: str
    pool: str
    password_tag: str
    salt: str
    verifier_ciphertext: bytes
    created_at: float


@dataclass
class CognitoAuthSessionRecord:
    token_hash: str
    kind: str
    sub: str | None
    client_id: str
    user_id: str
    state: bytes | None
    created_at: float
    expires_at: float


# -- External identity providers (migration 0013) ------------------------------------------


@dataclass
class FederatedIdentityRecord:
    provider: str
    subject: str
    sub: str
    email: str | None
    linked_at: float


@dataclass
class FederationTransactionRecord:
    state_hash: str
    binding_hash: str
    provider: str
    mode: str  # signin | link
    link_sub: str | None
    ticket: str | None
    return_to: str | None
    created_at: float
    expires_at: float
