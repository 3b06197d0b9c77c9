"""Passkeys in a real headless Chromium with a CDP virtual authenticator (CTAP2, internal
transport, resident keys, user verification): the account page's WebAuthn script, under
its CSP nonce, registers a passkey; the person signs out and signs in with the passkey
alone; a cloned credential (its counter gone back) is refused and audited.

The issuer is http://localhost:PORT: browsers take no IP address as an RP ID.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.virtual_authenticator import Credential
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.support import (
    add_passkey_authenticator,
    assert_accessible,
    by_label,
    press,
    screenshot,
)
from tests.integration.browser import PASSWORD, create_user
from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer
from tests.integration.mfa_support import code, enrolled, steady
from tests.integration.test_admin_api import all_items

ACCOUNT = "/auth/account"


@pytest.fixture(scope="module")
def site(make_server: ServerFactory) -> AuthgateServer:
    return make_server(issuer_host="localhost")


@pytest.fixture
def authenticator(browser: WebDriver) -> Iterator[WebDriver]:
    browser.delete_all_cookies()
    add_passkey_authenticator(browser)
    yield browser
    browser.remove_virtual_authenticator()


def base(site: AuthgateServer) -> str:
    return site.public.replace("127.0.0.1", "localhost")


def wait_for_text(driver: WebDriver, text: str) -> None:
    try:
        WebDriverWait(driver, 15, ignored_exceptions=(WebDriverException,)).until(
            lambda d: text in d.find_element(By.TAG_NAME, "body").text
        )
    except TimeoutException:
        body = driver.find_element(By.TAG_NAME, "body").text
        raise AssertionError(f"{text!r} not on {driver.current_url}:\n{body}") from None


def sign_in_with_password(driver: WebDriver, site: AuthgateServer, email: str) -> None:
    driver.get(f"{base(site)}/auth/login")
    by_label(driver, "Email or username").send_keys(email)
    by_label(driver, "Password").send_keys(PASSWORD)
    press(driver, "Sign in")
    wait_for_text(driver, "Your account")


def sign_out(driver: WebDriver, site: AuthgateServer) -> None:
    driver.get(f"{base(site)}/auth/logout")
    press(driver, "Sign out")
    wait_for_text(driver, "You are signed out")


def sign_in_with_passkey(driver: WebDriver, site: AuthgateServer) -> None:
    """From the sign-in page, with the keyboard: focus the passkey button, press Enter."""
    driver.get(f"{base(site)}/auth/login")
    button = driver.find_element(By.XPATH, "//button[normalize-space()='Sign in with a passkey']")
    button.send_keys(Keys.ENTER)


def add_passkey(driver: WebDriver, name: str | None = None) -> None:
    if name:
        by_label(driver, "Name for the new passkey").send_keys(name)
    driver.find_element(By.XPATH, "//button[normalize-space()='Add a passkey']").click()
    wait_for_text(driver, "The passkey was added.")


def test_register_a_passkey_on_the_account_page_then_sign_in_with_it_alone(
    site: AuthgateServer, authenticator: WebDriver, backend: str
) -> None:
    driver = authenticator
    email = unique_email("passkey")
    create_user(site, email)
    sign_in_with_password(driver, site, email)
    assert driver.current_url.endswith(ACCOUNT)
    add_passkey(driver, "Virtual key")
    assert "Virtual key" in driver.page_source
    assert len(driver.get_credentials()) == 1
    screenshot(driver, f"passkeys-account-{backend}")
    assert_accessible(driver)

    sign_out(driver, site)
    sign_in_with_passkey(driver, site)
    wait_for_text(driver, f"Signed in as {email}")
    assert driver.current_url.endswith(ACCOUNT)
    assert "last used" in driver.find_element(By.TAG_NAME, "body").text


def test_a_cloned_passkey_is_refused_and_audited(
    site: AuthgateServer, authenticator: WebDriver, backend: str
) -> None:
    driver = authenticator
    email = unique_email("clone")
    create_user(site, email)
    sign_in_with_password(driver, site, email)
    add_passkey(driver)
    sign_out(driver, site)
    sign_in_with_passkey(driver, site)
    wait_for_text(driver, f"Signed in as {email}")
    sign_out(driver, site)

    (used,) = driver.get_credentials()
    assert used.sign_count >= 1
    driver.remove_all_credentials()  # the same key on a copy that signed less often
    driver.add_credential(Credential.from_dict({**used.to_dict(), "signCount": 0}))
    sign_in_with_passkey(driver, site)
    wait_for_text(driver, "it may have been copied")
    screenshot(driver, f"passkeys-clone-refused-{backend}")
    assert_accessible(driver)
    assert driver.get_cookie("authgate_session") is None
    with site.admin_client() as admin:
        events = all_items(admin, "/admin/audit", event="passkey_clone_detected")
    assert len(events) == 1


def test_the_second_step_page_offers_the_holders_passkey_instead_of_a_code(
    site: AuthgateServer, authenticator: WebDriver, backend: str
) -> None:
    driver = authenticator
    person = enrolled(site)
    driver.get(f"{base(site)}/auth/login")
    by_label(driver, "Email or username").send_keys(person.email)
    by_label(driver, "Password").send_keys(PASSWORD)
    press(driver, "Sign in")
    assert "/auth/login/mfa" in driver.current_url
    assert not driver.find_elements(By.XPATH, "//button[normalize-space()='Use a passkey instead']")
    by_label(driver, "Code").send_keys(code(person.secret, steady()))
    press(driver, "Verify")
    wait_for_text(driver, "Your account")
    add_passkey(driver)
    sign_out(driver, site)

    driver.get(f"{base(site)}/auth/login")
    by_label(driver, "Email or username").send_keys(person.email)
    by_label(driver, "Password").send_keys(PASSWORD)
    press(driver, "Sign in")
    button = driver.find_element(By.XPATH, "//button[normalize-space()='Use a passkey instead']")
    screenshot(driver, f"passkeys-on-the-second-step-{backend}")
    assert_accessible(driver)
    button.send_keys(Keys.ENTER)
    wait_for_text(driver, f"Signed in as {person.email}")
    assert driver.current_url.endswith(ACCOUNT)
    assert driver.get_cookie("authgate_mfa") is None
