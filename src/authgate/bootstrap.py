"""Turning settings into running services: data directory, secrets, storage, keys.

First start on a fresh machine generates what the dev defaults refer to: the
key-encryption key and the admin token, each a 0600 file inside `data_dir` (0700).
Only references that point inside `data_dir` are generated; any other missing secret is a
start-up error naming its key, because authgate does not own that place. Every secret-bearing
key is resolved here (or, for the gate's upstream credentials, when the gate is built).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from authgate.clients.assertions import AssertionVerifier
from authgate.clients.authentication import ClientAuthenticator
from authgate.clients.keysets import KeySetFetcher
from authgate.clients.registry import ClientRegistry
from authgate.cluster.gcra import SharedLimiter
from authgate.cluster.link import RedisLink, register_metrics
from authgate.cluster.notices import Notices
from authgate.config import ConfigError, Settings, resolve_secret
from authgate.federation.accounts import FederatedAccounts
from authgate.federation.flow import ProviderFlow
from authgate.federation.service import Federation
from authgate.gateway.authenticate import Backends
from authgate.gateway.mutate import IdentitySigner
from authgate.gateway.observe import Observer
from authgate.gateway.ratelimit import RateLimits
from authgate.gateway.runtime import GateRuntime
from authgate.hooks.service import build_hooks
from authgate.hooks.settings import HOOK_NAMES
from authgate.hooks.transport import HookTransport
from authgate.identity.admin import UserAdmin
from authgate.identity.auth_sessions import AuthSessions
from authgate.identity.challenges import MfaLogin
from authgate.identity.codes import CodeBook, CodeBudget, CodeHasher
from authgate.identity.login import LoginFlow
from authgate.identity.mail import ConsoleSender, FileSender, MailSender, SmtpSender, Templates
from authgate.identity.mfa import Mfa
from authgate.identity.notify import Postman
from authgate.identity.passkeys import Passkeys
from authgate.identity.passwords import Argon2Params, PasswordHasher, PasswordPolicy
from authgate.identity.sessions import BrowserSessions, Consents
from authgate.identity.signin import PasswordSignIn
from authgate.identity.srp_signin import SrpSignIn
from authgate.identity.srp_verifiers import SrpVerifiers
from authgate.identity.throttle import Limits, LockoutRule, LoginThrottle, RateLimiter
from authgate.identity.users import UserPool
from authgate.metrics import Metrics
from authgate.policy.service import PolicyCache, PolicyService
from authgate.store import Store
from authgate.store.migrate import is_current, upgrade
from authgate.tokens.authorization import AuthorizationCodes
from authgate.tokens.grants import OAuthTokens
from authgate.tokens.jwt import TokenCodec
from authgate.tokens.keys import KeyEncryptor, decode_kek, encode_kek, new_key_encryption_key
from authgate.tokens.keystore import KeyManager
from authgate.tokens.revocation import DenyList
from authgate.tokens.service import TokenService

CLIENT_TTL_MAX = 86400.0


def _inside(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory.resolve())


def ensure_data_dir(settings: Settings) -> None:
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)


def _generate_if_owned(reference: str, settings: Settings, content: str) -> str | None:
    """Create a missing `file:` secret inside data_dir; return the new value or None."""
    if not reference.startswith("file:"):
        return None
    path = Path(reference[5:])
    if path.exists() or not _inside(path, settings.data_dir):
        return None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content + "\n")
    return content


def load_kek(settings: Settings) -> bytes:
    reference = settings.secrets.key_encryption_key
    _generate_if_owned(reference, settings, encode_kek(new_key_encryption_key()))
    value = resolve_secret(reference, "secrets.key_encryption_key") or ""
    try:
        return decode_kek(value)
    except ValueError as exc:
        raise ConfigError("secrets", [f"secrets.key_encryption_key: {exc}"]) from None


def load_admin_token(settings: Settings) -> tuple[str, bool]:
    """The admin token, and whether it was generated just now (then it is shown once)."""
    created = _generate_if_owned(settings.admin.token, settings, secrets.token_urlsafe(32))
    token = resolve_secret(settings.admin.token, "admin.token") or ""
    if len(token) < 16:
        raise ConfigError("secrets", ["admin.token: must be at least 16 characters"])
    return token, created is not None


def smtp_credentials(settings: Settings) -> tuple[str | None, str | None]:
    """The SMTP relay's username and password, their references resolved."""
    smtp = settings.mail.smtp
    return (
        resolve_secret(smtp.username, "mail.smtp.username"),
        resolve_secret(smtp.password, "mail.smtp.password"),
    )


def build_mail_sender(settings: Settings) -> MailSender:
    mail = settings.mail
    if mail.sender == "file":
        return FileSender(mail.outbox_dir, mail.from_)
    if mail.sender == "console":
        return ConsoleSender(mail.from_)
    username, password = smtp_credentials(settings)
    return SmtpSender(
        host=mail.smtp.host,
        port=mail.smtp.port,
        security=mail.smtp.security,
        username=username,
        password=password,
        from_addr=mail.from_,
        timeout=mail.smtp.timeout,
    )


@dataclass
class Services:
    """Everything the adapters call, built once per process."""

    settings: Settings
    store: Store
    keys: KeyManager
    tokens: TokenService
    clients: ClientRegistry
    client_auth: ClientAuthenticator
    users: UserPool
    admin: UserAdmin
    hasher: PasswordHasher
    codec: TokenCodec
    oauth: OAuthTokens
    codes: AuthorizationCodes
    deny: DenyList
    sessions: BrowserSessions
    consents: Consents
    signin: PasswordSignIn
    login_flow: LoginFlow
    admin_token: str
    admin_token_created: bool
    gateway: GateRuntime
    policies: PolicyService
    policy_cache: PolicyCache
    passkeys: Passkeys
    mfa: Mfa
    mfa_login: MfaLogin
    srp: SrpSignIn
    metrics: Metrics
    """The process's Prometheus registry and the flows' recorder (`GET /metrics`)."""
    federation: Federation
    """Sign-in with the external OpenID Providers of `identity_providers`."""
    redis: RedisLink | None = None
    """The shared Redis connection, when `redis` is configured (issue 12)."""
    notices: Notices | None = None
    """Change notices to and from the other replicas, when Redis is configured."""
    hooks: HookTransport | None = None
    """The lifecycle webhooks' caller, when any hook is configured."""

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        await self.users.postman.drain()
        if self.hooks is not None:
            await self.hooks.close()
        await self.hasher.close()
        await self.store.close()


async def open_store(settings: Settings, migrate: bool) -> Store:
    store = Store(
        settings.database.resolved_url(), settings.database.pool_size, settings.database.timeout
    )
    if migrate:
        await upgrade(store)
    elif not await is_current(store):
        await store.close()
        raise ConfigError(
            "database", ["database: schema is not current; run `authgate migrate` first"]
        )
    return store


async def build_services(settings: Settings, *, migrate: bool | None = None) -> Services:
    """`migrate`: run the migrations (default `database.migrate_on_start`); False only
    checks that the schema is current (a worker, whose parent migrated)."""
    ensure_data_dir(settings)
    kek = load_kek(settings)
    encryptor = KeyEncryptor(kek)
    admin_token, admin_created = load_admin_token(settings)
    store = await open_store(
        settings, settings.database.migrate_on_start if migrate is None else migrate
    )
    tok = settings.tokens
    keys = KeyManager(
        store,
        encryptor,
        tok.signing_alg,
        # A replica may sign with a retired key until its next reload: cover that too.
        max_token_lifetime=max(tok.access_ttl, tok.id_ttl, CLIENT_TTL_MAX)
        + tok.keys_reload_interval,
    )
    await keys.load()
    codec = TokenCodec(lambda: keys.ring, settings.issuer, leeway=tok.leeway)
    deny = DenyList(store, settings.oauth.revocation_sync_interval)
    tokens = TokenService(store, codec, settings.issuer, tok, keys, deny=deny, sealer=encryptor)
    clients = ClientRegistry(store, encryptor, settings.oauth.known_scopes())
    await clients.ensure_default()
    # RFC 7523 3: an assertion's aud names this server, by its issuer or token endpoint.
    audiences = (settings.issuer, f"{settings.issuer}/oauth2/token")
    client_auth = ClientAuthenticator(clients, AssertionVerifier(store, audiences, KeySetFetcher()))
    pw = settings.passwords
    hasher = PasswordHasher(
        Argon2Params(pw.argon2.memory_kib, pw.argon2.time_cost, pw.argon2.parallelism),
        max_concurrency=pw.max_concurrency,
    )
    policy = PasswordPolicy(
        min_length=pw.min_length,
        max_length=pw.max_length,
        require_uppercase=pw.require_uppercase,
        require_lowercase=pw.require_lowercase,
        require_digit=pw.require_digit,
        require_symbol=pw.require_symbol,
        block_common=pw.block_common,
    )
    redis = (
        RedisLink(settings.redis.resolved_url(), settings.redis.key_prefix)
        if settings.redis is not None
        else None
    )
    shared = SharedLimiter(redis) if redis is not None else None
    th = settings.throttle
    limits = Limits(
        login=LoginThrottle(
            store, LockoutRule(th.login_failures, th.login_window, th.lockout_base, th.lockout_max)
        ),
        signup=RateLimiter(
            th.signup_per_ip.count,
            th.signup_per_ip.period,
            shared=(shared, "signup") if shared is not None else None,
        ),
        resend=RateLimiter(
            th.resend_per_ip.count,
            th.resend_per_ip.period,
            shared=(shared, "resend") if shared is not None else None,
        ),
        forgot=RateLimiter(
            th.forgot_per_ip.count,
            th.forgot_per_ip.period,
            shared=(shared, "forgot") if shared is not None else None,
        ),
    )
    budget = CodeBudget(
        th.code_attempts, th.code_wrong_tries, th.codes_per_user, th.mails_per_address
    )
    codes = CodeBook(CodeHasher(kek), budget, time.time)
    postman = Postman(
        build_mail_sender(settings), Templates(settings.mail.templates_dir), settings.user_pool.name
    )
    mfa = Mfa(store, encryptor, kek, limits.login, settings.user_pool.mfa, settings.user_pool.name)
    # SRP verifiers are made whenever a password is set or proven, while Cognito is on.
    verifiers = SrpVerifiers(encryptor, settings.cognito.user_pool_id)
    users = UserPool(
        store,
        settings,
        hasher,
        policy,
        codes,
        postman,
        tokens,
        clients,
        limits,
        mfa,
        srp=verifiers if settings.cognito.enabled else None,
    )
    admin = UserAdmin(store, users, codes, tokens, settings.user_pool.reset_code_ttl)
    codes_ = AuthorizationCodes(store, settings.oauth.code_ttl, deny=deny)
    oauth = OAuthTokens(store, codec, tokens, clients, codes_, deny, settings)
    sessions = BrowserSessions(store, settings.oauth.session_ttl)
    policy_cache = PolicyCache(store, settings.oauth.policy_sync_interval)
    await policy_cache.refresh_if_changed()
    backends = Backends(tokens, deny, admin, clients, sessions, oauth.inspector)
    metrics = Metrics()
    gateway = GateRuntime(
        settings.gateway,
        backends,
        IdentitySigner(codec, settings.issuer),
        Observer(settings.gateway.access_log, metrics.registry),
        policies=policy_cache,
        rate_limits=RateLimits(shared=shared) if shared is not None else None,
    )
    _measure(metrics, store, hasher, redis, users, tokens, oauth)
    transport = _hooks(settings, store, users, tokens, metrics)
    notices = Notices(redis) if redis is not None else None
    policy_service = PolicyService(store, policy_cache)
    if notices is not None:
        _listen(notices, deny, tokens, clients, keys, policy_service, policy_cache, backends)
    federation = Federation(
        store,
        ProviderFlow(
            store,
            settings.identity_providers,
            settings.issuer,
            provider_secrets(settings),
            starts=RateLimiter(
                th.federation_per_ip.count,
                th.federation_per_ip.period,
                shared=(shared, "federation") if shared is not None else None,
            ).spend,
        ),
        federated_accounts(store, users),
        users.mfa_login,
        users.signin,
    )
    return Services(
        hooks=transport,
        federation=federation,
        metrics=metrics,
        redis=redis,
        notices=notices,
        settings=settings,
        codec=codec,
        oauth=oauth,
        codes=codes_,
        deny=deny,
        sessions=sessions,
        consents=Consents(store, deny=deny),
        signin=users.signin,
        login_flow=users.login_flow,
        store=store,
        keys=keys,
        tokens=tokens,
        clients=clients,
        client_auth=client_auth,
        users=users,
        admin=admin,
        hasher=hasher,
        admin_token=admin_token,
        admin_token_created=admin_created,
        gateway=gateway,
        policies=policy_service,
        policy_cache=policy_cache,
        passkeys=Passkeys(
            store,
            settings.webauthn,
            settings.issuer,
            limits.login,
            tokens,
            clients,
            decoy_key=hashlib.sha256(b"authgate passkey decoys\x00" + kek).digest(),
        ),
        mfa=mfa,
        mfa_login=users.mfa_login,
        srp=SrpSignIn(
            store,
            verifiers,
            AuthSessions(encryptor),
            limits.login,
            decoy_key=hashlib.sha256(b"authgate srp decoys\x00" + kek).digest(),
        ),
    )


def _hooks(
    settings: Settings, store: Store, users: UserPool, tokens: TokenService, metrics: Metrics
) -> HookTransport | None:
    """Wire the configured lifecycle hooks into the pool and the token service (none
    configured: nothing is wired, and the domain's no-op defaults stay)."""
    section = settings.hooks
    if not any(section.endpoint(name) for name in HOOK_NAMES):
        return None
    transport = HookTransport(
        store,
        max_response_bytes=section.max_response_bytes,
        retries=section.retries,
        retry_backoff=section.retry_backoff,
    )
    transport.flows = metrics
    hooks = build_hooks(section, transport, settings.cognito.region, settings.cognito.user_pool_id)
    users.use_hooks(hooks)
    tokens.hooks = hooks
    return transport


def federated_accounts(store: Store, users: UserPool) -> FederatedAccounts:
    """External sign-ins, asking the pool's pre_signup hook before an account is made."""
    accounts = FederatedAccounts(store, users.attributes)
    accounts.hooks = users.hooks
    return accounts


def provider_secrets(settings: Settings) -> dict[str, str | None]:
    """Each identity provider's client secret, its reference resolved at start."""
    return {
        p.name: resolve_secret(p.client_secret, f"identity_providers.{i}.client_secret")
        for i, p in enumerate(settings.identity_providers)
    }


def _measure(
    metrics: Metrics,
    store: Store,
    hasher: PasswordHasher,
    redis: RedisLink | None,
    users: UserPool,
    tokens: TokenService,
    oauth: OAuthTokens,
) -> None:
    """Hand every measured part its hook into the one registry."""
    users.signups.flows = users.login_flow.flows = users.postman.flows = metrics
    tokens.flows = oauth.flows = metrics
    hasher.on_wait = metrics.password_hash_wait.observe
    metrics.watch(
        "authgate_password_hash_queue_depth",
        lambda: hasher.waiting,
        "Password hashes and verifies waiting for a free argon2 worker.",
    )
    metrics.watch(
        "authgate_password_hash_workers",
        lambda: hasher.workers,
        "argon2 worker threads (passwords.max_concurrency).",
    )
    store.on_pool_wait = metrics.database_pool_wait.observe
    metrics.watch(
        "authgate_database_connections_in_use",
        store.connections_in_use,
        "Database connections checked out of the pool.",
    )
    if redis is not None:
        redis.on_latency = metrics.redis_latency.observe
        register_metrics(redis, metrics.registry)


def _listen(
    notices: Notices,
    deny: DenyList,
    tokens: TokenService,
    clients: ClientRegistry,
    keys: KeyManager,
    policies: PolicyService,
    policy_cache: PolicyCache,
    backends: Backends,
) -> None:
    """Announce this process's changes and apply the other replicas' through the paths
    polling uses; after every (re)subscription, resync everything (notices were missed)."""
    for source in (deny, tokens, clients, keys, policies):
        source.announce = notices.announce

    async def deny_sync(_: str) -> None:
        await deny.sync()

    async def user_changed(sub: str) -> None:
        backends.user_changes.changed(sub, backends.clock())

    async def policy_poll(_: str) -> None:
        await policy_cache.refresh_if_changed()

    async def client_changed(client_id: str) -> None:
        clients.forget(client_id)

    async def keys_reload(_: str) -> None:
        await keys.load()

    async def resync() -> None:
        backends.user_changes.changed("", backends.clock())
        clients.forget("")
        await deny.sync()
        await policy_cache.refresh_if_changed()
        await keys.load()

    notices.on("deny", deny_sync)
    notices.on("user", user_changed)
    notices.on("policy", policy_poll)
    notices.on("client", client_changed)
    notices.on("keys", keys_reload)
    notices.on_resync(resync)
