"""`/_authgate/forward` through a real server: every failure status, and what a 200 carries.

The trusted proxy is 127.0.0.2 (Linux routes all of 127/8 to loopback); requests from
127.0.0.1 stand for anyone else. Upstreams are declared but never contacted: forward-auth
decides, the proxy in front forwards.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.interop_signin import drive
from tests.integration.oauth_support import (
    PASSWORD,
    REDIRECT_URI,
    RESOURCE_SCOPES,
    client_token,
    code_tokens,
    machine,
    person,
    post_form,
    web_app,
)
from tests.integration.proxy_support import described

PROXY = "127.0.0.2"
STRANGER = "127.0.0.1"
AUDIENCE = "https://orders.example"
NOWHERE = ["http://127.0.0.1:9"]


def route(name: str, path: str, authenticate: list[str], authorize: Any, **extra: Any) -> Any:
    return {
        "name": name,
        "path": path,
        "upstream": "orders",
        "authenticate": authenticate,
        "authorize": authorize,
        **extra,
    }


GATEWAY = {
    "trusted_proxies": [f"{PROXY}/32"],
    "upstreams": {"orders": {"targets": NOWHERE}, "audited": {"targets": NOWHERE}},
    "routes": [
        route(
            "orders-read",
            "/orders/**",
            ["jwt", "introspection", "client_credentials"],
            {"require": {"scopes_any": ["orders:read"]}},
            methods=["GET"],
        ),
        route(
            "orders-write",
            "/orders/**",
            ["jwt"],
            {"require": {"scopes_all": ["orders:write"]}},
            methods=["POST"],
        ),
        route("admin", "/admin/**", ["jwt", "cookie"], {"require": {"groups_any": ["admin"]}}),
        route("claims", "/claims/**", ["jwt"], {"require": {"claims": {"client_id": "other"}}}),
        route("me", "/me", ["cookie", "jwt"], "allow"),
        route("public", "/public/**", ["jwt", "anonymous"], "allow"),
        route("closed", "/closed", ["jwt"], "deny"),
        {
            **route("audited", "/audited", ["jwt"], "allow", audience=AUDIENCE),
            "upstream": "audited",
        },
    ],
}


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory) -> AuthgateServer:
    return make_server(oauth={"scopes": RESOURCE_SCOPES}, gateway=GATEWAY)


@pytest.fixture(scope="module")
def proxy(gate: AuthgateServer) -> Iterator[httpx.Client]:
    with gate.public_client(local_address=PROXY) as http:
        yield http


@pytest.fixture(scope="module")
def worker(gate: AuthgateServer) -> dict[str, Any]:
    return machine(gate)


@pytest.fixture(scope="module")
def read_token(gate: AuthgateServer, worker: dict[str, Any]) -> str:
    return str(client_token(gate, worker, scope="orders:read")["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ask(http: httpx.Client, method: str = "GET", uri: str = "/orders/1", **headers: str) -> Any:
    return http.get("/_authgate/forward", headers=described(method, uri, **headers))


def assert_failure(answer: httpx.Response, status: int, reason_id: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) <= {"error", "message", "reason_id"}
    assert body.get("reason_id") == reason_id
    assert answer.headers["cache-control"] == "no-store"
    assert not any(k.startswith("x-authgate-") for k in answer.headers)


def identity_of(answer: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in answer.headers.items() if k.startswith("x-authgate-")}


# -- who may ask ---------------------------------------------------------------------


def test_a_peer_that_is_not_a_trusted_proxy_is_refused(
    gate: AuthgateServer, read_token: str
) -> None:
    with gate.public_client(local_address=STRANGER) as http:
        assert_failure(ask(http, **bearer(read_token)), 403, "untrusted_peer")
        # uvicorn's own X-Forwarded-For handling must not make a stranger a proxy.
        spoofed = ask(http, **bearer(read_token), **{"X-Forwarded-For": PROXY})
        assert_failure(spoofed, 403, "untrusted_peer")


def test_the_trusted_proxy_gets_a_decision(proxy: httpx.Client, read_token: str) -> None:
    answer = ask(proxy, **bearer(read_token))
    assert answer.status_code == 200, answer.text
    assert answer.content == b""


# -- 400: what cannot be believed or normalized -----------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "/admin/../orders/1",
        "/orders/%2e%2e/admin",
        "/orders/a%2fb",
        "//orders/1",
        "/orders/./1",
        "/public/%00/../x",
        "/public/a%2fb/%2e%2e/x",
        "/public/a;b/../x",
        "/public/a./../x",
    ],
)
def test_ambiguous_paths_are_refused(proxy: httpx.Client, read_token: str, uri: str) -> None:
    assert_failure(ask(proxy, uri=uri, **bearer(read_token)), 400)


@pytest.mark.parametrize("missing", ["X-Forwarded-Method", "X-Forwarded-Uri"])
def test_a_missing_description_is_refused(proxy: httpx.Client, missing: str) -> None:
    headers = {k: v for k, v in described().items() if k != missing}
    answer = proxy.get("/_authgate/forward", headers=headers)
    assert_failure(answer, 400, "missing_description")


def test_two_descriptions_that_disagree_are_refused(proxy: httpx.Client, read_token: str) -> None:
    answer = ask(proxy, **bearer(read_token), **{"X-Original-URI": "/public/1"})
    assert_failure(answer, 400, "conflicting_description")


def test_an_uri_that_is_not_a_path_is_refused(proxy: httpx.Client) -> None:
    assert_failure(ask(proxy, uri="http://evil.example/orders/1"), 400, "bad_uri")


def test_nginx_describes_the_request_its_own_way(proxy: httpx.Client, read_token: str) -> None:
    headers = {
        "X-Original-Method": "GET",
        "X-Original-URI": "/orders/1?expand=all",
        "Host": "api.example.com",
        **bearer(read_token),
    }
    assert proxy.get("/_authgate/forward", headers=headers).status_code == 200


# -- 404, 405 --------------------------------------------------------------------------


@pytest.mark.parametrize("uri", ["/nowhere", "/ORDERS/1", "/_authgate/forward"])
def test_no_route_is_404(proxy: httpx.Client, read_token: str, uri: str) -> None:
    assert_failure(ask(proxy, uri=uri, **bearer(read_token)), 404)


def test_a_method_no_route_serves_is_405_with_allow(proxy: httpx.Client, read_token: str) -> None:
    answer = ask(proxy, "DELETE", **bearer(read_token))
    assert_failure(answer, 405)
    assert answer.headers["allow"] == "GET, HEAD, POST"


def test_head_is_authorized_like_get(proxy: httpx.Client, read_token: str) -> None:
    assert ask(proxy, "HEAD", **bearer(read_token)).status_code == 200
    assert ask(proxy, "HEAD").status_code == 401


def test_method_overrides_are_never_honoured(proxy: httpx.Client, read_token: str) -> None:
    answer = ask(proxy, "POST", **bearer(read_token), **{"X-HTTP-Method-Override": "GET"})
    assert_failure(answer, 403, "scope_missing")


# -- 401 -------------------------------------------------------------------------------


def test_no_credential_is_a_bare_challenge(proxy: httpx.Client) -> None:
    answer = ask(proxy, uri="/admin/x")
    assert_failure(answer, 401)
    assert answer.headers.get_list("www-authenticate") == ['Bearer realm="authgate"']


def test_a_route_that_takes_basic_offers_it_too(proxy: httpx.Client) -> None:
    answer = ask(proxy)
    assert answer.headers.get_list("www-authenticate") == [
        'Bearer realm="authgate"',
        'Basic realm="authgate"',
    ]


@pytest.mark.parametrize(
    "credential", ["Bearer a.b.c", "Bearer eyJhbGciOiJub25lIn0.e30.", "Bearer", "Bearer a b"]
)
def test_a_bad_bearer_token_is_invalid_token(proxy: httpx.Client, credential: str) -> None:
    answer = ask(proxy, uri="/admin/x", Authorization=credential)
    assert_failure(answer, 401, "invalid_token")
    assert answer.headers["www-authenticate"] == 'Bearer realm="authgate", error="invalid_token"'


def test_an_id_token_is_not_an_access_token(gate: AuthgateServer, proxy: httpx.Client) -> None:
    email, _ = person(gate)
    tokens = code_tokens(gate, web_app(gate), email)
    answer = ask(proxy, uri="/me", **bearer(tokens["id_token"]))
    assert_failure(answer, 401, "invalid_token")


def test_a_revoked_token_is_refused_at_once(
    gate: AuthgateServer, proxy: httpx.Client, worker: dict[str, Any]
) -> None:
    token = client_token(gate, worker, scope="orders:read")["access_token"]
    assert ask(proxy, **bearer(token)).status_code == 200  # now cached as verified
    revoked = post_form(gate, "/oauth2/revoke", worker, token=token)
    assert revoked.status_code == 200, revoked.text
    assert_failure(ask(proxy, **bearer(token)), 401, "invalid_token")


def test_sign_out_everywhere_cuts_a_user_token_off(
    gate: AuthgateServer, proxy: httpx.Client
) -> None:
    email, sub = person(gate)
    token = code_tokens(gate, web_app(gate), email)["access_token"]
    with gate.admin_client() as admin:
        assert admin.post(f"/admin/users/{sub}/sign-out").status_code in (200, 204)
    assert_failure(ask(proxy, uri="/me", **bearer(token)), 401, "invalid_token")


def test_the_audience_is_checked_when_the_route_sets_one(
    gate: AuthgateServer, proxy: httpx.Client, read_token: str
) -> None:
    assert_failure(ask(proxy, uri="/audited", **bearer(read_token)), 401, "invalid_token")
    meant = machine(gate, audience=[AUDIENCE, "https://other.example"])
    token = client_token(gate, meant)["access_token"]
    assert ask(proxy, uri="/audited", **bearer(token)).status_code == 200


# -- 403 -------------------------------------------------------------------------------


def test_a_missing_scope_is_403(
    gate: AuthgateServer, proxy: httpx.Client, worker: dict[str, Any]
) -> None:
    token = client_token(gate, worker, scope="orders:write")["access_token"]
    assert_failure(ask(proxy, **bearer(token)), 403, "scope_missing")
    assert ask(proxy, "POST", **bearer(token)).status_code == 200


def test_a_missing_group_is_403(proxy: httpx.Client, read_token: str) -> None:
    assert_failure(ask(proxy, uri="/admin/x", **bearer(read_token)), 403, "group_missing")


def test_a_claim_that_differs_is_403(proxy: httpx.Client, read_token: str) -> None:
    assert_failure(ask(proxy, uri="/claims/x", **bearer(read_token)), 403, "claim_mismatch")


def test_a_deny_route_refuses_everyone(proxy: httpx.Client, read_token: str) -> None:
    assert_failure(ask(proxy, uri="/closed", **bearer(read_token)), 403, "route_denies")


# -- 200 and what it carries -----------------------------------------------------------


def test_a_client_token_passes_with_its_identity(
    proxy: httpx.Client, worker: dict[str, Any], read_token: str
) -> None:
    identity = identity_of(ask(proxy, **bearer(read_token)))
    client_id = worker["client_id"]
    assert identity["x-authgate-sub"] == client_id
    assert identity["x-authgate-client"] == client_id
    assert identity["x-authgate-scopes"] == "orders:read"
    assert "x-authgate-username" not in identity
    assert "x-authgate-identity" in identity


def test_a_user_token_from_the_code_flow_passes_with_groups(
    gate: AuthgateServer, proxy: httpx.Client
) -> None:
    email, sub = person(gate)
    with gate.admin_client() as admin:
        admin.post("/admin/groups", json={"name": "admin"})
        assert admin.put(f"/admin/groups/admin/members/{sub}").status_code == 204
    client = web_app(gate)
    tokens = code_tokens(gate, client, email)
    answer = ask(proxy, uri="/admin/users", **bearer(tokens["access_token"]))
    assert answer.status_code == 200, answer.text
    identity = identity_of(answer)
    assert identity["x-authgate-sub"] == sub
    assert identity["x-authgate-username"] == email
    assert identity["x-authgate-groups"] == "admin"
    assert identity["x-authgate-client"] == client["client_id"]
    assert identity["x-authgate-scopes"] == "email offline_access openid profile"


def test_the_identity_jwt_verifies_with_the_jwks_alone(
    gate: AuthgateServer, proxy: httpx.Client, read_token: str
) -> None:
    identity = identity_of(ask(proxy, **bearer(read_token)))["x-authgate-identity"]
    jwks = httpx.get(f"{gate.public}/.well-known/jwks.json").json()
    token = jose_jwt.decode(identity, KeySet.import_key_set(jwks))
    claims = token.claims
    assert token.header["typ"] == "authgate-identity+jwt"
    assert claims["iss"] == gate.public
    assert claims["aud"] == "orders"
    assert claims["exp"] - claims["iat"] == 60
    assert claims["sub"] == identity_of(ask(proxy, **bearer(read_token)))["x-authgate-sub"]
    assert claims["scope"] == "orders:read"
    assert claims["jti"]


def test_the_identity_jwt_names_the_routes_upstream(
    gate: AuthgateServer, proxy: httpx.Client
) -> None:
    token = client_token(gate, machine(gate, audience=[AUDIENCE]))["access_token"]
    identity = identity_of(ask(proxy, uri="/audited", **bearer(token)))["x-authgate-identity"]
    jwks = httpx.get(f"{gate.public}/.well-known/jwks.json").json()
    assert jose_jwt.decode(identity, KeySet.import_key_set(jwks)).claims["aud"] == "audited"


@pytest.mark.parametrize("name", ["X-Authgate-Sub", "x_authgate_sub", "X.Authgate.Sub"])
def test_spoofed_identity_headers_are_not_echoed(
    proxy: httpx.Client, read_token: str, name: str
) -> None:
    answer = ask(proxy, **bearer(read_token), **{name: "admin", "X-Authgate-Groups": "admin"})
    assert answer.status_code == 200, answer.text
    assert "admin" not in identity_of(answer).values()
    assert "x-authgate-groups" not in answer.headers


def test_connection_naming_an_identity_header_changes_nothing(
    proxy: httpx.Client, worker: dict[str, Any], read_token: str
) -> None:
    answer = ask(proxy, **bearer(read_token), Connection="keep-alive, X-Authgate-Sub")
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-authgate-sub"] == worker["client_id"]


def test_an_anonymous_route_answers_without_identity(proxy: httpx.Client) -> None:
    answer = ask(proxy, uri="/public/page", **{"X-Authgate-Sub": "admin"})
    assert answer.status_code == 200, answer.text
    assert identity_of(answer) == {}


def test_a_token_on_an_anonymous_route_still_counts(
    proxy: httpx.Client, read_token: str, worker: dict[str, Any]
) -> None:
    answer = ask(proxy, uri="/public/page", **bearer(read_token))
    assert answer.headers["x-authgate-sub"] == worker["client_id"]
    assert_failure(ask(proxy, uri="/public/page", **bearer("a.b.c")), 401, "invalid_token")


def test_an_opaque_token_passes_by_introspection(gate: AuthgateServer, proxy: httpx.Client) -> None:
    opaque = machine(gate, access_token_format="opaque")
    token = client_token(gate, opaque, scope="orders:read")["access_token"]
    answer = ask(proxy, **bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-authgate-client"] == opaque["client_id"]
    assert_failure(ask(proxy, **bearer(token + "x")), 401, "invalid_token")


def test_a_machine_may_use_basic_with_its_client_secret(
    proxy: httpx.Client, worker: dict[str, Any]
) -> None:
    pair = f"{worker['client_id']}:{worker['client_secret']}".encode()
    answer = ask(proxy, Authorization=f"Basic {base64.b64encode(pair).decode()}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-authgate-client"] == worker["client_id"]
    wrong = base64.b64encode(f"{worker['client_id']}:nope".encode()).decode()
    refused = ask(proxy, Authorization=f"Basic {wrong}")
    assert_failure(refused, 401, "invalid_client")
    assert refused.headers["www-authenticate"] == 'Basic realm="authgate", error="invalid_client"'


def test_a_hosted_page_session_signs_a_browser_in(
    gate: AuthgateServer, proxy: httpx.Client
) -> None:
    email, sub = person(gate)
    client = web_app(gate)
    url = (
        f"{gate.public}/oauth2/authorize?response_type=code&client_id={client['client_id']}"
        f"&redirect_uri={REDIRECT_URI}&scope=openid&state=s&code_challenge="
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    )
    with httpx.Client(timeout=30) as browser:
        drive(browser, url, REDIRECT_URI, email, PASSWORD)
        session = browser.cookies.get("authgate_session")
    assert session
    answer = ask(proxy, uri="/me", Cookie=f"theme=dark; authgate_session={session}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-authgate-sub"] == sub
    assert "x-authgate-client" not in answer.headers
    assert_failure(ask(proxy, uri="/me", Cookie="authgate_session=stale"), 401)
