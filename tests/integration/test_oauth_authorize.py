"""GET|POST /oauth2/authorize as a client and a browser see it (RFC 6749 4.1, RFC 7636,
OIDC Core 3.1.2, RFC 9207): error pages, error redirects, sign-in, consent, the code."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.integration.browser import (
    PASSWORD,
    REDIRECT_URI,
    Browser,
    Page,
    answer_of,
    claims_of,
    code_request,
    create_client,
    create_user,
    pkce_pair,
)
from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(
        oauth={"scopes": {"orders:read": "Read your orders"}},
        throttle={"login_failures": 1000},
    )


@pytest.fixture
def client(server: AuthgateServer) -> dict[str, Any]:
    return create_client(server)


@pytest.fixture
def email(server: AuthgateServer) -> str:
    address = unique_email("person")
    create_user(server, address)
    return address


def assert_error_page(response: httpx.Response) -> None:
    """An HTML error page on authgate's own origin: nothing is redirected anywhere."""
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"


def assert_redirected_error(
    server: AuthgateServer,
    response: httpx.Response,
    params: dict[str, str],
    error: str,
    redirect_uri: str = REDIRECT_URI,
) -> dict[str, str]:
    """A 303 back to the client with `error`, the request's `state` and our `iss`."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(redirect_uri + "?") or location.startswith(redirect_uri + "#")
    answer = answer_of(location)
    assert answer["error"] == error
    assert answer["iss"] == server.public
    assert answer.get("state") == params.get("state")
    assert "code" not in answer
    return answer


def assert_code(server: AuthgateServer, response: httpx.Response, params: dict[str, str]) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(params.get("redirect_uri", REDIRECT_URI) + "?")
    answer = answer_of(location)
    assert set(answer) == {"code", "state", "iss"}
    assert answer["state"] == params["state"]
    assert answer["iss"] == server.public
    return answer["code"]


def signed_in_browser(server: AuthgateServer, client: dict[str, Any], email: str) -> Browser:
    """A browser that went through the whole flow once, consent given."""
    browser = Browser(server)
    params = code_request(client)
    assert_code(server, browser.to_client(params, email), params)
    return browser


# -- the client and its redirect URI: an error page, never a redirect -------------------------


def test_unknown_client_gets_an_error_page(server: AuthgateServer) -> None:
    with Browser(server) as browser:
        params = {
            "response_type": "code",
            "client_id": "no-such-client",
            "redirect_uri": "https://evil.example/",
        }
        assert_error_page(browser.authorize(params))


def test_missing_client_id_gets_an_error_page(
    server: AuthgateServer, client: dict[str, Any]
) -> None:
    with Browser(server) as browser:
        assert_error_page(browser.authorize(code_request(client, client_id=None)))


def test_unregistered_redirect_uri_gets_an_error_page(
    server: AuthgateServer, client: dict[str, Any]
) -> None:
    with Browser(server) as browser:
        response = browser.authorize(code_request(client, redirect_uri="https://evil.example/cb"))
    assert_error_page(response)


@pytest.mark.parametrize(
    "redirect_uri",
    [
        REDIRECT_URI + "/",
        REDIRECT_URI.upper(),
        "https://APP.example/callback",
        "https://app.example/Callback",
        REDIRECT_URI + "?next=https://evil.example",
        REDIRECT_URI + "#x",
        REDIRECT_URI + "/../evil",
        "https://app.example/callback%2F..%2Fevil",
        "https://app.example/call",
        "https://app.example.evil/callback",
        "https://app.example@evil.example/callback",
        "https://app.example:443/callback",
        "http://app.example/callback",
        "//app.example/callback",
        "/\\evil.example/callback",
        "//evil.example",
        " " + REDIRECT_URI,
        REDIRECT_URI + "\t",
        REDIRECT_URI + "\n",
        "https://app.example/callback%09",
        "https://app.example/%63allback",
    ],
)
def test_redirect_uri_must_match_a_registered_one_exactly(
    server: AuthgateServer, client: dict[str, Any], redirect_uri: str
) -> None:
    with Browser(server) as browser:
        response = browser.authorize(code_request(client, redirect_uri=redirect_uri))
    assert_error_page(response)


def test_redirect_uri_sent_twice_gets_an_error_page(
    server: AuthgateServer, client: dict[str, Any]
) -> None:
    query = httpx.QueryParams(code_request(client)).add("redirect_uri", "https://evil.example/")
    with Browser(server) as browser:
        assert_error_page(browser.http.get("/oauth2/authorize", params=query))


def test_redirect_uri_is_required_when_several_are_registered(server: AuthgateServer) -> None:
    client = create_client(server, redirect_uris=[REDIRECT_URI, "https://app.example/other"])
    with Browser(server) as browser:
        assert_error_page(browser.authorize(code_request(client, redirect_uri=None)))


def test_redirect_uri_may_be_left_out_when_one_is_registered(
    server: AuthgateServer, client: dict[str, Any]
) -> None:
    params = code_request(client, redirect_uri=None, response_type=None, scope="email")
    with Browser(server) as browser:
        response = browser.authorize(params)
    assert_redirected_error(server, response, params, "invalid_request")


def test_an_openid_request_must_name_its_redirect_uri(
    server: AuthgateServer, client: dict[str, Any]
) -> None:
    params = code_request(client, redirect_uri=None, scope="openid email")
    with Browser(server) as browser:
        response = browser.authorize(params)
    assert_error_page(response)


def test_an_error_page_names_no_external_resource(server: AuthgateServer) -> None:
    with Browser(server) as browser:
        response = browser.authorize({"client_id": "nope"})
    assert_error_page(response)
    page = Page(response.text)
    assert len(page.all("h1")) == 1
    assert not page.all("script") and not page.all("a") and not page.all("img")


# -- everything else: an error sent back to the client, with state and iss -------------------


def test_missing_response_type_is_invalid_request(
    server: AuthgateServer, client: dict[str, Any]
) -> None:
    params = code_request(client, response_type=None)
    with Browser(server) as browser:
        assert_redirected_error(server, browser.authorize(params), params, "invalid_request")


@pytest.mark.parametrize("response_type", ["code token", "code id_token", "none", "unknown"])
def test_other_response_types_are_unsupported(
    server: AuthgateServer, client: dict[str, Any], response_type: str
) -> None:
    params = code_request(client, response_type=response_type)
    with Browser(server) as browser:
        response = browser.authorize(params)
    assert_redirected_error(server, response, params, "unsupported_response_type")


@pytest.mark.parametrize("response_type", ["token", "id_token", "id_token token"])
def test_implicit_response_types_are_refused_in_the_fragment(
    server: AuthgateServer, client: dict[str, Any], response_type: str
) -> None:
    params = code_request(client, response_type=response_type)
    with Browser(server) as browser:
        response = browser.authorize(params)
    assert_redirected_error(server, response, params, "unsupported_response_type")
    assert response.headers["location"].startswith(REDIRECT_URI + "#error=")


def test_a_client_without_the_code_grant_is_unauthorized(server: AuthgateServer) -> None:
    client = create_client(
        server,
        grant_types=["client_credentials"],
        token_endpoint_auth_method="client_secret_basic",
    )
    params = code_request(client)
    with Browser(server) as browser:
        response = browser.authorize(params)
    assert_redirected_error(server, response, params, "unauthorized_client")


@pytest.mark.parametrize("scope", ["openid phone", "orders:read", "openid admin", "openid\tx"])
def test_a_scope_the_client_does_not_have_is_invalid_scope(
    server: AuthgateServer, client: dict[str, Any], scope: str
) -> None:
    params = code_request(client, scope=scope)
    with Browser(server) as browser:
        assert_redirected_error(server, browser.authorize(params), params, "invalid_scope")


def test_a_public_client_must_use_pkce(server: AuthgateServer, client: dict[str, Any]) -> None:
    params = code_request(client, code_challenge=None, code_challenge_method=None)
    with Browser(server) as browser:
        assert_redirected_error(server, browser.authorize(params), params, "invalid_request")


@pytest.mark.parametrize("method", ["plain", None, "s256", "S512"])
def test_only_the_s256_method_is_accepted(
    server: AuthgateServer, client: dict[str, Any], method: str | None
) -> None:
    params = code_request(client, code_challenge_method=method)
    with Browser(server) as browser:
        assert_redirected_error(server, browser.authorize(params), params, "invalid_request")


def test_a_malformed_code_challenge_is_invalid_request(
    server: AuthgateServer, client: dict[str, Any]
) -> None:
    params = code_request(client, code_challenge="too-short")
    with Browser(server) as browser:
        assert_redirected_error(server, browser.authorize(params), params, "invalid_request")


def test_a_confidential_client_needs_pkce_by_default(server: AuthgateServer) -> None:
    client = create_client(server, token_endpoint_auth_method="client_secret_basic")
    params = code_request(client, code_challenge=None, code_challenge_method=None)
    with Browser(server) as browser:
        assert_redirected_error(server, browser.authorize(params), params, "invalid_request")


def test_a_confidential_client_may_opt_out_of_pkce(server: AuthgateServer, email: str) -> None:
    client = create_client(
        server, token_endpoint_auth_method="client_secret_basic", require_pkce=False
    )
    params = code_request(client, code_challenge=None, code_challenge_method=None)
    with Browser(server) as browser:
        assert_code(server, browser.to_client(params, email), params)


def test_a_parameter_sent_twice_is_invalid_request(
    server: AuthgateServer, client: dict[str, Any]
) -> None:
    params = code_request(client)
    query = httpx.QueryParams(params).add("scope", "openid")
    with Browser(server) as browser:
        response = browser.http.get("/oauth2/authorize", params=query)
    assert_redirected_error(server, response, params, "invalid_request")


@pytest.mark.parametrize(
    ("parameter", "error"),
    [
        ("request", "request_not_supported"),
        ("request_uri", "request_uri_not_supported"),
        ("registration", "registration_not_supported"),
    ],
)
def test_request_objects_are_not_supported(
    server: AuthgateServer, client: dict[str, Any], parameter: str, error: str
) -> None:
    params = code_request(client, **{parameter: "eyJhbGciOiJub25lIn0.e30."})
    with Browser(server) as browser:
        assert_redirected_error(server, browser.authorize(params), params, error)


@pytest.mark.parametrize("prompt", ["none login", "none consent", "sometimes"])
def test_a_bad_prompt_is_invalid_request(
    server: AuthgateServer, client: dict[str, Any], prompt: str
) -> None:
    params = code_request(client, prompt=prompt)
    with Browser(server) as browser:
        assert_redirected_error(server, browser.authorize(params), params, "invalid_request")


@pytest.mark.parametrize("max_age", ["-1", "soon", "1.5"])
def test_a_bad_max_age_is_invalid_request(
    server: AuthgateServer, client: dict[str, Any], max_age: str
) -> None:
    params = code_request(client, max_age=max_age)
    with Browser(server) as browser:
        assert_redirected_error(server, browser.authorize(params), params, "invalid_request")


def test_an_unsupported_response_mode_is_invalid_request(
    server: AuthgateServer, client: dict[str, Any]
) -> None:
    params = code_request(client, response_mode="form_post")
    with Browser(server) as browser:
        assert_redirected_error(server, browser.authorize(params), params, "invalid_request")


def test_the_error_keeps_the_registered_query_and_encodes_state(server: AuthgateServer) -> None:
    registered = "https://app.example/cb?tenant=a%20b"
    client = create_client(server, redirect_uris=[registered])
    state = "a&b=c d/é?#"
    params = code_request(client, response_type=None, state=state)
    with Browser(server) as browser:
        response = browser.authorize(params)
    location = response.headers["location"]
    assert location.startswith(registered + "&")
    assert answer_of(location)["state"] == state
    assert answer_of(location)["tenant"] == "a b"


def test_state_is_left_out_when_none_was_sent(
    server: AuthgateServer, client: dict[str, Any]
) -> None:
    params = code_request(client, state=None, response_type=None)
    with Browser(server) as browser:
        answer = assert_redirected_error(
            server, browser.authorize(params), params, "invalid_request"
        )
    assert "state" not in answer


# -- prompt=none: never a page -----------------------------------------------------------------


def test_prompt_none_without_a_session_is_login_required(
    server: AuthgateServer, client: dict[str, Any]
) -> None:
    params = code_request(client, prompt="none")
    with Browser(server) as browser:
        assert_redirected_error(server, browser.authorize(params), params, "login_required")


def test_prompt_none_without_consent_is_consent_required(
    server: AuthgateServer, email: str
) -> None:
    first = create_client(server, first_party=True)
    other = create_client(server, client_name="Partner")
    with signed_in_browser(server, first, email) as browser:
        params = code_request(other, prompt="none")
        response = browser.authorize(params)
    assert_redirected_error(server, response, params, "consent_required")


def test_prompt_none_with_session_and_consent_returns_a_code(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in_browser(server, client, email) as browser:
        params = code_request(client, prompt="none")
        assert_code(server, browser.authorize(params), params)


def test_prompt_none_with_a_hint_for_someone_else_is_login_required(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    someone = unique_email("someone")
    create_user(server, someone)
    with server.public_client() as http:
        tokens = http.post("/v1/login", json={"username": someone, "password": PASSWORD})
    hint = tokens.json()["id_token"]
    with signed_in_browser(server, client, email) as browser:
        params = code_request(client, prompt="none", id_token_hint=hint)
        assert_redirected_error(server, browser.authorize(params), params, "login_required")


def test_an_invalid_id_token_hint_is_invalid_request(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in_browser(server, client, email) as browser:
        params = code_request(client, prompt="none", id_token_hint="not.a.token")
        assert_redirected_error(server, browser.authorize(params), params, "invalid_request")


def test_signing_out_everywhere_ends_the_browser_session(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in_browser(server, client, email) as browser:
        with server.public_client() as http:
            tokens = http.post("/v1/login", json={"username": email, "password": PASSWORD})
            bearer = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
            assert http.post("/v1/logout/all", headers=bearer).status_code == 200
        params = code_request(client, prompt="none")
        assert_redirected_error(server, browser.authorize(params), params, "login_required")


# -- the whole flow ------------------------------------------------------------------------------


def test_sign_in_then_consent_then_the_code(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    params = code_request(client)
    with Browser(server) as browser:
        sign_in = browser.start(params)
        assert sign_in.status_code == 200
        assert "/auth/login" in str(sign_in.url)
        consent = browser.follow(browser.sign_in(sign_in, email))
        assert consent.status_code == 200
        assert "/auth/consent" in str(consent.url)
        assert_code(server, browser.submit(consent, decision="allow"), params)


def test_the_flow_also_starts_with_a_post(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    params = code_request(client)
    with signed_in_browser(server, client, email) as browser:
        assert_code(server, browser.http.post("/oauth2/authorize", data=params), params)


def test_a_code_can_arrive_in_the_fragment(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    params = code_request(client, response_mode="fragment")
    with signed_in_browser(server, client, email) as browser:
        response = browser.authorize(params)
    assert response.headers["location"].startswith(REDIRECT_URI + "#code=")
    assert answer_of(response.headers["location"])["iss"] == server.public


def test_the_code_is_appended_to_a_registered_query(server: AuthgateServer, email: str) -> None:
    registered = "https://app.example/cb?tenant=blue"
    client = create_client(server, redirect_uris=[registered])
    params = code_request(client)
    with Browser(server) as browser:
        response = browser.to_client(params, email)
    assert response.headers["location"].startswith(registered + "&code=")
    assert answer_of(response.headers["location"])["tenant"] == "blue"


def test_deny_sends_access_denied(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    params = code_request(client)
    with Browser(server) as browser:
        response = browser.to_client(params, email, allow=False)
    assert_redirected_error(server, response, params, "access_denied")


def test_a_remembered_consent_is_not_asked_again(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in_browser(server, client, email) as browser:
        params = code_request(client, scope="openid")
        assert_code(server, browser.authorize(params), params)


def test_more_scopes_than_remembered_ask_again(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in_browser(server, client, email) as browser:
        response = browser.authorize(code_request(client, scope="openid email profile"))
    assert response.status_code == 303
    assert response.headers["location"].startswith("/auth/consent?")


def test_prompt_consent_asks_even_when_remembered(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in_browser(server, client, email) as browser:
        params = code_request(client, prompt="consent")
        response = browser.authorize(params)
        assert response.headers["location"].startswith("/auth/consent?")
        page = browser.follow(response)
        assert_code(server, browser.submit(page, decision="allow"), params)


def test_a_first_party_client_skips_consent(server: AuthgateServer, email: str) -> None:
    client = create_client(server, first_party=True)
    params = code_request(client)
    with Browser(server) as browser:
        after_sign_in = browser.sign_in(browser.start(params), email)
    assert_code(server, after_sign_in, params)


def test_prompt_login_asks_for_the_password_despite_a_session(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in_browser(server, client, email) as browser:
        params = code_request(client, prompt="login")
        page = browser.start(params)
        assert "/auth/login" in str(page.url)
        assert_code(server, browser.sign_in(page, email), params)


def test_max_age_zero_asks_for_the_password_despite_a_session(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in_browser(server, client, email) as browser:
        params = code_request(client, max_age="0")
        page = browser.start(params)
        assert "/auth/login" in str(page.url)
        assert_code(server, browser.sign_in(page, email), params)


def test_a_recent_enough_session_satisfies_max_age(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in_browser(server, client, email) as browser:
        params = code_request(client, max_age="3600")
        assert_code(server, browser.authorize(params), params)


def test_prompt_none_with_a_stale_session_is_login_required(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in_browser(server, client, email) as browser:
        params = code_request(client, prompt="none", max_age="0")
        assert_redirected_error(server, browser.authorize(params), params, "login_required")


def test_a_client_deleted_mid_flow_gets_an_error_page(server: AuthgateServer, email: str) -> None:
    client = create_client(server)
    with Browser(server) as browser:
        page = browser.start(code_request(client))
        with server.admin_client() as admin:
            assert admin.delete(f"/admin/clients/{client['client_id']}").status_code == 204
        assert_error_page(browser.sign_in(page, email))


def test_a_redirect_uri_unregistered_mid_flow_gets_an_error_page(
    server: AuthgateServer, email: str
) -> None:
    client = create_client(server)
    with Browser(server) as browser:
        page = browser.start(code_request(client))
        with server.admin_client() as admin:
            changed = admin.patch(
                f"/admin/clients/{client['client_id']}",
                json={"redirect_uris": ["https://app.example/elsewhere"]},
            )
            assert changed.status_code == 200, changed.text
        assert_error_page(browser.sign_in(page, email))


def test_the_code_redeems_at_the_token_endpoint_with_auth_time_and_nonce(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    verifier, challenge = pkce_pair()
    nonce = secrets.token_urlsafe(8)
    params = code_request(client, code_challenge=challenge, nonce=nonce)
    with Browser(server) as browser:
        code = assert_code(server, browser.to_client(params, email), params)
        tokens = browser.http.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "client_id": client["client_id"],
                "code_verifier": verifier,
            },
        )
    assert tokens.status_code == 200, tokens.text
    claims = claims_of(tokens.json()["id_token"])
    assert claims["nonce"] == nonce
    assert isinstance(claims["auth_time"], int)
    assert claims["aud"] == client["client_id"]
