"""A person in a real headless Chromium uses the account page: changes a profile attribute,
ends a session started elsewhere, confirms it is them, changes the password and deletes the
account. Every page is checked with axe-core and kept as a screenshot."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.support import assert_accessible, by_label, click_button, screenshot, wait_for
from tests.integration.browser import Browser
from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import PASSWORD, person

NEW_PASSWORD = "copper kettle 9 meadow"


@pytest.fixture(scope="module")
def site(make_server: ServerFactory) -> AuthgateServer:
    return make_server(user_pool={"custom_attributes": {"team": {"type": "string"}}})


@pytest.fixture(scope="module")
def stale_site(make_server: ServerFactory) -> AuthgateServer:
    """Every sign-in is already too old for a sensitive change: re-authentication shows."""
    return make_server(ui={"reauth_after": 1e-6})


def at(path: str) -> Callable[[WebDriver], bool]:
    return lambda driver: driver.current_url.split("?")[0].endswith(path)


def sign_in(browser: WebDriver, server: AuthgateServer, email: str) -> None:
    """Through the sign-in page, as a person does, ending on the account page."""
    browser.delete_all_cookies()
    browser.get(f"{server.public}/auth/account")
    wait_for(browser, at("/auth/login"))
    by_label(browser, "Email or username").send_keys(email)
    by_label(browser, "Password").send_keys(PASSWORD)
    click_button(browser, "Sign in")
    wait_for(browser, at("/auth/account"))


def status_text(browser: WebDriver) -> str:
    """The page's announced status, or "" while the next page is still loading."""
    try:
        return str(browser.find_element(By.ID, "status").text)
    except WebDriverException:
        return ""


def test_a_person_changes_a_profile_attribute(browser: WebDriver, site: AuthgateServer) -> None:
    email, sub = person(site)
    sign_in(browser, site, email)
    assert_accessible(browser)
    screenshot(browser, "account page")
    by_label(browser, "team").send_keys("Blue")
    click_button(browser, "Save profile")
    wait_for(browser, lambda d: "Your profile is saved." in status_text(d))
    assert_accessible(browser)
    with site.admin_client() as admin:
        assert admin.get(f"/admin/users/{sub}").json()["attributes"]["custom:team"] == "Blue"


def test_a_person_ends_a_session_started_on_another_device(
    browser: WebDriver, site: AuthgateServer
) -> None:
    email, _ = person(site)
    with Browser(site) as phone:
        phone.http.headers["User-Agent"] = "Phone Browser/3"
        page = phone.http.get("/auth/login", params={"return_to": "/auth/account"})
        assert phone.sign_in(page, email).status_code == 303
        sign_in(browser, site, email)
        assert "Phone Browser/3" in browser.page_source
        screenshot(browser, "account sessions")
        click_button(browser, "End this session")
        wait_for(browser, lambda d: "The session has ended" in status_text(d))
        assert "Phone Browser/3" not in browser.page_source
        assert phone.http.get("/auth/account").status_code == 303


def test_a_person_changes_the_password(browser: WebDriver, site: AuthgateServer) -> None:
    email, _ = person(site)
    sign_in(browser, site, email)
    by_label(browser, "Current password").send_keys(PASSWORD)
    by_label(browser, "New password").send_keys(NEW_PASSWORD)
    click_button(browser, "Change password")
    wait_for(browser, lambda d: "Your password is changed." in status_text(d))
    with site.public_client() as http:
        answer = http.post("/v1/login", json={"username": email, "password": NEW_PASSWORD})
    assert answer.status_code == 200


def test_a_person_confirms_it_is_them_before_changing_the_email(
    browser: WebDriver, stale_site: AuthgateServer
) -> None:
    email, _ = person(stale_site)
    sign_in(browser, stale_site, email)
    by_label(browser, "New email address").send_keys(f"new-{email}")
    click_button(browser, "Change email address")
    wait_for(browser, at("/auth/account/reauth"))
    assert_accessible(browser)
    screenshot(browser, "account reauth")
    by_label(browser, "Password").send_keys(PASSWORD)
    click_button(browser, "Confirm")
    wait_for(browser, at("/auth/account"))


def test_a_person_deletes_the_account(browser: WebDriver, site: AuthgateServer) -> None:
    email, sub = person(site)
    sign_in(browser, site, email)
    by_label(browser, "Your password").send_keys(PASSWORD)
    by_label(browser, f"Type {email} to confirm").send_keys(email)
    click_button(browser, "Delete my account")
    wait_for(browser, at("/auth/account/deleted"))
    assert_accessible(browser)
    screenshot(browser, "account deleted")
    browser.get(f"{site.public}/auth/account")
    wait_for(browser, at("/auth/login"))
    with site.admin_client() as admin:
        assert admin.get(f"/admin/users/{sub}").status_code == 404
