"""The public hosted pages over HTTP: sign-up, confirm (and send again), sign-in standalone
with `return_to`, forgotten and reset passwords, sign-out (and everywhere)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.integration.browser import PASSWORD, Browser, Page, create_user
from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer

APP = "https://app.example"
ATTRIBUTES = {
    "tenant": {"type": "string", "max_length": 20},
    "seats": {"type": "number"},
    "beta": {"type": "boolean"},
}


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(
        user_pool={"custom_attributes": ATTRIBUTES},
        ui={"return_to_origins": [APP]},
        throttle={"forgot_per_ip": "6/hour"},
    )


@pytest.fixture
def browser(server: AuthgateServer) -> Iterator[Browser]:
    with Browser(server) as browser:
        yield browser


def inputs_of(response: httpx.Response) -> dict[str, dict[str, str]]:
    return {i["name"]: i for i in Page(response.text).form.inputs}


def field_error(response: httpx.Response, name: str) -> str:
    match = re.search(rf'id="{re.escape(name)}-error">([^<]*)<', response.text)
    assert match, f"no error next to {name}"
    return match.group(1)


def sign_up(browser: Browser, email: str, password: str = PASSWORD, **extra: str) -> httpx.Response:
    page = browser.http.get("/auth/signup")
    assert page.status_code == 200
    fields = {"email": email, "password": password, "custom:tenant": "acme", **extra}
    return browser.submit(page, **fields)


def without_ids(response: httpx.Response, *values: str) -> str:
    """The page with the values that name this very request (and CSRF token) left out."""
    text = response.text
    for value in values:
        text = text.replace(value, "X")
    return re.sub(r'name="csrf_token" value="[^"]*"', "", text)


# -- sign-up ------------------------------------------------------------------------------------


def test_signup_asks_for_the_declared_attributes_with_their_types(browser: Browser) -> None:
    inputs = inputs_of(browser.http.get("/auth/signup"))
    assert inputs["email"]["type"] == "email"
    assert inputs["password"]["type"] == "password"
    assert "username" not in inputs  # username_from_email is on
    assert inputs["custom:tenant"]["type"] == "text"
    assert inputs["custom:tenant"]["maxlength"] == "20"
    assert "required" not in inputs["custom:tenant"]
    assert inputs["custom:seats"]["type"] == "number"
    assert inputs["custom:beta"]["type"] == "checkbox"


def test_every_signup_field_has_a_label(browser: Browser) -> None:
    page = Page(browser.http.get("/auth/signup").text)
    visible = [i["id"] for i in page.form.inputs if i.get("type") != "hidden"]
    assert visible and set(visible) <= set(page.labels)


def test_signup_asks_for_a_username_when_it_is_not_the_email(
    make_server: ServerFactory,
) -> None:
    required = {"team": {"type": "string", "required": True}}
    server = make_server(user_pool={"username_from_email": False, "custom_attributes": required})
    with Browser(server) as browser:
        inputs = inputs_of(browser.http.get("/auth/signup"))
        assert "username" in inputs
        assert "required" in inputs["custom:team"]
        page = browser.http.get("/auth/signup")
        missing = browser.submit(page, email=unique_email(), username="someone", password=PASSWORD)
        assert missing.status_code == 400
        assert field_error(missing, "custom:team")
        email = unique_email("named")
        page = browser.http.get("/auth/signup")
        done = browser.submit(
            page,
            email=email,
            username="named" + email[6:14],
            password=PASSWORD,
            **{"custom:team": "a"},
        )
        assert done.status_code == 303
        assert parse_qs(urlsplit(done.headers["location"]).query)["username"][0].startswith("named")


def test_signup_confirm_and_sign_in(server: AuthgateServer, browser: Browser) -> None:
    email = unique_email("page")
    done = sign_up(browser, email, **{"custom:seats": "3", "custom:beta": "true"})
    assert done.status_code == 303
    assert done.headers["location"].startswith("/auth/signup/confirm?")
    confirm = browser.follow(done)
    assert inputs_of(confirm)["username"]["value"] == email
    code = server.wait_for_mail(email).code
    assert code is not None
    confirmed = browser.submit(confirm, username=email, code=code, action="confirm")
    assert confirmed.status_code == 200
    (link,) = [a["href"] for a in Page(confirmed.text).all("a")]
    login = browser.http.get(link)
    signed_in = browser.sign_in(login, email)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/auth/account"
    assert browser.cookie("authgate_session")
    with server.admin_client() as admin:
        user = admin.get("/admin/users", params={"email_prefix": email}).json()["items"][0]
    assert user["attributes"] == {"custom:tenant": "acme", "custom:seats": 3, "custom:beta": True}


def test_a_taken_email_looks_exactly_like_a_new_one(browser: Browser) -> None:
    taken = unique_email("taken")
    create_user(browser.server, taken)
    fresh = unique_email("fresh")
    first, second = sign_up(browser, taken), sign_up(browser, fresh)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"].replace(taken.replace("@", "%40"), "X") == second.headers[
        "location"
    ].replace(fresh.replace("@", "%40"), "X")
    pages = browser.follow(first), browser.follow(second)
    assert without_ids(pages[0], taken) == without_ids(pages[1], fresh)


def test_a_weak_password_is_explained_next_to_the_field(browser: Browser) -> None:
    response = sign_up(browser, unique_email("weak"), password="short")
    assert response.status_code == 400
    assert "password policy" in field_error(response, "password")
    password = inputs_of(response)["password"]
    assert password["aria-invalid"] == "true"
    assert "password-error" in password["aria-describedby"]
    assert 'role="alert"' in response.text
    assert inputs_of(response)["email"]["value"].startswith("weak")


def test_a_number_attribute_must_be_a_number(browser: Browser) -> None:
    response = sign_up(browser, unique_email("num"), **{"custom:seats": "many"})
    assert response.status_code == 400
    assert field_error(response, "custom:seats")


@pytest.mark.parametrize(
    "path",
    ["/auth/signup", "/auth/signup/confirm", "/auth/password/forgot", "/auth/password/reset"],
)
def test_a_post_without_the_csrf_token_is_refused(browser: Browser, path: str) -> None:
    browser.http.get(path)  # the CSRF cookie is set, the form's token is missing
    response = browser.http.post(path, data={"email": unique_email(), "username": "x"})
    assert response.status_code == 403
    assert "<form" not in response.text


def test_a_post_from_another_origin_is_refused(browser: Browser) -> None:
    page = browser.http.get("/auth/signup")
    fields = {**Page(page.text).form.fields, "email": unique_email(), "password": PASSWORD}
    response = browser.http.post("/auth/signup", data=fields, headers={"Origin": "https://evil"})
    assert response.status_code == 403


# -- confirm and send again ---------------------------------------------------------------------


def test_a_wrong_code_is_shown_next_to_the_code_field(browser: Browser) -> None:
    email = unique_email("wrongcode")
    confirm = browser.follow(sign_up(browser, email))
    response = browser.submit(confirm, username=email, code="000000", action="confirm")
    assert response.status_code == 400
    assert field_error(response, "code")
    assert inputs_of(response)["code"]["aria-invalid"] == "true"


def test_send_again_answers_alike_for_known_and_unknown_accounts(
    server: AuthgateServer, browser: Browser
) -> None:
    email = unique_email("resend")
    confirm = browser.follow(sign_up(browser, email))
    server.wait_for_mail(email)
    known = browser.submit(confirm, username=email, action="resend")
    nobody = unique_email("nobody")
    unknown = browser.submit(confirm, action="resend", username=nobody)
    assert known.status_code == unknown.status_code == 200
    assert without_ids(known, email) == without_ids(unknown, nobody)
    assert server.wait_for_mail(email, count=2).code


def test_the_confirmed_page_links_back_to_the_return_to(
    server: AuthgateServer, browser: Browser
) -> None:
    email = unique_email("carry")
    page = browser.http.get("/auth/signup", params={"return_to": "/somewhere"})
    done = browser.submit(page, email=email, password=PASSWORD, **{"custom:tenant": "t"})
    confirm = browser.follow(done)
    code = server.wait_for_mail(email).code
    assert code is not None
    confirmed = browser.submit(confirm, username=email, code=code, action="confirm")
    (link,) = [a["href"] for a in Page(confirmed.text).all("a")]
    assert link == "/auth/login?return_to=%2Fsomewhere"


# -- sign-in standalone, return_to --------------------------------------------------------------


@pytest.mark.parametrize("target", ["/somewhere?x=1", f"{APP}/after", "/auth/account"])
def test_a_standalone_sign_in_returns_to_an_allowed_place(browser: Browser, target: str) -> None:
    email = unique_email("standalone")
    create_user(browser.server, email)
    page = browser.http.get("/auth/login", params={"return_to": target})
    response = browser.sign_in(page, email)
    assert response.status_code == 303
    assert response.headers["location"] == target


OPEN_REDIRECTS = [
    "//evil.example",
    "///evil.example",
    "https://evil.example/",
    "http://evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\t//evil.example",
    "/\t/evil.example",
    " //evil.example",
    "https://app.example@evil.example/",
    "https://app.example.evil.example/",
    "javascript:alert(1)",
    "data:text/html,hi",
    "//app.example",
    "https:evil.example",
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_an_unsafe_return_to_is_ignored(browser: Browser, target: str) -> None:
    email = unique_email("redirect")
    create_user(browser.server, email)
    page = browser.http.get("/auth/login", params={"return_to": target})
    assert "evil" not in page.text and "javascript" not in page.text
    response = browser.sign_in(page, email)
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/account"


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_an_unsafe_return_to_posted_directly_is_ignored(browser: Browser, target: str) -> None:
    email = unique_email("posted")
    create_user(browser.server, email)
    page = browser.http.get("/auth/login")
    response = browser.submit(page, username=email, password=PASSWORD, return_to=target)
    assert response.headers["location"] == "/auth/account"


def test_the_old_signin_address_redirects_to_the_new_one(browser: Browser) -> None:
    response = browser.http.get("/oauth2/signin", params={"ticket": "abc"})
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login?ticket=abc"


def test_the_login_page_links_to_signup_and_forgot(browser: Browser) -> None:
    page = Page(browser.http.get("/auth/login", params={"return_to": "/x"}).text)
    links = {a["href"] for a in page.all("a")}
    assert "/auth/signup?return_to=%2Fx" in links
    assert "/auth/password/forgot?return_to=%2Fx" in links


def test_a_locked_account_gets_429_with_retry_after(make_server: ServerFactory) -> None:
    # A server of its own: the failures count against this loopback address too.
    server = make_server()
    email = unique_email("locked")
    create_user(server, email)
    with Browser(server) as browser:
        assert_locked_out(browser, email)


def assert_locked_out(browser: Browser, email: str) -> None:
    page = browser.http.get("/auth/login")
    statuses = [browser.sign_in(page, email, "wrong password!").status_code for _ in range(8)]
    assert statuses[0] == 400 and statuses[-1] == 429
    locked = browser.sign_in(page, email, "wrong password!")
    assert int(locked.headers["retry-after"]) > 0
    assert 'role="alert"' in locked.text


# -- forgot and reset ---------------------------------------------------------------------------


def test_forgot_answers_alike_for_known_and_unknown_accounts(browser: Browser) -> None:
    email = unique_email("forgot")
    create_user(browser.server, email)
    nobody = unique_email("nobody")
    page = browser.http.get("/auth/password/forgot")
    known, unknown = browser.submit(page, username=email), browser.submit(page, username=nobody)
    assert known.status_code == unknown.status_code == 303
    pages = browser.follow(known), browser.follow(unknown)
    assert without_ids(pages[0], email) == without_ids(pages[1], nobody)


def test_reset_with_the_mailed_code_then_sign_in(server: AuthgateServer, browser: Browser) -> None:
    email = unique_email("reset")
    create_user(server, email)
    page = browser.http.get("/auth/password/forgot")
    reset = browser.follow(browser.submit(page, username=email))
    assert 'role="status"' in reset.text
    code = server.wait_for_mail(email).code
    assert code is not None
    weak = browser.submit(reset, username=email, code=code, new_password="short")
    assert weak.status_code == 400
    assert "password policy" in field_error(weak, "new_password")
    new = "a brand new password 9"
    done = browser.submit(reset, username=email, code=code, new_password=new)
    assert done.status_code == 200
    login = browser.http.get("/auth/login")
    assert browser.sign_in(login, email, new).status_code == 303


def test_reset_with_a_wrong_code_is_shown_next_to_the_code(browser: Browser) -> None:
    page = browser.http.get("/auth/password/reset")
    response = browser.submit(
        page, username=unique_email("nobody"), code="123456", new_password="whatever 123 ok"
    )
    assert response.status_code == 400
    assert field_error(response, "code")


# -- sign-out -----------------------------------------------------------------------------------


def signed_in(server: AuthgateServer, email: str) -> Browser:
    browser = Browser(server)
    page = browser.http.get("/auth/login")
    assert browser.sign_in(page, email).status_code == 303
    return browser


def session_alive(browser: Browser) -> bool:
    page = browser.http.get("/auth/logout")
    return "<form" in page.text


def test_logout_asks_then_ends_the_session(server: AuthgateServer) -> None:
    email = unique_email("logout")
    create_user(server, email)
    with signed_in(server, email) as browser:
        page = browser.http.get("/auth/logout")
        assert page.status_code == 200
        done = browser.submit(page)
        assert done.status_code == 200
        assert "authgate_session=;" in done.headers["set-cookie"]
        assert not session_alive(browser)


def test_logout_without_the_csrf_token_is_refused(server: AuthgateServer) -> None:
    email = unique_email("logoutcsrf")
    create_user(server, email)
    with signed_in(server, email) as browser:
        response = browser.http.post("/auth/logout", data={})
        assert response.status_code == 403
        assert session_alive(browser)


def test_logout_everywhere_ends_every_sign_in(server: AuthgateServer) -> None:
    email = unique_email("everywhere")
    create_user(server, email)
    with signed_in(server, email) as other, signed_in(server, email) as browser:
        page = browser.http.get("/auth/logout")
        form = Page(page.text).form
        response = browser.http.post("/auth/logout?everywhere=1", data=form.fields)
        assert response.status_code == 200
        assert not session_alive(other)


def test_logout_of_one_browser_keeps_the_others(server: AuthgateServer) -> None:
    email = unique_email("onlyhere")
    create_user(server, email)
    with signed_in(server, email) as other, signed_in(server, email) as browser:
        browser.submit(browser.http.get("/auth/logout"))
        assert session_alive(other)
