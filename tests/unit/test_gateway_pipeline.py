"""The pipeline (match -> authenticate -> authorize -> mutate) on described requests.

Tokens are real: signed by a TokenCodec over a KeyRing built here, verified by the same
codec. The domain services around the pipeline (deny list, users, clients, sessions) are
small in-memory stand-ins with the same interfaces; the pipeline itself is never faked.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import secrets
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from authgate.clients.metadata import ClientMetadata
from authgate.clients.registry import Client
from authgate.errors import InvalidClient, InvalidToken, NotFound, StorageUnavailable
from authgate.gateway.authenticate import (
    NOT_MINE,
    AuthContext,
    AuthenticationFailed,
    Backends,
    JwtAuthenticator,
)
from authgate.gateway.authorize import Denied, same_value
from authgate.gateway.config import GatewaySettings
from authgate.gateway.cors import CorsOriginDenied, CorsPreflightDenied
from authgate.gateway.failure_answers import STATUS, failure_response
from authgate.gateway.forward_errors import (
    BadGateway,
    BodyStalled,
    BodyTooLarge,
    NoHealthyUpstream,
    UpstreamTimeout,
)
from authgate.gateway.mutate import (
    IDENTITY_TYP,
    HeaderPatch,
    IdentitySigner,
    header_key,
    is_reserved,
)
from authgate.gateway.paths import AmbiguousPath
from authgate.gateway.pipeline import Pipeline
from authgate.gateway.principal import Principal
from authgate.gateway.ratelimit import RateLimited
from authgate.gateway.request import BadGateRequest, GateRequest, host_name
from authgate.gateway.routes import MethodNotAllowed, NoRoute
from authgate.identity.sessions import SignedIn
from authgate.store.records import UserRecord
from authgate.tokens.jwt import TokenCodec
from authgate.tokens.keys import KeyRing, generate_signing_key
from tests.clock import Clock

ISSUER = "https://auth.example"
NOW = 1_700_000_000.0
AUDIENCE = "https://orders.example"


class Deny:
    def __init__(self) -> None:
        self.jtis: set[str] = set()

    async def check(self, jti: str) -> bool:
        return jti in self.jtis


class CodecTokens:
    """check_access_token as the token service does it for JWTs, minus the key reload."""

    def __init__(self, codec: TokenCodec, deny: Deny) -> None:
        self.codec = codec
        self.deny = deny
        self.verified = 0

    async def check_access_token(self, token: str) -> dict[str, Any]:
        claims = self.codec.verify(token, token_use="access", audience=None, typ="at+jwt")
        self.verified += 1
        if await self.deny.check(claims["jti"]):
            raise InvalidToken("revoked")
        return claims


class Users:
    def __init__(self) -> None:
        self.records: dict[str, UserRecord] = {}
        self.lookups = 0

    async def get_user(self, sub: str) -> UserRecord:
        self.lookups += 1
        if sub not in self.records:
            raise NotFound()
        return dataclasses.replace(self.records[sub])  # a fresh read, as from the database


MACHINE = Client(
    "machine",
    ClientMetadata(grant_types=["client_credentials"], scope="orders:read"),
    0.0,
    0.0,
)
WEB = Client("web", ClientMetadata(grant_types=["password"]), 0.0, 0.0)
SECRETS = {"machine": "machine-secret", "web": "web-secret"}


class Clients:
    def cached(self, client_id: str) -> Client | None:
        return None  # nothing at hand: every check goes through lookup

    async def lookup(self, client_id: str) -> Client | None:
        return {"machine": MACHINE, "web": WEB}.get(client_id)

    async def authenticate(self, client_id: str, client_secret: str) -> Client:
        client = await self.lookup(client_id)
        if client is None or SECRETS[client_id] != client_secret:
            raise InvalidClient()
        return client


class Sessions:
    def __init__(self) -> None:
        self.live: dict[str, SignedIn] = {}

    async def current(self, session_id: str | None) -> SignedIn | None:
        return self.live.get(session_id or "")


class Inspector:
    def __init__(self) -> None:
        self.opaque: dict[str, dict[str, Any]] = {}

    async def live_access_claims(self, token: str) -> dict[str, Any] | None:
        return self.opaque.get(token)


def route(name: str, path: str, authenticate: list[str], authorize: Any, **extra: Any) -> Any:
    return {
        "name": name,
        "path": path,
        "upstream": "orders",
        "authenticate": authenticate,
        "authorize": authorize,
        **extra,
    }


SETTINGS = GatewaySettings.model_validate(
    {
        "upstreams": {"orders": {"targets": ["http://127.0.0.1:9"], "audience": AUDIENCE}},
        "routes": [
            route(
                "read",
                "/orders/**",
                ["jwt", "introspection", "client_credentials"],
                {"require": {"scopes_any": ["orders:read", "orders:admin"]}},
                methods=["GET"],
            ),
            route(
                "write",
                "/orders/**",
                ["jwt"],
                {"require": {"scopes_all": ["orders:read", "orders:write"]}},
                methods=["POST"],
            ),
            route("admin", "/admin/**", ["jwt", "cookie"], {"require": {"groups_any": ["admin"]}}),
            route("flag", "/flag", ["jwt"], {"require": {"claims": {"admin": True}}}),
            route("open", "/open/**", ["jwt", "anonymous"], "allow", identity={"jwt": False}),
            route("members", "/members", ["jwt", "anonymous"], {"require": {"scopes_any": ["x"]}}),
            route("closed", "/closed", ["jwt"], "deny"),
            route("raw", "/raw", ["jwt"], "allow", keep_authorization=True, audience="raw-api"),
        ],
    }
)


class World:
    """A pipeline over real keys, and the means to mint tokens it should believe."""

    def __init__(self) -> None:
        self.clock = Clock(NOW)
        key = generate_signing_key("RS256", now=NOW - 100)
        self.codec = TokenCodec(lambda: self.ring, ISSUER, leeway=30, clock=self.clock)
        self.deny = Deny()
        self.tokens = CodecTokens(self.codec, self.deny)
        self.users = Users()
        self.sessions = Sessions()
        self.inspector = Inspector()
        self.ring = KeyRing([key])
        self.backends = Backends(
            self.tokens, self.deny, self.users, Clients(), self.sessions, self.inspector, self.clock
        )
        signer = IdentitySigner(self.codec, ISSUER, self.clock)
        self.gate = Pipeline.build(SETTINGS, self.backends, signer)

    def user(self, username: str = "ada", groups: tuple[str, ...] = ()) -> UserRecord:
        record = UserRecord(
            sub=secrets.token_hex(8), username=username, email=None, password_hash=None
        )
        record.groups = list(groups)
        record.status = "confirmed"
        self.users.records[record.sub] = record
        return record

    def token(self, **claims: Any) -> str:
        iat = int(self.clock.now)
        base: dict[str, Any] = {
            "iss": ISSUER,
            "sub": "machine",
            "aud": AUDIENCE,
            "client_id": "machine",
            "scope": "orders:read",
            "token_use": "access",
            "iat": iat,
            "exp": iat + 300,
            "jti": secrets.token_urlsafe(8),
        }
        base.update(claims)
        return self.codec.sign({k: v for k, v in base.items() if v is not None}, typ="at+jwt")

    def user_token(self, user: UserRecord, **claims: Any) -> str:
        return self.token(
            sub=user.sub,
            username=user.username,
            groups=list(user.groups),
            client_id="web",
            **claims,
        )


@pytest.fixture
def world() -> World:
    return World()


def described(
    path: str = "/orders/1",
    method: str = "GET",
    token: str | None = None,
    *headers: tuple[str, str],
) -> GateRequest:
    sent = [("host", "api.example.com"), *headers]
    if token is not None:
        sent.append(("authorization", f"Bearer {token}"))
    return GateRequest(method, "https", "api.example.com", path, "", tuple(sent))


# -- stage 1: match --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/../orders/1", "/orders/%2e%2e/x", "/a%2fb", "//orders"])
async def test_ambiguous_paths_stop_before_authentication(world: World, path: str) -> None:
    with pytest.raises(AmbiguousPath):
        await world.gate.decide(described(path, token="not even looked at"))


async def test_no_route_and_wrong_method(world: World) -> None:
    with pytest.raises(NoRoute):
        await world.gate.decide(described("/elsewhere"))
    with pytest.raises(MethodNotAllowed) as refused:
        await world.gate.decide(described("/orders/1", "DELETE"))
    assert refused.value.allowed == ["GET", "HEAD", "POST"]


@pytest.mark.parametrize("method", ["G ET", "", "GET\r\n"])
async def test_a_method_that_is_not_a_token_is_refused(world: World, method: str) -> None:
    with pytest.raises(BadGateRequest):
        await world.gate.decide(described("/orders/1", method))


async def test_head_is_authorized_like_get(world: World) -> None:
    decision = await world.gate.decide(described("/orders/1", "HEAD", world.token()))
    assert decision.match.route.name == "read"
    with pytest.raises(Denied):
        await world.gate.decide(described("/orders/1", "HEAD", world.token(scope="other")))


# -- stage 2: authenticate -------------------------------------------------------------


async def test_no_credential_is_401_without_an_error_code(world: World) -> None:
    with pytest.raises(AuthenticationFailed) as failed:
        await world.gate.decide(described("/admin/x"))
    assert failed.value.error is None
    assert failed.value.www_authenticate == ['Bearer realm="authgate"']


async def test_a_bad_bearer_stops_and_never_falls_to_anonymous(world: World) -> None:
    forged = world.token()[:-4] + "AAAA"
    with pytest.raises(AuthenticationFailed) as failed:
        await world.gate.decide(described("/open/x", token=forged))
    assert failed.value.www_authenticate == ['Bearer realm="authgate", error="invalid_token"']


async def test_jwt_leaves_what_is_not_a_bearer_jwt_to_the_others(world: World) -> None:
    authenticator = JwtAuthenticator(world.backends)
    context = AuthContext()
    basic = described("/x", "GET", None, ("authorization", "Basic bWFjaGluZTpz"))
    assert await authenticator(basic, context) is NOT_MINE
    assert await authenticator(described("/x", token="opaque-token"), context) is NOT_MINE
    assert await authenticator(described("/x"), context) is NOT_MINE


async def test_an_opaque_token_goes_to_introspection(world: World) -> None:
    world.inspector.opaque["opaque"] = {
        "sub": "machine",
        "client_id": "machine",
        "scope": "orders:read",
        "aud": AUDIENCE,
        "exp": NOW + 60,
    }
    decision = await world.gate.decide(described(token="opaque"))
    assert decision.principal.method == "introspection"
    with pytest.raises(AuthenticationFailed):
        await world.gate.decide(described(token="unknown"))


async def test_the_audience_is_exact_membership(world: World) -> None:
    listed = world.token(aud=["https://other.example", AUDIENCE])
    assert (await world.gate.decide(described(token=listed))).principal.subject == "machine"
    for wrong in (AUDIENCE + ".evil", "https://orders.example/", ["x"], None):
        with pytest.raises(AuthenticationFailed):
            await world.gate.decide(described(token=world.token(aud=wrong)))


async def test_the_route_audience_wins_over_the_upstreams(world: World) -> None:
    with pytest.raises(AuthenticationFailed):
        await world.gate.decide(described("/raw", token=world.token()))
    assert await world.gate.decide(described("/raw", token=world.token(aud="raw-api")))


async def test_other_token_kinds_are_refused(world: World) -> None:
    id_like = world.codec.sign(
        {
            "iss": ISSUER,
            "sub": "machine",
            "aud": AUDIENCE,
            "iat": int(NOW),
            "exp": int(NOW) + 60,
            "token_use": "id",
        },
        typ="JWT",
    )
    with pytest.raises(AuthenticationFailed):
        await world.gate.decide(described(token=id_like))


async def test_verified_tokens_are_cached_but_revocation_still_applies(world: World) -> None:
    token = world.token(jti="j-1")
    await world.gate.decide(described(token=token))
    await world.gate.decide(described(token=token))
    assert world.tokens.verified == 1
    world.deny.jtis.add("j-1")
    with pytest.raises(AuthenticationFailed):
        await world.gate.decide(described(token=token))


async def test_a_cached_token_expires_with_its_exp(world: World) -> None:
    token = world.token(exp=int(NOW) + 10)
    await world.gate.decide(described(token=token))
    world.clock.now += 60
    with pytest.raises(AuthenticationFailed):
        await world.gate.decide(described(token=token))


async def test_user_state_is_read_at_most_every_five_seconds(world: World) -> None:
    ada = world.user(groups=("admin",))
    token = world.user_token(ada)
    await world.gate.decide(described("/admin/x", token=token))
    ada.tokens_valid_after = NOW + 1  # "sign out everywhere", seen by the database only
    world.clock.now += 2
    await world.gate.decide(described("/admin/x", token=token))
    assert world.users.lookups == 1
    world.clock.now += 3
    with pytest.raises(AuthenticationFailed):
        await world.gate.decide(described("/admin/x", token=token))


async def test_a_disabled_or_deleted_user_is_cut_off(world: World) -> None:
    ada = world.user(groups=("admin",))
    ada.enabled = False
    with pytest.raises(AuthenticationFailed):
        await world.gate.decide(described("/admin/x", token=world.user_token(ada)))
    ghost = world.token(sub="gone", username="ghost", client_id="web", groups=["admin"])
    with pytest.raises(AuthenticationFailed):
        await world.gate.decide(described("/admin/x", token=ghost))


async def test_a_token_of_a_deleted_client_is_refused(world: World) -> None:
    with pytest.raises(AuthenticationFailed):
        await world.gate.decide(described(token=world.token(sub="gone", client_id="gone")))


def basic(client_id: str, secret: str) -> tuple[str, str]:
    return ("authorization", "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode())


async def test_client_credentials_by_basic(world: World) -> None:
    decision = await world.gate.decide(
        described("/orders/1", "GET", None, basic("machine", "machine-secret"))
    )
    assert decision.principal.client_id == "machine"
    assert decision.principal.scopes == {"orders:read"}
    for bad in (
        basic("machine", "wrong"),
        basic("web", "web-secret"),
        ("authorization", "Basic !"),
    ):
        with pytest.raises(AuthenticationFailed) as failed:
            await world.gate.decide(described("/orders/1", "GET", None, bad))
        assert failed.value.www_authenticate == ['Basic realm="authgate", error="invalid_client"']


async def test_a_browser_session_by_cookie(world: World) -> None:
    ada = world.user(groups=("admin",))
    world.sessions.live["s1"] = SignedIn("s1", ada, NOW)
    cookie = ("cookie", "theme=dark; authgate_session=s1")
    decision = await world.gate.decide(described("/admin/x", "GET", None, cookie))
    assert decision.principal.subject == ada.sub
    assert decision.principal.method == "cookie"
    twice = ("cookie", "authgate_session=s1; authgate_session=s1")
    with pytest.raises(AuthenticationFailed):
        await world.gate.decide(described("/admin/x", "GET", None, twice))


async def test_a_repeated_authorization_header_is_refused(world: World) -> None:
    token = world.token()
    with pytest.raises(BadGateRequest):
        await world.gate.decide(described("/orders/1", "GET", token, ("authorization", "x")))


# -- stage 3: authorize ----------------------------------------------------------------


async def test_scopes_any_and_all(world: World) -> None:
    assert await world.gate.decide(described(token=world.token(scope="orders:admin")))
    with pytest.raises(Denied) as denied:
        await world.gate.decide(described("/orders/1", "POST", world.token()))
    assert denied.value.reason_id == "scope_missing"
    both = world.token(scope="orders:read orders:write")
    assert await world.gate.decide(described("/orders/1", "POST", both))


async def test_groups_any(world: World) -> None:
    with pytest.raises(Denied) as denied:
        await world.gate.decide(described("/admin/x", token=world.user_token(world.user())))
    assert denied.value.reason_id == "group_missing"


@pytest.mark.parametrize("value", ["true", 1, 1.0, [True], None])
async def test_claim_equality_is_type_sensitive(world: World, value: Any) -> None:
    with pytest.raises(Denied) as denied:
        await world.gate.decide(described("/flag", token=world.token(admin=value)))
    assert denied.value.reason_id == "claim_mismatch"
    assert await world.gate.decide(described("/flag", token=world.token(admin=True)))


async def test_a_denial_is_logged_with_reason_route_subject_and_client(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="authgate.gate")
    with pytest.raises(Denied):
        await world.gate.decide(described("/closed", token=world.token()))
    (line,) = [r.getMessage() for r in caplog.records if r.name == "authgate.gate"]
    fields = dict(part.split("=", 1) for part in line.split()[1:])
    assert fields["reason_id"] == "route_denies"
    assert fields["route"] == "closed"
    assert fields["subject"] != "-" and fields["client"] != "-"


async def test_deny_refuses_a_valid_caller(world: World) -> None:
    with pytest.raises(Denied) as denied:
        await world.gate.decide(described("/closed", token=world.token()))
    assert denied.value.reason_id == "route_denies"


async def test_anonymous_where_someone_is_required_is_asked_to_sign_in(world: World) -> None:
    with pytest.raises(AuthenticationFailed) as failed:
        await world.gate.decide(described("/members"))
    assert failed.value.error is None
    decision = await world.gate.decide(described("/open/page"))
    assert decision.principal.is_anonymous
    assert decision.patch.set == {}


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), st.lists))
def test_same_value_is_reflexive_and_tells_bool_from_int(value: Any) -> None:
    assert same_value(value, value)
    assert not same_value(True, 1) and not same_value(0, False) and not same_value(1, 1.0)


# -- stage 4: mutate -------------------------------------------------------------------


async def test_the_patch_strips_every_spelling_and_what_connection_names(world: World) -> None:
    request = described(
        "/orders/1",
        "GET",
        world.token(),
        ("x-authgate-sub", "admin"),
        ("x_authgate_groups", "admin"),
        ("x.authgate.identity", "forged"),
        ("connection", "keep-alive, X-Custom"),
        ("x-custom", "1"),
        ("x-http-method-override", "DELETE"),
        ("accept", "*/*"),
    )
    patch = (await world.gate.decide(request)).patch
    out = dict(patch.apply(request.headers))
    assert out["x-authgate-sub"] == "machine"
    assert out["x-authgate-client"] == "machine"
    assert out["x-authgate-scopes"] == "orders:read"
    for gone in (
        "x_authgate_groups",
        "x.authgate.identity",
        "connection",
        "x-custom",
        "keep-alive",
        "authorization",
        "x-http-method-override",
    ):
        assert gone not in out
    assert out["accept"] == "*/*"


@pytest.mark.parametrize(
    "name",
    [
        "x-original-url",
        "x-rewrite-url",
        "x-original-uri",
        "x-original-method",
        "x-forwarded-uri",
        "x-forwarded-prefix",
        "x_original_url",
        "x-http-method",
    ],
)
async def test_the_patch_strips_headers_that_rename_the_request(world: World, name: str) -> None:
    request = described("/orders/1", "GET", world.token(), (name, "/admin/delete-all"))
    out = dict((await world.gate.decide(request)).patch.apply(request.headers))
    assert name not in out


async def test_connection_cannot_drop_the_headers_the_gate_adds(world: World) -> None:
    request = described("/orders/1", "GET", world.token(), ("connection", "X-Authgate-Sub"))
    out = dict((await world.gate.decide(request)).patch.apply(request.headers))
    assert out["x-authgate-sub"] == "machine"


async def test_keep_authorization(world: World) -> None:
    token = world.token(aud="raw-api")
    request = described("/raw", "GET", token)
    out = dict((await world.gate.decide(request)).patch.apply(request.headers))
    assert out["authorization"] == f"Bearer {token}"


async def test_the_identity_jwt(world: World) -> None:
    ada = world.user(groups=("admin", "ops"))
    decision = await world.gate.decide(described("/admin/x", token=world.user_token(ada)))
    headers = decision.patch.set
    assert headers["x-authgate-groups"] == "admin,ops"
    assert headers["x-authgate-username"] == "ada"
    keys = KeySet.import_key_set(cast(Any, world.ring.jwks(NOW)))
    token = jose_jwt.decode(headers["x-authgate-identity"], keys)
    assert token.header["typ"] == IDENTITY_TYP
    assert token.claims["aud"] == "orders"
    assert token.claims["sub"] == ada.sub
    assert token.claims["exp"] - token.claims["iat"] == 60
    assert token.claims["groups"] == ["admin", "ops"]


def identity_of(world: World, signer: IdentitySigner, principal: Principal) -> dict[str, Any]:
    keys = KeySet.import_key_set(cast(Any, world.ring.jwks(NOW)))
    return dict(jose_jwt.decode(signer.sign(principal, "orders"), keys).claims)


def test_an_identity_statement_is_reused_while_half_its_life_remains(world: World) -> None:
    signer = IdentitySigner(world.codec, ISSUER, world.clock)
    ada = Principal("jwt", subject="ada", groups=("ops",))
    first = signer.sign(ada, "orders")
    world.clock.now += 30
    assert signer.sign(ada, "orders") == first
    world.clock.now += 1
    renewed = identity_of(world, signer, ada)
    assert renewed["iat"] == int(world.clock.now)
    assert renewed["exp"] - world.clock.now == 60


def test_an_identity_statement_is_never_shared_between_principals_or_upstreams(
    world: World,
) -> None:
    signer = IdentitySigner(world.codec, ISSUER, world.clock)
    ada = Principal("jwt", subject="ada", groups=("ops",), scopes=frozenset({"a"}))
    statements = {
        signer.sign(ada, "orders"),
        signer.sign(ada, "billing"),
        signer.sign(Principal("jwt", subject="bob", groups=("ops",)), "orders"),
        signer.sign(Principal("jwt", subject="ada", groups=("admin",)), "orders"),
        signer.sign(Principal("jwt", subject="ada", groups=("ops",)), "orders"),
        signer.sign(Principal("jwt", subject="ada", client_id="web"), "orders"),
    }
    assert len(statements) == 6


def test_the_identity_cache_is_bounded(world: World) -> None:
    signer = IdentitySigner(world.codec, ISSUER, world.clock, max_cached=3)
    for n in range(10):
        signer.sign(Principal("jwt", subject=f"user-{n}"), "orders")
    assert len(signer._cache) == 3


@pytest.mark.parametrize("username", ["ada\r\nX-Authgate-Sub: root", "ada\n", "adá"])
async def test_unsafe_identity_values_refuse_the_request(world: World, username: str) -> None:
    ada = world.user(username=username, groups=("admin",))
    with pytest.raises(Denied) as denied:
        await world.gate.decide(described("/admin/x", token=world.user_token(ada)))
    assert denied.value.reason_id == "unsafe_identity_value"


_SEPARATOR = st.sampled_from(["-", "_", "."])


@given(
    st.lists(_SEPARATOR, min_size=2, max_size=2),
    st.text("abcdefghijklmnopqrstuvwxyz-", max_size=10),
)
def test_every_spelling_of_the_reserved_namespace_is_reserved(
    separators: list[str], rest: str
) -> None:
    name = f"x{separators[0]}AuthGate{separators[1]}{rest}"
    assert is_reserved(name)
    assert is_reserved(name.upper())
    assert header_key(name).startswith("x-authgate-")


_NAMES = st.sampled_from(["a", "b", "x-authgate-sub", "authorization"])
_PATCHES = st.builds(
    HeaderPatch,
    st.dictionaries(_NAMES, st.text("xyz", max_size=3), max_size=3),
    st.frozensets(_NAMES, max_size=3),
)


@given(_PATCHES, _PATCHES, st.lists(st.tuples(_NAMES, st.text("pq", max_size=2)), max_size=5))
def test_a_merged_patch_equals_applying_both_in_order(
    first: HeaderPatch, second: HeaderPatch, headers: list[tuple[str, str]]
) -> None:
    merged = first.merge(second).apply(headers)
    stepwise = second.apply(first.apply(headers))
    assert sorted(merged) == sorted(stepwise)


def test_principal_default_is_not_anonymous_when_it_names_a_client() -> None:
    assert not Principal(method="client_credentials", client_id="c").is_anonymous


# -- the gateway's answer table --------------------------------------------------------

FAILURES = [
    (BadGateRequest("bad_uri", "no"), 400, "bad_uri"),
    (AmbiguousPath("dot segments are refused"), 400, None),
    (AuthenticationFailed(None, "who?"), 401, None),
    (AuthenticationFailed("invalid_token", "bad"), 401, "invalid_token"),
    (Denied("scope_missing", "no"), 403, "scope_missing"),
    (NoRoute("/x"), 404, None),
    (MethodNotAllowed(["GET", "HEAD"]), 405, None),
    (CorsOriginDenied("https://evil.example"), 403, "origin_not_allowed"),
    (CorsPreflightDenied("method_not_allowed", "no"), 403, "method_not_allowed"),
    (RateLimited(7), 429, None),
    (BodyTooLarge(1024), 413, None),
    (BodyStalled(), 408, None),
    (BadGateway(), 502, None),
    (NoHealthyUpstream("orders"), 503, None),
    (UpstreamTimeout(), 504, None),
    (StorageUnavailable(retry_after=2), 503, None),
]


def test_every_gateway_failure_has_an_answer() -> None:
    assert {type(exc) for exc, _, _ in FAILURES} == set(STATUS)


@pytest.mark.parametrize(("exc", "status", "reason_id"), FAILURES, ids=lambda v: repr(v)[:30])
def test_a_failure_answers_json_with_its_reason(
    exc: Exception, status: int, reason_id: str | None
) -> None:
    response = failure_response(exc)
    body = json.loads(bytes(response.body))
    assert response.status_code == status
    assert body.get("reason_id") == reason_id
    assert set(body) <= {"error", "message", "reason_id"}
    assert response.headers["cache-control"] == "no-store"
    if status == 401:
        assert response.headers["www-authenticate"].startswith('Bearer realm="authgate"')
    if status == 405:
        assert response.headers["allow"] == "GET, HEAD"
    if status == 429:
        assert response.headers["retry-after"] == "7"
    if isinstance(exc, StorageUnavailable):
        assert response.headers["retry-after"] == "2"


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("API.example.com:8443", "api.example.com"),
        ("example.com.", "example.com"),
        ("[::1]:80", "[::1]"),
        ("", None),
    ],
)
def test_the_host_is_matched_without_port_or_case(value: str, host: str | None) -> None:
    assert host_name(value) == host


@pytest.mark.parametrize("value", ["a.example, b.example", "a b", "evil/host", "a@b"])
def test_a_host_that_is_not_one_name_is_refused(value: str) -> None:
    with pytest.raises(BadGateRequest):
        host_name(value)
