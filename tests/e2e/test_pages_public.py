"""The public hosted pages in a real Chromium: sign up, confirm with the mailed code, sign in,
sign out; forgot and reset the password. Every page is checked with axe-core and kept as a
screenshot under tests/e2e/artifacts/."""

from __future__ import annotations

from urllib.parse import quote

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.support import (
    by_label,
    follow,
    on_page,
    press,
)
from tests.integration.browser import PASSWORD, create_user
from tests.integration.conftest import unique_email
from tests.integration.harness import AuthgateServer

NEW_PASSWORD = "another lemon tree 7"


def sign_in(driver: WebDriver, username: str, password: str) -> None:
    by_label(driver, "Email or username").clear()
    by_label(driver, "Email or username").send_keys(username)
    by_label(driver, "Password").send_keys(password)
    press(driver, "Sign in")


def test_sign_up_confirm_sign_in_and_sign_out(
    server: AuthgateServer, driver: WebDriver, backend: str
) -> None:
    email = unique_email("chromium")
    driver.get(f"{server.public}/auth/signup?return_to={quote('/auth/logout')}")
    on_page(driver, "Create an account", f"pages-signup-{backend}")
    by_label(driver, "Email address").send_keys(email)
    by_label(driver, "Password").send_keys("short")
    press(driver, "Sign up")
    on_page(driver, "Create an account", f"pages-signup-error-{backend}")
    field = by_label(driver, "Password")
    assert field.get_attribute("aria-invalid") == "true"
    assert driver.find_element(By.ID, "password-error").is_displayed()
    field.send_keys(PASSWORD)
    press(driver, "Sign up")

    on_page(driver, "Confirm your account", f"pages-signup-confirm-{backend}")
    assert by_label(driver, "Email or username").get_attribute("value") == email
    code = server.wait_for_mail(email).code
    assert code is not None
    by_label(driver, "Code").send_keys(code)
    press(driver, "Confirm")
    on_page(driver, "Your account is confirmed", f"pages-signup-confirmed-{backend}")
    follow(driver, "Sign in")

    on_page(driver, "Sign in", f"pages-login-{backend}")
    sign_in(driver, email, PASSWORD)
    on_page(driver, "Sign out?", f"pages-logout-{backend}")
    assert driver.get_cookie("authgate_session") is not None
    press(driver, "Sign out")
    on_page(driver, "You are signed out", f"pages-signed-out-{backend}")
    assert driver.get_cookie("authgate_session") is None


def test_forgot_and_reset_the_password(
    server: AuthgateServer, driver: WebDriver, backend: str
) -> None:
    email = unique_email("forgetful")
    create_user(server, email)
    driver.get(f"{server.public}/auth/login?return_to={quote('/auth/logout')}")
    follow(driver, "Forgot your password?")
    on_page(driver, "Reset your password", f"pages-password-forgot-{backend}")
    by_label(driver, "Email or username").send_keys(email)
    press(driver, "Send a code")

    on_page(driver, "Choose a new password", f"pages-password-reset-{backend}")
    code = server.wait_for_mail(email).code
    assert code is not None
    by_label(driver, "Code").send_keys("000000")
    by_label(driver, "New password").send_keys(NEW_PASSWORD)
    press(driver, "Set the new password")
    on_page(driver, "Choose a new password", f"pages-password-reset-error-{backend}")
    assert by_label(driver, "Code").get_attribute("aria-invalid") == "true"
    by_label(driver, "Code").clear()
    by_label(driver, "Code").send_keys(code)
    by_label(driver, "New password").send_keys(NEW_PASSWORD)
    press(driver, "Set the new password")
    on_page(driver, "Your password is changed", f"pages-password-changed-{backend}")
    follow(driver, "Sign in")

    on_page(driver, "Sign in", f"pages-login-again-{backend}")
    sign_in(driver, email, PASSWORD)
    on_page(driver, "Sign in", f"pages-login-wrong-{backend}")
    sign_in(driver, email, NEW_PASSWORD)
    on_page(driver, "Sign out?", f"pages-logout-after-reset-{backend}")
