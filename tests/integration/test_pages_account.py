"""The account page, `/auth/account`, over HTTP: each change, CSRF, re-authentication,
sessions, apps and deleting the account. Both backends."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from tests.integration.browser import Browser, Page, code_request, create_client
from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import PASSWORD, person

NEW_PASSWORD = "copper kettle 9 meadow"
SENSITIVE = ["email", "password", "delete"]


@pytest.fixture(scope="module")
def site(make_server: ServerFactory) -> AuthgateServer:
    """A server whose pool declares one changeable and one fixed custom attribute."""
    attributes = {"team": {"type": "string"}, "badge": {"type": "string", "mutable": False}}
    return make_server(user_pool={"custom_attributes": attributes})


@pytest.fixture(scope="module")
def stale_site(make_server: ServerFactory) -> AuthgateServer:
    """A server where every sign-in is already too old for a sensitive change."""
    return make_server(ui={"reauth_after": 1e-6})


def signed_in(server: AuthgateServer, email: str, user_agent: str = "Pages/1") -> Browser:
    browser = Browser(server)
    browser.http.headers["User-Agent"] = user_agent
    page = browser.http.get("/auth/login", params={"return_to": "/auth/account"})
    done = browser.sign_in(page, email)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/auth/account"
    return browser


def account(browser: Browser) -> httpx.Response:
    page = browser.http.get("/auth/account")
    assert page.status_code == 200, page.text[:300]
    return page


def post(browser: Browser, page: httpx.Response, action: str, **values: str) -> httpx.Response:
    """Send the page's form that posts to `/auth/account/<action>` (hidden fields kept)."""
    path = f"/auth/account/{action}"
    forms = [f for f in Page(page.text).forms if f.action == path]
    assert forms, f"no form posts to {path}"
    return browser.http.post(urljoin(str(page.url), path), data={**forms[0].fields, **values})


def status_of(response: httpx.Response) -> str:
    assert response.status_code == 303, f"{response.status_code}: {response.text[:500]}"
    location = response.headers["location"]
    assert location.startswith("/auth/account?"), location
    return parse_qs(urlsplit(location).query)["status"][0]


def user_of(server: AuthgateServer, sub: str) -> httpx.Response:
    with server.admin_client() as admin:
        return admin.get(f"/admin/users/{sub}")


def can_log_in(server: AuthgateServer, email: str, password: str) -> bool:
    with server.public_client() as http:
        answer = http.post("/v1/login", json={"username": email, "password": password})
    return answer.status_code == 200


def is_signed_in(browser: Browser) -> bool:
    return browser.http.get("/auth/account").status_code == 200


def session_ids(server: AuthgateServer, email: str) -> list[dict[str, Any]]:
    with server.public_client() as http:
        token = http.post("/v1/login", json={"username": email, "password": PASSWORD})
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        items: list[dict[str, Any]] = http.get("/v1/me/sessions", headers=bearer).json()["items"]
    return items


# -- the page itself -------------------------------------------------------------------


def test_without_a_session_the_page_sends_the_browser_to_sign_in_and_back(
    site: AuthgateServer,
) -> None:
    with Browser(site) as browser:
        answer = browser.http.get("/auth/account")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/auth/login?return_to=%2Fauth%2Faccount"


def test_the_page_is_never_cached_nor_framed_and_runs_no_script(site: AuthgateServer) -> None:
    email, _ = person(site)
    with signed_in(site, email) as browser:
        page = account(browser)
    assert page.headers["cache-control"] == "no-store"
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy
    assert page.headers["x-frame-options"] == "DENY"


def test_every_field_on_the_page_has_a_label(site: AuthgateServer) -> None:
    email, _ = person(site)
    with signed_in(site, email) as browser:
        parsed = Page(account(browser).text)
    ids = [i["id"] for i in parsed.all("input") if i.get("type") != "hidden"]
    assert ids and sorted(set(ids)) == sorted(ids)
    assert set(ids) <= set(parsed.labels)


def test_a_status_is_announced_only_from_the_fixed_list(site: AuthgateServer) -> None:
    email, _ = person(site)
    with signed_in(site, email) as browser:
        page = browser.http.get("/auth/account", params={"status": "<script>owned</script>"})
    assert "owned" not in page.text


# -- profile -----------------------------------------------------------------------------


def test_changing_a_custom_attribute_saves_it_and_says_so(site: AuthgateServer) -> None:
    email, sub = person(site)
    with signed_in(site, email) as browser:
        status = status_of(post(browser, account(browser), "profile", **{"custom:team": "Blue"}))
        shown = browser.http.get("/auth/account", params={"status": status})
    assert status == "profile_saved"
    assert "Your profile is saved." in shown.text
    assert user_of(site, sub).json()["attributes"]["custom:team"] == "Blue"


def test_an_attribute_that_cannot_change_is_not_offered(site: AuthgateServer) -> None:
    email, _ = person(site)
    with signed_in(site, email) as browser:
        names = {i.get("name") for i in Page(account(browser).text).all("input")}
    assert "custom:team" in names and "custom:badge" not in names


def test_a_changed_profile_posted_without_the_csrf_token_is_refused(site: AuthgateServer) -> None:
    email, sub = person(site)
    with signed_in(site, email) as browser:
        page = account(browser)
        refused = post(browser, page, "profile", csrf_token="", **{"custom:team": "Red"})
    assert refused.status_code == 403
    assert "custom:team" not in user_of(site, sub).json()["attributes"]


@pytest.mark.parametrize(
    "action",
    [
        "profile",
        "email",
        "email/verify",
        "password",
        "sessions/end",
        "sessions/end-others",
        "apps/revoke",
        "delete",
    ],
)
def test_every_action_refuses_a_post_from_another_origin(site: AuthgateServer, action: str) -> None:
    email, _ = person(site)
    with signed_in(site, email) as browser:
        token = browser.cookie("authgate_csrf") or ""
        answer = browser.http.post(
            f"/auth/account/{action}",
            data={"csrf_token": token},
            headers={"Origin": "https://evil.example"},
        )
        assert answer.status_code == 403
        assert is_signed_in(browser)


# -- email -------------------------------------------------------------------------------


def test_an_email_change_mails_a_code_that_makes_the_new_address_the_one(
    site: AuthgateServer,
) -> None:
    email, sub = person(site)
    new = f"new-{email}"
    with signed_in(site, email) as browser:
        assert status_of(post(browser, account(browser), "email", new_email=new)) == (
            "email_code_sent"
        )
        code = site.wait_for_mail(new).code
        assert code is not None
        page = account(browser)
        assert status_of(post(browser, page, "email/verify", email_code=code)) == "email_verified"
    assert user_of(site, sub).json()["email"] == new


def test_a_wrong_email_code_is_shown_next_to_its_field(site: AuthgateServer) -> None:
    email, sub = person(site)
    new = f"new-{email}"
    with signed_in(site, email) as browser:
        status_of(post(browser, account(browser), "email", new_email=new))
        site.wait_for_mail(new)
        refused = post(browser, account(browser), "email/verify", email_code="000000x")
    assert refused.status_code == 400
    (code_input,) = [i for i in Page(refused.text).all("input") if i.get("id") == "email_code"]
    assert code_input.get("aria-invalid") == "true"
    assert 'id="email_code-error"' in refused.text
    assert user_of(site, sub).json()["email"] == email


# -- password ----------------------------------------------------------------------------


def test_a_password_change_keeps_this_browser_and_ends_the_others(site: AuthgateServer) -> None:
    email, _ = person(site)
    with signed_in(site, email, "Here/1") as here, signed_in(site, email, "There/1") as there:
        changed = post(
            here,
            account(here),
            "password",
            current_password=PASSWORD,
            new_password=NEW_PASSWORD,
        )
        assert status_of(changed) == "password_changed"
        assert is_signed_in(here)
        assert not is_signed_in(there)
    assert can_log_in(site, email, NEW_PASSWORD)
    assert not can_log_in(site, email, PASSWORD)


def test_a_wrong_current_password_changes_nothing(site: AuthgateServer) -> None:
    email, _ = person(site)
    with signed_in(site, email) as browser:
        refused = post(
            browser,
            account(browser),
            "password",
            current_password="not 4 my password",
            new_password=NEW_PASSWORD,
        )
    assert refused.status_code == 400
    assert 'id="current_password-error"' in refused.text
    assert can_log_in(site, email, PASSWORD)


# -- sessions ----------------------------------------------------------------------------


def test_the_page_lists_every_session_and_marks_this_one(site: AuthgateServer) -> None:
    email, _ = person(site)
    with signed_in(site, email, "Laptop/7") as here, signed_in(site, email, "Phone/3"):
        page = account(here)
    assert "Laptop/7" in page.text and "Phone/3" in page.text
    assert "this browser" in page.text
    ends = [f for f in Page(page.text).forms if f.action == "/auth/account/sessions/end"]
    assert len(ends) == 1  # not for this browser's own session


def test_ending_another_session_from_the_page_signs_that_browser_out(
    site: AuthgateServer,
) -> None:
    email, _ = person(site)
    with signed_in(site, email, "Here/1") as here, signed_in(site, email, "There/1") as there:
        assert status_of(post(here, account(here), "sessions/end")) == "session_ended"
        assert is_signed_in(here)
        assert not is_signed_in(there)


def test_ending_all_other_sessions_keeps_only_this_one(site: AuthgateServer) -> None:
    email, _ = person(site)
    with (
        signed_in(site, email) as here,
        signed_in(site, email) as second,
        signed_in(site, email) as third,
    ):
        assert status_of(post(here, account(here), "sessions/end-others")) == "sessions_ended"
        assert [is_signed_in(b) for b in (here, second, third)] == [True, False, False]


def test_another_users_session_cannot_be_ended_from_the_page(site: AuthgateServer) -> None:
    owner, _ = person(site)
    intruder, _ = person(site)
    with signed_in(site, owner) as victim, signed_in(site, intruder) as attacker:
        (target,) = session_ids(site, owner)
        page = account(attacker)
        token = Page(page.text).forms[0].fields["csrf_token"]
        refused = attacker.http.post(
            "/auth/account/sessions/end", data={"csrf_token": token, "session": target["id"]}
        )
        assert refused.status_code == 404
        assert 'role="alert"' in refused.text
        assert is_signed_in(victim)


# -- apps --------------------------------------------------------------------------------


def test_an_app_with_consent_is_listed_and_its_access_can_be_removed(
    site: AuthgateServer,
) -> None:
    email, _ = person(site)
    app = create_client(site, client_name="Garden Planner")
    with signed_in(site, email) as browser:
        browser.to_client(code_request(app), email)
        page = account(browser)
        assert "Garden Planner" in page.text
        revoke = post(browser, page, "apps/revoke")
        assert status_of(revoke) == "app_revoked"
        assert "Garden Planner" not in account(browser).text


# -- re-authentication ---------------------------------------------------------------------


@pytest.mark.parametrize("action", SENSITIVE)
def test_a_stale_session_must_confirm_the_password_before_a_sensitive_change(
    stale_site: AuthgateServer, action: str
) -> None:
    email, sub = person(stale_site)
    values = {
        "email": {"new_email": f"new-{email}"},
        "password": {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        "delete": {"delete_password": PASSWORD, "confirm": email},
    }[action]
    with signed_in(stale_site, email) as browser:
        answer = post(browser, account(browser), action, **values)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/auth/account/reauth?return_to=%2Fauth%2Faccount"
    after = user_of(stale_site, sub)
    assert after.status_code == 200 and after.json()["email"] == email
    assert can_log_in(stale_site, email, PASSWORD)


def test_a_stale_session_may_still_change_its_profile(stale_site: AuthgateServer) -> None:
    email, _ = person(stale_site)
    with signed_in(stale_site, email) as browser:
        changed = post(browser, account(browser), "profile", name="Ann Example")
    assert status_of(changed) == "profile_saved"


def test_the_reauth_page_takes_the_password_and_returns(stale_site: AuthgateServer) -> None:
    email, _ = person(stale_site)
    with signed_in(stale_site, email) as browser:
        page = browser.http.get("/auth/account/reauth", params={"return_to": "/auth/account"})
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        done = browser.submit(page, password=PASSWORD)
    assert done.status_code == 303
    assert done.headers["location"] == "/auth/account"


def test_the_reauth_page_refuses_a_wrong_password_next_to_the_field(
    stale_site: AuthgateServer,
) -> None:
    email, _ = person(stale_site)
    with signed_in(stale_site, email) as browser:
        page = browser.http.get("/auth/account/reauth")
        refused = browser.submit(page, password="not 4 my password")
    assert refused.status_code == 400
    assert 'id="password-error"' in refused.text


def test_the_reauth_page_returns_only_to_this_servers_paths(stale_site: AuthgateServer) -> None:
    email, _ = person(stale_site)
    with signed_in(stale_site, email) as browser:
        page = browser.http.get(
            "/auth/account/reauth", params={"return_to": "https://evil.example/x"}
        )
        done = browser.submit(page, password=PASSWORD)
    assert done.headers["location"] == "/auth/account"


def test_the_reauth_page_refuses_a_post_without_the_csrf_token(
    stale_site: AuthgateServer,
) -> None:
    email, _ = person(stale_site)
    with signed_in(stale_site, email) as browser:
        page = browser.http.get("/auth/account/reauth")
        refused = browser.submit(page, password=PASSWORD, csrf_token="")
    assert refused.status_code == 403


# -- delete ------------------------------------------------------------------------------


def test_deleting_needs_the_username_typed_exactly(site: AuthgateServer) -> None:
    email, sub = person(site)
    with signed_in(site, email) as browser:
        refused = post(browser, account(browser), "delete", delete_password=PASSWORD, confirm="yes")
    assert refused.status_code == 400
    assert 'id="confirm-error"' in refused.text
    assert user_of(site, sub).status_code == 200


def test_deleting_the_account_signs_out_and_the_account_is_gone(site: AuthgateServer) -> None:
    email, sub = person(site)
    with signed_in(site, email) as browser, signed_in(site, email) as elsewhere:
        gone = post(browser, account(browser), "delete", delete_password=PASSWORD, confirm=email)
        assert gone.status_code == 303
        assert gone.headers["location"] == "/auth/account/deleted"
        assert "Max-Age=0" in gone.headers["set-cookie"]
        farewell = browser.http.get("/auth/account/deleted")
        assert farewell.status_code == 200
        assert not is_signed_in(browser)
        assert not is_signed_in(elsewhere)
    assert user_of(site, sub).status_code == 404
    assert not can_log_in(site, email, PASSWORD)
