"""Table definitions (SQLAlchemy Core), shared by the repositories and the migrations."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("sub", String(36), primary_key=True),
    Column("username", String(256), nullable=False, unique=True),
    Column("email", String(320), nullable=True, index=True),
    Column("email_verified", Boolean, nullable=False, default=False),
    Column("status", String(32), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("password_hash", Text, nullable=True),
    Column("attributes", JSON, nullable=False),
    Column("pending_email", String(320), nullable=True),
    Column("tokens_valid_after", Float, nullable=False, default=0.0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # The username's look-alike key (identity/names.py): unique, so two names that look
    # the same cannot both exist, even when two replicas insert them at once.
    Column("username_skeleton", String(1024), nullable=True, unique=True),
)

groups = Table(
    "groups",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
)

group_members = Table(
    "group_members",
    metadata,
    Column(
        "group_name",
        String(128),
        ForeignKey("groups.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), primary_key=True),
    Index("ix_group_members_sub", "sub"),
)

clients = Table(
    "clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("client_name", String(256), nullable=False),
    Column("secret_ciphertext", LargeBinary, nullable=True),
    Column("metadata", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(128), primary_key=True),
    Column("alg", String(16), nullable=False),
    Column("private_key_ciphertext", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("retired_at", Float, nullable=True),
    Column("verify_until", Float, nullable=True),
)

one_time_codes = Table(
    "one_time_codes",
    metadata,
    Column("sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), primary_key=True),
    Column("purpose", String(32), primary_key=True),
    Column("code_hash", String(128), nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("attempts_left", Integer, nullable=False),
)

refresh_families = Table(
    "refresh_families",
    metadata,
    Column("family_id", String(64), primary_key=True),
    Column("sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("scope", Text, nullable=False),
    Column("auth_time", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Column("amr", String(64), nullable=False, server_default="pwd"),
    Index("ix_refresh_families_sub", "sub"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "family_id",
        String(64),
        ForeignKey("refresh_families.family_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("issued_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("spent_at", Float, nullable=True),
    # The response that spent this token, sealed under the key-encryption key, so the
    # same client repeating the request within `tokens.refresh_reuse_interval` gets it again.
    Column("successor_ciphertext", LargeBinary, nullable=True),
    Column("successor_until", Float, nullable=True),
    Index("ix_refresh_tokens_family_id", "family_id"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("event", String(64), nullable=False),
    Column("sub", String(36), nullable=True),
    Column("client_id", String(64), nullable=True),
    Column("ip", String(64), nullable=True),
    Column("user_agent", String(512), nullable=True),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_events_sub", "sub"),
    Index("ix_audit_events_event", "event"),
)

authorization_codes = Table(
    "authorization_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("nonce", String(512), nullable=True),
    Column("code_challenge", String(128), nullable=True),
    Column("auth_time", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
    Column("family_id", String(64), nullable=True),
    Column("access_jti", String(64), nullable=True),
    Column("access_expires_at", Float, nullable=True),
    # How the user proved who they are (RFC 8176 amr values, space-separated), for the tokens.
    Column("amr", String(64), nullable=False, server_default="pwd"),
)

consents = Table(
    "consents",
    metadata,
    Column("sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), primary_key=True),
    Column("client_id", String(64), primary_key=True),
    Column("scope", Text, nullable=False),
    Column("granted_at", Float, nullable=False),
)

browser_sessions = Table(
    "browser_sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), nullable=False),
    Column("auth_time", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Column("amr", String(64), nullable=False, server_default="pwd"),
    Index("ix_browser_sessions_sub", "sub"),
    # Account page (0009): an opaque id to name a session by (never its hash or cookie), the
    # device and address it was last used from, when (at most once a minute), and when its
    # holder last proved their password again (re-authentication before sensitive changes).
    Column("public_id", String(32), nullable=True),
    Column("user_agent", String(256), nullable=True),
    Column("ip", String(64), nullable=True),
    Column("last_used_at", Float, nullable=True),
    Column("reauth_at", Float, nullable=True),
    Index("ix_browser_sessions_public_id", "public_id", unique=True),
)

revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("revoked_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_revoked_tokens_revoked_at", "revoked_at"),
)

opaque_tokens = Table(
    "opaque_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("jti", String(64), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("sub", String(64), nullable=True),
    Column("claims", JSON, nullable=False),
    Column("issued_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Index("ix_opaque_tokens_jti", "jti"),
)

# Every access token issued to a user, by jti, with the refresh family it came from (none for
# a code exchange without offline_access), so ending a sign-in can deny its access tokens.
issued_access_tokens = Table(
    "issued_access_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("family_id", String(64), nullable=True),
    Column("expires_at", Float, nullable=False),
    Index("ix_issued_access_tokens_sub", "sub"),
    Index("ix_issued_access_tokens_family_id", "family_id"),
)

policies = Table(
    "policies",
    metadata,
    Column("id", Text, primary_key=True),
    Column("document", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# One row: bumped in the same transaction as every policy change, so each replica can tell
# with one cheap read whether its compiled policies are stale.
policy_version = Table(
    "policy_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
)

# Failed sign-ins per key ("user:<username>" or "ip:<address>") and the lockout they led
# to, shared by every replica and kept across restarts.
login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String(330), primary_key=True),
    Column("failures", JSON, nullable=False),
    Column("locked_until", Float, nullable=True),
    Column("strikes", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_login_failures_updated_at", "updated_at"),
)

# Fixed-window event counters for limits that must hold across replicas: wrong codes per
# user and purpose, codes issued per user and purpose, mail per recipient address.
limit_counters = Table(
    "limit_counters",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("window_start", Float, nullable=False),
    Column("count", Integer, nullable=False),
    Index("ix_limit_counters_window_start", "window_start"),
)

# A code purpose (signup, reset, verify_email) locked for a user after too many wrong codes;
# no code of that purpose is issued or accepted until an administrator (or, for a reset,
# the owner signing in) lifts it.
code_locks = Table(
    "code_locks",
    metadata,
    Column("sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), primary_key=True),
    Column("purpose", String(32), primary_key=True),
    Column("locked_at", Float, nullable=False),
)

# The jti of every private_key_jwt client assertion accepted, kept until it expires, so
# the same assertion cannot authenticate twice (RFC 7523 3, OIDC Core 9).
client_assertions = Table(
    "client_assertions",
    metadata,
    Column(
        "client_id",
        String(64),
        ForeignKey("clients.client_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("jti", String(256), primary_key=True),
    Column("expires_at", Float, nullable=False),
)

# -- passkeys (WebAuthn) -------------------------------------------------------------------

# A user's registered WebAuthn credentials. `credential_id` is base64url (at most 1023
# bytes raw, WebAuthn L2 5.1); the sign counter is an unsigned 32-bit number.
passkeys = Table(
    "passkeys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), nullable=False),
    Column("credential_id", String(1400), nullable=False, unique=True),
    Column("public_key", LargeBinary, nullable=False),
    Column("sign_count", BigInteger, nullable=False),
    Column("transports", JSON, nullable=False),
    Column("aaguid", String(36), nullable=False),
    Column("backup_eligible", Boolean, nullable=False),
    Column("backed_up", Boolean, nullable=False),
    Column("device_type", String(16), nullable=False),
    Column("name", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    Index("ix_passkeys_sub", "sub"),
)

# Outstanding WebAuthn challenges: single use, short-lived, stored as hashes. `binding_hash`
# ties one to the session that asked (the access token's jti for a registration, the
# opaque `session` handed out with sign-in options); `restricted` sign-in challenges only
# accept a credential of `sub` (none at all when the username was unknown).
webauthn_challenges = Table(
    "webauthn_challenges",
    metadata,
    Column("challenge_hash", String(64), primary_key=True),
    Column("purpose", String(16), nullable=False),
    Column("sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), nullable=True),
    Column("binding_hash", String(64), nullable=False),
    Column("restricted", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_webauthn_challenges_expires_at", "expires_at"),
)


# -- MFA (migration 0007) ---------------------------------------------------------------

# A user's TOTP factor: the active secret and a pending one awaiting its first code, both
# sealed under the key-encryption key. `last_step` is the newest time step accepted, moved
# forward by a conditional update, so a code is accepted once across every replica.
mfa_totp = Table(
    "mfa_totp",
    metadata,
    Column("sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), primary_key=True),
    Column("secret_ciphertext", LargeBinary, nullable=True),
    Column("pending_ciphertext", LargeBinary, nullable=True),
    Column("last_step", Integer, nullable=False, default=-1),
    Column("enabled_at", Float, nullable=True),
    Column("updated_at", Float, nullable=False),
)

# Recovery codes, as keyed hashes; a used one keeps its row (used_at) until a new set.
mfa_recovery_codes = Table(
    "mfa_recovery_codes",
    metadata,
    Column("sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), primary_key=True),
    Column("code_hash", String(64), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
)

# Sign-ins waiting for a second factor (or, with `mfa: required`, for its enrolment):
# the session id's SHA-256, who and for which client, and the amr proven so far.
mfa_challenges = Table(
    "mfa_challenges",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), nullable=False),
    Column("client_id", String(64), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("amr", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("failures", Integer, nullable=False, default=0),
    Column("ended_at", Float, nullable=True),
    Index("ix_mfa_challenges_expires_at", "expires_at"),
)

# -- Cognito SRP and auth challenges (migration 0011) --------------------------------------

# A user's SRP verifier (Cognito's USER_SRP_AUTH), sealed under the key-encryption key. It
# holds only while the user, the SRP user id, the pool name and the password hash it was
# made with (`password_tag`, SHA-256 of the hash) are still the same: a password set by
# any path makes it stale, never wrong.
srp_verifiers = Table(
    "srp_verifiers",
    metadata,
    Column("sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String(256), nullable=False),
    Column("pool", String(64), nullable=False),
    Column("password_tag", String(64), nullable=False),
    Column("salt", String(64), nullable=False),
    Column("verifier_ciphertext", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Cognito sign-ins in progress: the SRP exchange behind a SECRET_BLOCK, and the `Session`
# of a challenge (NEW_PASSWORD_REQUIRED, MFA). Stored by the SHA-256 of the opaque token,
# single use (whoever deletes the row owns it), bound to a client. `sub` is NULL for the
# stand-in exchange of an unknown user; `state` is sealed under the key-encryption key.
cognito_auth_sessions = Table(
    "cognito_auth_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), nullable=True),
    Column("client_id", String(64), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("state", LargeBinary, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_cognito_auth_sessions_expires_at", "expires_at"),
)

# A user's identity at an external OpenID Provider (identity_providers): one (provider,
# subject) belongs to one user, and a user has at most one identity per provider.
federated_identities = Table(
    "federated_identities",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column("sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), nullable=False),
    Column("email", String(320), nullable=True),
    Column("linked_at", Float, nullable=False),
    Index("ix_federated_identities_sub_provider", "sub", "provider", unique=True),
)

# Sign-ins at an external provider in progress, by the SHA-256 of their `state`: bound to
# the browser that started them (SHA-256 of its binding cookie), single use (whoever
# deletes the row owns it), alive a few minutes. The PKCE verifier and the nonce are
# derived from the binding cookie, so the database never holds them.
federation_transactions = Table(
    "federation_transactions",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("binding_hash", String(64), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("link_sub", String(36), ForeignKey("users.sub", ondelete="CASCADE"), nullable=True),
    Column("ticket", Text, nullable=True),
    Column("return_to", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_federation_transactions_expires_at", "expires_at"),
)
