"""Passkeys in a real headless Chromium with a CDP virtual authenticator (CTAP2, internal
transport, resident keys, user verification): the page's WebAuthn script under its CSP
nonce registers a passkey, signs in with it alone, and a cloned credential is refused.

The server's issuer is http://localhost:PORT: browsers take no IP address as RP ID.
Registration happens on `{prefix}/account/passkeys` (the passkeys section on a page of its
own; the account page includes the same section).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.virtual_authenticator import (
    Credential,
    Protocol,
    Transport,
    VirtualAuthenticatorOptions,
)
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.test_browser_signin import PASSWORD, _by_label, _user, browser
from tests.integration.harness import AuthgateServer
from tests.integration.test_admin_api import all_items

__all__ = ["browser"]
PAGE = "/auth/account/passkeys"


@pytest.fixture(scope="module")
def localhost_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthgateServer]:
    workdir: Path = tmp_path_factory.mktemp("authgate")
    server = AuthgateServer(workdir, f"sqlite+aiosqlite:///{workdir / 'authgate.db'}")
    server.overrides = {"issuer": f"http://localhost:{server.public_port}"}
    server.start()
    yield server
    server.stop()


@pytest.fixture
def authenticator(browser: WebDriver) -> Iterator[WebDriver]:
    options = VirtualAuthenticatorOptions(
        protocol=Protocol.CTAP2,
        transport=Transport.INTERNAL,
        has_resident_key=True,
        has_user_verification=True,
        is_user_verified=True,
    )
    browser.add_virtual_authenticator(options)
    yield browser
    browser.remove_virtual_authenticator()


def _wait_for_text(driver: WebDriver, text: str) -> None:
    try:
        WebDriverWait(driver, 15, ignored_exceptions=(WebDriverException,)).until(
            lambda d: text in d.find_element(By.TAG_NAME, "body").text
        )
    except TimeoutException:
        body = driver.find_element(By.TAG_NAME, "body").text
        raise AssertionError(f"{text!r} not on {driver.current_url}:\n{body}") from None


def _sign_in_with_password(driver: WebDriver, base: str, email: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{base}/auth/login?return_to={PAGE}")
    _by_label(driver, "Email or username").send_keys(email)
    _by_label(driver, "Password").send_keys(PASSWORD)
    driver.find_element(By.XPATH, "//button[normalize-space()='Sign in']").click()
    _wait_for_text(driver, "Signed in as")


def _sign_out(driver: WebDriver, base: str) -> None:
    driver.get(f"{base}/auth/logout")
    driver.find_element(By.XPATH, "//button[normalize-space()='Sign out']").click()
    _wait_for_text(driver, "You are signed out")


def _sign_in_with_passkey(driver: WebDriver, base: str) -> None:
    """From the sign-in page, with the keyboard: focus the passkey button, press Enter."""
    driver.get(f"{base}/auth/login?return_to={PAGE}")
    button = driver.find_element(By.XPATH, "//button[normalize-space()='Sign in with a passkey']")
    button.send_keys(Keys.ENTER)


def test_register_a_passkey_then_sign_in_with_it_alone(
    localhost_server: AuthgateServer, authenticator: WebDriver
) -> None:
    driver, base = authenticator, localhost_server.public.replace("127.0.0.1", "localhost")
    email = _user(localhost_server)
    _sign_in_with_password(driver, base, email)
    _by_label(driver, "Name for the new passkey").send_keys("Virtual key")
    driver.find_element(By.XPATH, "//button[normalize-space()='Add a passkey']").click()
    _wait_for_text(driver, "The passkey was added.")
    assert "Virtual key" in driver.page_source
    assert len(driver.get_credentials()) == 1

    _sign_out(driver, base)
    _sign_in_with_passkey(driver, base)
    _wait_for_text(driver, f"Signed in as {email}")
    assert "last used" in driver.find_element(By.TAG_NAME, "body").text


def test_a_cloned_passkey_is_refused(
    localhost_server: AuthgateServer, authenticator: WebDriver
) -> None:
    driver, base = authenticator, localhost_server.public.replace("127.0.0.1", "localhost")
    email = _user(localhost_server)
    _sign_in_with_password(driver, base, email)
    driver.find_element(By.XPATH, "//button[normalize-space()='Add a passkey']").click()
    _wait_for_text(driver, "The passkey was added.")
    _sign_out(driver, base)
    _sign_in_with_passkey(driver, base)
    _wait_for_text(driver, f"Signed in as {email}")
    _sign_out(driver, base)

    (used,) = driver.get_credentials()
    assert used.sign_count >= 1
    driver.remove_all_credentials()  # the same key on a copy that signed less often
    driver.add_credential(Credential.from_dict({**used.to_dict(), "signCount": 0}))
    _sign_in_with_passkey(driver, base)
    _wait_for_text(driver, "it may have been copied")
    assert "Sign-in with a passkey failed" in driver.title or "failed" in driver.page_source
    with localhost_server.admin_client() as admin:
        events = all_items(admin, "/admin/audit", event="passkey_clone_detected")
    assert len(events) == 1
