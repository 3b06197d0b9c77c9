"""Settings: one typed model, read from a YAML file and `AUTHGATE_*` environment variables.

Precedence is environment over file over defaults. Every secret-bearing key (marked
`SecretRef`, listed by `secret_keys()`) may be given by reference (`env:NAME`, `file:PATH`),
resolved where it is used; a missing reference is an error naming its key and the file.
The files authgate keeps (database, key-encryption key, admin token, outbox) default to
places inside `data_dir`. Errors are reported with the file and the dotted key path so that
`authgate config check` can list every one of them at once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from authgate.federation.settings import IdentityProviders
from authgate.gateway.aws_settings import AwsAuthorizerSettings
from authgate.gateway.config import (
    RESERVED_SEGMENTS,
    GatewaySettings,
    ListenerTlsSettings,
    located_problems,
    routes_claiming,
)
from authgate.hooks.settings import HooksSettings
from authgate.secret_refs import (
    SecretRef,
    SecretReferenceError,
    is_reference,
    resolve,
    unresolvable,
)
from authgate.secret_refs import secret_keys as _secret_keys
from authgate.units import Duration as Duration
from authgate.units import DurationOrZero
from authgate.units import Listen as Listen
from authgate.units import Rate as Rate


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


_TLS_HELP = "Terminate TLS here: {cert: PATH, key: PATH} (PEM); `authgate dev-cert` writes a pair."


class PublicListener(_Section):
    listen: Listen = "127.0.0.1:8080"
    tls: ListenerTlsSettings | None = Field(default=None, description=_TLS_HELP)


class AdminListener(_Section):
    listen: Listen = "127.0.0.1:8081"
    tls: ListenerTlsSettings | None = Field(default=None, description=_TLS_HELP)
    token: SecretRef = Field(
        default="file:./.authgate/admin-token",
        description="Bearer token for the admin API (default: file:DATA_DIR/admin-token, "
        "generated at first start).",
    )


_DRIVERS = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
_DRIVER_HELP = "use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB"


class DatabaseSettings(_Section):
    url: SecretRef = Field(
        default="sqlite+aiosqlite:///./.authgate/authgate.db",
        description="SQLAlchemy URL, or a reference to one (it may hold a password) "
        "(default: sqlite+aiosqlite:///DATA_DIR/authgate.db).",
    )
    migrate_on_start: bool = True
    pool_size: int = Field(default=10, gt=0)
    timeout: Duration = Field(
        default=2.0,
        description="The longest a request waits for PostgreSQL: to connect, for a pooled "
        "connection, for each statement (migrations excepted). Past it the request answers "
        "503 storage_unavailable instead of hanging. SQLite writers wait for the write lock "
        "this long, but at least 10 s.",
    )

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not is_reference(value) and not value.startswith(_DRIVERS):
            raise ValueError(_DRIVER_HELP)
        return value

    def resolved_url(self) -> str:
        """The URL, its reference resolved and its driver checked (ConfigError if not)."""
        url = resolve_secret(self.url, "database.url") or ""
        if not url.startswith(_DRIVERS):
            raise ConfigError("database", [f"database.url: {self.url}: {_DRIVER_HELP}"])
        return url


class SecretsSettings(_Section):
    key_encryption_key: SecretRef = Field(
        default="file:./.authgate/kek",
        description="32-byte key (urlsafe base64) that encrypts private keys and client "
        "secrets (default: file:DATA_DIR/kek, generated at first start).",
    )


class SmtpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=587, gt=0, lt=65536)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: SecretRef | None = None
    password: SecretRef | None = None
    timeout: Duration = 10.0


class MailSettings(_Section):
    sender: Literal["file", "console", "smtp"] = "file"
    outbox_dir: Path = Field(
        default=Path("./.authgate/outbox"), description="Default: DATA_DIR/outbox."
    )
    from_: str = Field(default="authgate <no-reply@localhost>", alias="from")
    templates_dir: Path | None = None
    smtp: SmtpSettings = SmtpSettings()


class Argon2Settings(_Section):
    memory_kib: int = Field(default=19456, ge=8)
    time_cost: int = Field(default=2, ge=1)
    parallelism: int = Field(default=1, ge=1)


class PasswordSettings(_Section):
    min_length: int = Field(default=8, ge=1)
    max_length: int = Field(default=256, le=1024)
    require_uppercase: bool = False
    require_lowercase: bool = False
    require_digit: bool = False
    require_symbol: bool = False
    block_common: bool = True
    argon2: Argon2Settings = Argon2Settings()
    max_concurrency: int | None = Field(
        default=None, ge=1, description="Default: the CPUs this process may run on."
    )


class TokenSettings(_Section):
    signing_alg: Literal["RS256", "ES256", "EdDSA"] = "RS256"
    access_ttl: Duration = 3600.0
    id_ttl: Duration = 3600.0
    refresh_ttl: Duration = 30 * 86400.0
    leeway: float = Field(default=30.0, ge=0, le=300)
    keys_reload_interval: Duration = Field(
        default=30.0, description="How often a process rereads keys rotated by another."
    )
    refresh_reuse_interval: DurationOrZero = Field(
        default=10.0,
        le=60.0,
        description="For this long after a rotation, the same client presenting the refresh "
        "token it just spent gets the same successor pair instead of a revoked sign-in "
        "(concurrent refreshes); 0 turns it off.",
    )


class ThrottleSettings(_Section):
    login_failures: int = Field(default=5, gt=0, description="Failures allowed per window.")
    login_window: Duration = 900.0
    lockout_base: Duration = Field(default=60.0, description="First lockout; doubles each time.")
    lockout_max: Duration = 3600.0
    signup_per_ip: Rate = Rate(count=20, period=3600)
    resend_per_ip: Rate = Rate(count=20, period=3600)
    forgot_per_ip: Rate = Rate(count=20, period=3600)
    federation_per_ip: Rate = Field(
        default=Rate(count=30, period=600),
        description="Sign-ins and links with another identity provider started per client "
        "IP: each start stores a pending transaction for 10 minutes.",
    )
    code_attempts: int = Field(default=5, gt=0, description="Wrong tries that kill a code.")
    code_wrong_tries: Rate = Field(
        default=Rate(count=10, period=86400),
        description="Wrong codes per user and purpose, across codes; at the limit the "
        "purpose locks until an administrator (or, for a reset, the owner signing in) acts.",
    )
    codes_per_user: Rate = Field(
        default=Rate(count=5, period=86400), description="Codes issued per user and purpose."
    )
    mails_per_address: Rate = Field(
        default=Rate(count=10, period=86400),
        description="Codes and notices mailed to one address (sign-up, reset, email change).",
    )


class AttributeDeclaration(_Section):
    type: Literal["string", "number", "boolean"] = "string"
    required: bool = False
    mutable: bool = True
    max_length: int = Field(default=2048, gt=0)


StandardAttribute = Literal[
    "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username",
    "email", "phone_number", "address", "birthdate", "gender", "locale", "picture", "profile",
    "zoneinfo", "updated_at", "website",
]  # fmt: skip
"""Cognito's standard attributes, the ones `user_pool.required_attributes` may name."""


class UserPoolSettings(_Section):
    name: str = "authgate"
    username_from_email: bool = Field(
        default=True, description="When sign-up gives no username, the email becomes it."
    )
    custom_attributes: dict[str, AttributeDeclaration] = Field(
        default_factory=dict,
        description="Declared custom attributes, keyed without the `custom:` prefix.",
    )
    signup_code_ttl: Duration = 86400.0
    reset_code_ttl: Duration = 3600.0
    mfa: Literal["off", "optional", "required"] = Field(
        default="optional",
        description="TOTP second factor: off (never asked, enrolment refused), optional "
        "(asked of users who enrolled), required (users without a factor enrol at sign-in).",
    )
    required_attributes: list[StandardAttribute] = Field(
        default_factory=list,
        description="Standard attributes every sign-up must give (Cognito's required "
        "attributes); `email` is always required.",
    )

    @field_validator("custom_attributes")
    @classmethod
    def _names(cls, value: dict[str, AttributeDeclaration]) -> dict[str, AttributeDeclaration]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", name):
                raise ValueError(f"attribute name {name!r} must match [A-Za-z][A-Za-z0-9_]*")
        return value


UI_PREFIX = "/auth"
_UI_PREFIX = re.compile(r"(/[A-Za-z0-9][A-Za-z0-9._~-]*)+")
_ORIGIN = re.compile(r"https?://([a-z0-9.\-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?")
PACKAGED_MESSAGES = Path(__file__).parent / "ui" / "messages"
"""Where the shipped message catalogues live, one folder per language."""


class UiSettings(_Section):
    """The hosted pages: where they live, how they look and speak, where they may return."""

    prefix: str = Field(
        default=UI_PREFIX,
        description="Path under which the hosted pages live; its first segment is reserved "
        "from the gate like /v1.",
    )
    templates_dir: Path | None = Field(
        default=None,
        description="A template here overrides the packaged one of the same name; "
        "messages/<lang>/*.json here add or override strings.",
    )
    languages: list[str] = Field(
        default_factory=lambda: ["en"],
        min_length=1,
        description="Languages offered, picked by Accept-Language; the first is the fallback.",
    )
    reauth_after: Duration = Field(
        default=300.0,
        description="A sign-in older than this must be repeated before sensitive changes.",
    )
    return_to_origins: list[str] = Field(
        default_factory=list,
        description="Origins (e.g. https://app.example.com) the pages may send the browser "
        "back to with ?return_to=; the issuer's own paths are always allowed.",
    )

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _UI_PREFIX.fullmatch(value):
            raise ValueError(
                "the prefix is one or more path segments, e.g. /auth (no trailing '/')"
            )
        first = value[1:].split("/", 1)[0]
        if first in RESERVED_SEGMENTS:
            raise ValueError(f"/{first} is one of authgate's own paths")
        return value

    @field_validator("return_to_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
        return value

    @field_validator("languages")
    @classmethod
    def _language_tags(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for tag in value:
            if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", tag):
                raise ValueError(f"{tag!r} is not a language tag like en or pt-BR")
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        templates_dir = info.data.get("templates_dir")
        for tag in value:
            places = [PACKAGED_MESSAGES / tag]
            if templates_dir is not None:
                places.append(templates_dir / "messages" / tag)
            if not any(place.is_dir() and any(place.glob("*.json")) for place in places):
                raise ValueError(
                    f"no message catalogue for {tag!r} (add templates_dir/messages/{tag}/*.json)"
                )
        return value

    @property
    def reserved_segment(self) -> str:
        """The prefix's first segment, which the gate may not route."""
        return self.prefix[1:].split("/", 1)[0]


BUILTIN_SCOPES = ("openid", "profile", "email", "phone", "offline_access")
DECIDE_SCOPE = "authgate:decide"
"""Lets a client ask POST /authz/allowed; always grantable, never declared in `scopes`."""
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]{1,128}")


class OAuthSettings(_Section):
    scopes: dict[str, str] = Field(
        default_factory=dict,
        description="Resource scopes clients may be given, with a description shown at consent.",
    )
    attribute_scopes: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Scopes that release custom attributes at userinfo, e.g. "
        "{tenant: [custom:tenant]}; the scope must be declared in `scopes`.",
    )
    code_ttl: Duration = Field(default=60.0, le=60.0)
    require_pkce: bool = Field(
        default=True, description="PKCE (S256) for every client; public clients always need it."
    )
    session_ttl: Duration = Field(default=12 * 3600.0, description="Hosted sign-in session.")
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins (e.g. https://app.example.com) allowed to call the token, "
        "revoke and userinfo endpoints; discovery and the JWKS are open to every origin.",
    )
    revocation_sync_interval: Duration = Field(
        default=2.0,
        le=3600.0,
        description="How soon a revocation on one replica reaches the others by database "
        "polling (with Redis, notices bring it at once and polling is the fallback).",
    )
    policy_sync_interval: Duration = Field(
        default=1.0,
        gt=0,
        le=3600.0,
        description="How often each replica polls the database for policy changes (with "
        "Redis, notices bring them at once and polling is the fallback).",
    )

    @field_validator("scopes")
    @classmethod
    def _scope_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _SCOPE_TOKEN.fullmatch(name):
                raise ValueError(f"scope {name!r} is not a valid scope token (RFC 6749 3.3)")
            if name in BUILTIN_SCOPES or name == DECIDE_SCOPE:
                raise ValueError(f"scope {name!r} is built in; do not declare it")
        return value

    @model_validator(mode="after")
    def _attribute_scopes_declared(self) -> OAuthSettings:
        for scope in self.attribute_scopes:
            if scope not in self.scopes:
                raise ValueError(f"attribute_scopes: scope {scope!r} is not declared in scopes")
        return self

    def known_scopes(self) -> set[str]:
        return {*BUILTIN_SCOPES, DECIDE_SCOPE, *self.scopes}


# -- Cognito wire compatibility ----------------------------------------------------------------


class CognitoAccessKey(_Section):
    """An AWS-style key pair that may sign the administrator operations (SigV4)."""

    access_key_id: str = Field(pattern=r"[A-Z0-9]{16,128}")
    secret_access_key: SecretRef


class CognitoSettings(_Section):
    """The Cognito-compatible endpoint (`POST /cognito/`, boto3 `cognito-idp`)."""

    enabled: bool = True
    region: str = Field(default="us-east-1", pattern=r"[a-z]{2}(-[a-z]+)+-[0-9]")
    user_pool_id: str = Field(
        default="us-east-1_authgate",
        pattern=r"[\w-]+_[0-9a-zA-Z]+",
        max_length=55,
        description="The id of authgate's one pool; any other id in a call is not found.",
    )
    access_keys: list[CognitoAccessKey] = Field(
        default_factory=list,
        description="Keys for the SigV4-signed administrator operations (none: they are "
        "all refused).",
    )
    prevent_user_existence_errors: bool = Field(
        default=True,
        description="Cognito's setting: unknown users answer like wrong passwords "
        "(false: UserNotFoundException).",
    )

    @field_validator("access_keys")
    @classmethod
    def _unique_ids(cls, value: list[CognitoAccessKey]) -> list[CognitoAccessKey]:
        ids = [key.access_key_id for key in value]
        if len(set(ids)) != len(ids):
            raise ValueError("an access_key_id is listed twice")
        return value

    def secret_for(self, access_key_id: str) -> str | None:
        """The secret access key of `access_key_id`, its reference resolved; None if unknown."""
        for index, key in enumerate(self.access_keys):
            if key.access_key_id == access_key_id:
                where = f"cognito.access_keys.{index}.secret_access_key"
                return resolve_secret(key.secret_access_key, where)
        return None


class LoggingSettings(_Section):
    format: Literal["json", "text"] | None = Field(
        default=None,
        description="json: one JSON object a line from every logger (time, level, logger, "
        "message, fields); text: one plain line each. Default: text when stderr is a "
        "terminal, json otherwise.",
    )
    level: Literal["debug", "info", "warning", "error"] = "info"


# -- passkeys (WebAuthn) ---------------------------------------------------------------------

_ORIGIN = re.compile(r"(https?)://(\[[0-9A-Fa-f:.]+\]|[^/?#@:\s\[\]]+)(?::(\d{1,5}))?")
PUBLIC_SUFFIXES = frozenset(
    {
        "ac.uk", "co.uk", "gov.uk", "org.uk", "me.uk", "ltd.uk", "plc.uk", "com.au", "net.au",
        "org.au", "co.nz", "co.jp", "ne.jp", "or.jp", "co.kr", "com.br", "com.cn", "com.mx",
        "co.in", "co.za", "com.tr", "com.tw", "com.sg", "com.hk", "github.io", "gitlab.io",
        "herokuapp.com", "appspot.com", "blogspot.com", "cloudfront.net", "azurewebsites.net",
        "vercel.app", "netlify.app", "pages.dev", "workers.dev", "fly.dev", "onrender.com",
        "s3.amazonaws.com", "amazonaws.com", "firebaseapp.com", "web.app", "ngrok.io",
        "ngrok-free.app", "duckdns.org", "dyndns.org", "nip.io", "sslip.io",
    }
)  # fmt: skip
"""Well-known multi-label public suffixes. Not the Public Suffix List (no such dependency,
and it changes weekly): with it, a single-label name (a TLD) catches the usual mistakes."""


def origin_host(origin: str) -> str:
    """The host of a `scheme://host[:port]` origin (ValueError if it is not one)."""
    match = _ORIGIN.fullmatch(origin)
    if not match:
        raise ValueError(f"origin {origin!r} must be scheme://host[:port] (http or https)")
    return match.group(2).lower().strip("[]")


def rp_id_problem(rp_id: str, origins: list[str]) -> str | None:
    """Why `rp_id` cannot serve every origin, or None.

    WebAuthn lets a page use an RP ID equal to its host or a registrable suffix of it. We
    check that each host equals `rp_id` or ends with "." + `rp_id`, and that a `rp_id`
    shared across hosts this way is no public suffix: not a single label (a TLD such as
    "com"; "localhost" excepted) and not one of `PUBLIC_SUFFIXES`. An IP address is
    only ever its own RP ID (browsers refuse IP addresses altogether: use localhost)."""
    if not rp_id or rp_id != rp_id.lower().strip("."):
        return f"rp_id {rp_id!r} must be a lower-case host name"
    if rp_id in PUBLIC_SUFFIXES:
        return f"rp_id {rp_id!r} is a public suffix"
    for origin in origins:
        host = origin_host(origin)
        if host == rp_id:
            continue
        if not host.endswith("." + rp_id) or ":" in host or host.replace(".", "").isdigit():
            return f"rp_id {rp_id!r} is not the host of origin {origin!r} nor a suffix of it"
        if "." not in rp_id and rp_id != "localhost":
            return f"rp_id {rp_id!r} is a public suffix (a top-level domain)"
    return None


class WebAuthnSettings(_Section):
    """Passkeys. Without `rp_id`, the issuer's host; without `origins`, the issuer's origin
    (scheme, host, port): right for one public name. Browsers take only `https://` origins
    and `http://localhost`, and refuse an IP address as RP ID."""

    rp_id: str | None = Field(
        default=None, description="Relying party ID (default: the issuer's host)."
    )
    rp_name: str = Field(default="authgate", min_length=1, max_length=64)
    origins: list[str] | None = Field(
        default=None,
        description="Page origins allowed to use passkeys (default: the issuer's origin).",
    )
    challenge_ttl: Duration = Field(default=300.0, le=300.0)
    max_per_user: int = Field(default=20, gt=0, le=100)
    login_options_per_ip: Rate = Field(
        default=Rate(count=60, period=60),
        description="Passkey sign-in options (each one stores a challenge) per address.",
    )

    @field_validator("origins")
    @classmethod
    def _origins(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("origins must name at least one origin")
            for origin in value:
                origin_host(origin)
        return value

    def resolved(self, issuer: str) -> tuple[str, list[str]]:
        """(rp_id, origins), defaults taken from the issuer."""
        scheme, _, rest = issuer.partition("://")
        authority = rest.split("/", 1)[0]
        origins = self.origins or [f"{scheme}://{authority}".lower()]
        return self.rp_id or origin_host(origins[0]), origins


# -- Redis: what replicas share (issue 12) ----------------------------------------------------


class RedisSettings(_Section):
    """Optional: rate-limit budgets and change notices shared by every replica."""

    url: SecretRef = Field(
        description="redis:// or rediss:// URL, or a reference to one (it may hold a password)."
    )
    key_prefix: str = Field(default="authgate:", description="Prefix of every key and channel.")
    required_for_readiness: bool = Field(
        default=False,
        description="Whether /readyz answers 503 while Redis is unreachable. Off by default: "
        "authgate works without Redis (rate limits admit, revocations are polled), and every "
        "replica shares the one Redis, so failing readiness would take all of them out of "
        "the load balancer at once. /readyz reports Redis either way.",
    )

    def resolved_url(self) -> str:
        """The URL, its reference resolved and its scheme checked (ConfigError if not)."""
        url = resolve_secret(self.url, "redis.url") or ""
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("redis", ["redis.url: use redis://HOST:PORT/DB or rediss://..."])
        return url


# -- serving processes (issue 12, "All the cores of one machine") --------------------------


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity, as a container's cpuset sets it)."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if counter is not None:
        return int(counter() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class ServerSettings(_Section):
    """How many processes serve the listeners."""

    workers: int | Literal["auto"] = Field(
        default=1,
        description="Serving processes sharing the listeners: a number (1: this process "
        "alone serves) or auto (one per CPU this process may use). Above 1, a parent "
        "process migrates, bootstraps and binds once, then runs and supervises that many "
        "workers; they share state as replicas do (Redis when configured, database polling "
        "otherwise). See docs/operations.md.",
    )

    @field_validator("workers", mode="before")
    @classmethod
    def _workers(cls, value: object) -> int | str:
        if value == "auto":
            return "auto"
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        raise ValueError("must be a whole number of processes, at least 1, or auto")

    def resolved_workers(self) -> int:
        """The number of serving processes: `auto` is the CPU count."""
        return cpu_count() if self.workers == "auto" else int(self.workers)


class Settings(BaseSettings):
    """The whole configuration of one authgate process."""

    model_config = SettingsConfigDict(
        env_prefix="AUTHGATE_",
        env_nested_delimiter="__",
        extra="forbid",
        populate_by_name=True,
    )

    data_dir: Path = Field(
        default=Path("./.authgate"),
        description="Where authgate keeps its files; the database, key-encryption key, admin "
        "token and outbox default to places inside it.",
    )
    issuer: str = "http://127.0.0.1:8080"
    public: PublicListener = PublicListener()
    admin: AdminListener = AdminListener()
    database: DatabaseSettings = DatabaseSettings()
    secrets: SecretsSettings = SecretsSettings()
    mail: MailSettings = MailSettings()
    passwords: PasswordSettings = PasswordSettings()
    tokens: TokenSettings = TokenSettings()
    throttle: ThrottleSettings = ThrottleSettings()
    user_pool: UserPoolSettings = UserPoolSettings()
    oauth: OAuthSettings = OAuthSettings()
    gateway: GatewaySettings = GatewaySettings()
    aws_authorizer: AwsAuthorizerSettings | None = None
    logging: LoggingSettings = LoggingSettings()
    webauthn: WebAuthnSettings = WebAuthnSettings()
    ui: UiSettings = UiSettings()
    cognito: CognitoSettings = CognitoSettings()
    redis: RedisSettings | None = None
    server: ServerSettings = ServerSettings()
    hooks: HooksSettings = HooksSettings()
    identity_providers: IdentityProviders = Field(default_factory=list)

    @field_validator("issuer")
    @classmethod
    def _issuer_is_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", value):
            raise ValueError("issuer must be an http(s) URL without query or fragment")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _files_in_data_dir(self) -> Settings:
        """Keys not given default to their place inside `data_dir`, wherever that is."""
        data = self.data_dir
        if "token" not in self.admin.model_fields_set:
            self.admin = self.admin.model_copy(update={"token": f"file:{data / 'admin-token'}"})
        if "key_encryption_key" not in self.secrets.model_fields_set:
            kek = f"file:{data / 'kek'}"
            self.secrets = self.secrets.model_copy(update={"key_encryption_key": kek})
        if "url" not in self.database.model_fields_set:
            # Quoted: the URL's parser would read `?` as a query and `%41` as `A`.
            url = f"sqlite+aiosqlite:///{quote(str(data / 'authgate.db'))}"
            self.database = self.database.model_copy(update={"url": url})
        if "outbox_dir" not in self.mail.model_fields_set:
            self.mail = self.mail.model_copy(update={"outbox_dir": data / "outbox"})
        return self

    @model_validator(mode="after")
    def _gate_keeps_off_the_pages(self) -> Settings:
        """No gate route may claim the hosted pages' prefix (its first segment)."""
        claiming = routes_claiming(self.gateway.routes, {self.ui.reserved_segment})
        if claiming:
            raise located_problems(
                "Settings",
                [
                    (
                        ("gateway", "routes", index, "path"),
                        f"route {route.name!r}: /{self.ui.reserved_segment} is served by "
                        "authgate itself (ui.prefix)",
                    )
                    for index, route in claiming
                ],
            )
        return self

    @model_validator(mode="after")
    def _webauthn_rp_id(self) -> Settings:
        """Refuse at start an RP ID that no configured origin may use (see rp_id_problem)."""
        rp_id, origins = self.webauthn.resolved(self.issuer)
        problem = rp_id_problem(rp_id, origins)
        if problem:
            where = "" if self.webauthn.rp_id else " (the issuer's host)"
            raise located_problems("Settings", [(("webauthn", "rp_id"), problem + where)])
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values come in as init kwargs; the environment overrides them.
        return (env_settings, init_settings)


class ConfigError(Exception):
    """Every problem found in one configuration, each naming its key path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


def _format_location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(root)"


def load_settings(path: Path | str | None = None) -> Settings:
    """Load settings from `path` (or `$AUTHGATE_CONFIG`), then the environment."""
    if path is None and os.environ.get("AUTHGATE_CONFIG"):
        path = os.environ["AUTHGATE_CONFIG"]
    source = str(path) if path else "environment"
    data: dict[str, Any] = {}
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(source, [f"cannot read the file: {exc.strerror}"]) from None
        except yaml.YAMLError as exc:
            raise ConfigError(source, [f"not valid YAML: {exc}"]) from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(source, ["the top level must be a mapping of keys"])
        data = loaded
    try:
        return Settings(**data)
    except ValidationError as exc:
        problems = [f"{_format_location(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ConfigError(source, problems) from None


def resolve_secret(reference: str | None, key: str) -> str | None:
    """Resolve `env:NAME` / `file:PATH` references; other values are taken literally.

    Raises ConfigError naming `key` and the variable or file."""
    if reference is None:
        return None
    try:
        return resolve(reference, key)
    except SecretReferenceError as exc:
        raise ConfigError("secret reference", [str(exc)]) from None


def secret_keys() -> list[str]:
    """Every secret-bearing key of the configuration (`*`: any upstream name)."""
    return _secret_keys(Settings)


GENERATED_SECRETS = ("admin.token", "secrets.key_encryption_key")
"""Made at first start when their `file:` reference points inside `data_dir`."""


def secret_problems(settings: Settings) -> list[str]:
    """Every secret reference that cannot be resolved now, each naming its key and file
    (what `config check` adds to validation). Not one: a missing admin token or
    key-encryption key inside `data_dir`, which the first start generates."""
    owned = settings.data_dir.resolve()

    def generated_later(key: str, path: Path) -> bool:
        return key in GENERATED_SECRETS and path.resolve().is_relative_to(owned)

    values = settings.model_dump(by_alias=True)
    problems = unresolvable(values, secret_keys(), generated_later)
    if not any(p.startswith("database.url:") for p in problems):
        try:
            settings.database.resolved_url()
        except ConfigError as exc:
            problems.extend(exc.problems)
    return problems


def json_schema() -> dict[str, Any]:
    return Settings.model_json_schema(by_alias=True)
