"""TOTP in a real Chromium: sign in, enrol from the account's MFA section by reading the
secret off the page, sign out, sign in with a code, then with a recovery code. Every page
is checked with axe-core and kept as a screenshot under tests/e2e/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.expected_conditions import staleness_of

from tests.e2e.support import assert_accessible, by_label, click_button, screenshot, wait_for
from tests.integration.browser import PASSWORD, create_user
from tests.integration.conftest import unique_email
from tests.integration.harness import AuthgateServer
from tests.integration.mfa_support import code, steady

SECTION = "/auth/account/mfa"


@pytest.fixture
def driver(browser: WebDriver) -> Iterator[WebDriver]:
    browser.delete_all_cookies()
    yield browser


def press(driver: WebDriver, button: str) -> None:
    page = driver.find_element(By.TAG_NAME, "html")
    click_button(driver, button)
    wait_for(driver, staleness_of(page))


def on_page(driver: WebDriver, title: str, shot: str) -> None:
    wait_for(driver, lambda d: d.find_element(By.TAG_NAME, "h1").text == title)
    screenshot(driver, shot)
    assert_accessible(driver)


def sign_in(driver: WebDriver, server: AuthgateServer, email: str) -> None:
    driver.get(f"{server.public}/auth/login?return_to={quote(SECTION)}")
    by_label(driver, "Email or username").send_keys(email)
    by_label(driver, "Password").send_keys(PASSWORD)
    press(driver, "Sign in")


def sign_out(driver: WebDriver, server: AuthgateServer) -> None:
    driver.get(f"{server.public}/auth/logout")
    press(driver, "Sign out")
    assert driver.get_cookie("authgate_session") is None


def state(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "mfa-state").text)


def test_enrol_then_sign_in_with_a_code_and_with_a_recovery_code(
    server: AuthgateServer, driver: WebDriver, backend: str
) -> None:
    email = unique_email("totp")
    create_user(server, email)
    sign_in(driver, server, email)
    on_page(driver, "Two-step verification", f"mfa-section-off-{backend}")
    assert state(driver).startswith("Off")

    by_label(driver, "Password").send_keys(PASSWORD)
    press(driver, "Set up an authenticator app")
    on_page(driver, "Two-step verification", f"mfa-enrol-{backend}")
    secret = driver.find_element(By.ID, "totp-secret").text
    assert driver.find_element(By.CSS_SELECTOR, "figure.qr svg").is_displayed()
    enrolled_step = steady() - 1
    by_label(driver, "Code").send_keys(code(secret, enrolled_step))
    press(driver, "Turn on")
    on_page(driver, "Two-step verification", f"mfa-recovery-codes-{backend}")
    assert state(driver).startswith("On")
    recovery = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#recovery-codes code")]
    assert len(recovery) == 10

    sign_out(driver, server)
    sign_in(driver, server, email)
    on_page(driver, "Two-step verification", f"mfa-login-{backend}")
    assert "/auth/login/mfa" in driver.current_url
    assert driver.get_cookie("authgate_session") is None
    by_label(driver, "Code").send_keys(code(secret, steady()))
    press(driver, "Verify")
    on_page(driver, "Two-step verification", f"mfa-section-on-{backend}")
    assert driver.current_url.endswith(SECTION)
    assert driver.get_cookie("authgate_session") is not None

    sign_out(driver, server)
    sign_in(driver, server, email)
    wait_for(driver, lambda d: "/auth/login/mfa" in d.current_url)
    by_label(driver, "Code").send_keys(recovery[0])
    press(driver, "Verify")
    wait_for(driver, lambda d: d.current_url.endswith(SECTION))
    assert "9" in driver.find_element(By.TAG_NAME, "section").text
