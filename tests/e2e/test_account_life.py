"""One person's whole account life in a real Chromium, page by page: sign up, confirm,
sign in, turn on TOTP by reading the secret off the page, sign out, sign in with a code,
then with a recovery code, reset the password, end a session started on another device,
and delete the account. Every page is checked with axe-core and kept as a screenshot
under tests/e2e/artifacts/ (`life-*`), which docs/pages.md shows."""

from __future__ import annotations

import time

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.support import by_label, follow, on_page, press, wait_for
from tests.integration.browser import PASSWORD, Browser
from tests.integration.conftest import unique_email
from tests.integration.harness import AuthgateServer
from tests.integration.mfa_support import STEP, code, steady

NEW_PASSWORD = "a brand new lemon tree 9"
ACCOUNT = "Your account"
MFA = "Two-step verification"


class Authenticator:
    """The person's authenticator app. A code is accepted once, so each sign-in needs a
    step not used before; the server allows one step of clock drift, so the app may run up
    to one step ahead, as a phone whose clock is a little fast would."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.used = -1

    def code(self) -> str:
        step = max(steady(), self.used + 1)
        while step > int(time.time() // STEP) + 1:
            time.sleep(STEP - time.time() % STEP + 0.1)
        self.used = step
        return code(self.secret, step)


def sign_in(driver: WebDriver, server: AuthgateServer, email: str, password: str) -> None:
    driver.get(f"{server.public}/auth/login")
    by_label(driver, "Email or username").send_keys(email)
    by_label(driver, "Password").send_keys(password)
    press(driver, "Sign in")


def sign_out(driver: WebDriver, server: AuthgateServer, shot: str | None = None) -> None:
    driver.get(f"{server.public}/auth/logout")
    if shot:
        on_page(driver, "Sign out?", shot)
    press(driver, "Sign out")
    assert driver.get_cookie("authgate_session") is None


def second_step(driver: WebDriver, answer: str, shot: str | None = None) -> None:
    wait_for(driver, lambda d: "/auth/login/mfa" in d.current_url)
    if shot:
        on_page(driver, MFA, shot)
    by_label(driver, "Code").send_keys(answer)
    press(driver, "Verify")


def test_a_person_lives_a_whole_account_life_in_the_browser(
    server: AuthgateServer, driver: WebDriver, backend: str
) -> None:
    email = unique_email("life")
    shot = f"life-{backend}"

    driver.get(f"{server.public}/auth/signup")
    on_page(driver, "Create an account", f"{shot}-01-signup")
    by_label(driver, "Email address").send_keys(email)
    by_label(driver, "Password").send_keys(PASSWORD)
    press(driver, "Sign up")
    on_page(driver, "Confirm your account", f"{shot}-02-signup-confirm")
    by_label(driver, "Code").send_keys(str(server.wait_for_mail(email).code))
    press(driver, "Confirm")
    on_page(driver, "Your account is confirmed", f"{shot}-03-confirmed")
    follow(driver, "Sign in")

    on_page(driver, "Sign in", f"{shot}-04-login")
    by_label(driver, "Email or username").send_keys(email)
    by_label(driver, "Password").send_keys(PASSWORD)
    press(driver, "Sign in")
    on_page(driver, ACCOUNT, f"{shot}-05-account")

    driver.get(f"{server.public}/auth/account/mfa")
    on_page(driver, MFA, f"{shot}-06-mfa-off")
    by_label(driver, "Password").send_keys(PASSWORD)
    press(driver, "Set up an authenticator app")
    on_page(driver, MFA, f"{shot}-07-mfa-enrol")
    app = Authenticator(driver.find_element(By.ID, "totp-secret").text)
    by_label(driver, "Code").send_keys(app.code())
    press(driver, "Turn on")
    on_page(driver, MFA, f"{shot}-08-mfa-recovery-codes")
    recovery = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#recovery-codes code")]
    assert len(recovery) == 10

    sign_out(driver, server, f"{shot}-09-logout")
    sign_in(driver, server, email, PASSWORD)
    second_step(driver, app.code(), f"{shot}-10-login-mfa")
    on_page(driver, ACCOUNT, f"{shot}-11-account-signed-in-with-a-code")

    sign_out(driver, server)
    sign_in(driver, server, email, PASSWORD)
    second_step(driver, recovery[0])
    on_page(driver, ACCOUNT, f"{shot}-12-account-signed-in-with-a-recovery-code")
    sign_out(driver, server)
    sign_in(driver, server, email, PASSWORD)
    second_step(driver, recovery[0])
    on_page(driver, MFA, f"{shot}-13-recovery-code-spent")
    assert driver.get_cookie("authgate_session") is None

    driver.delete_all_cookies()
    driver.get(f"{server.public}/auth/login")
    follow(driver, "Forgot your password?")
    on_page(driver, "Reset your password", f"{shot}-14-password-forgot")
    by_label(driver, "Email or username").send_keys(email)
    mails = len(server.mails(email))
    press(driver, "Send a code")
    on_page(driver, "Choose a new password", f"{shot}-15-password-reset")
    by_label(driver, "Code").send_keys(str(server.wait_for_mail(email, mails + 1).code))
    by_label(driver, "New password").send_keys(NEW_PASSWORD)
    press(driver, "Set the new password")
    on_page(driver, "Your password is changed", f"{shot}-16-password-changed")

    sign_in(driver, server, email, NEW_PASSWORD)
    second_step(driver, app.code())
    on_page(driver, ACCOUNT, f"{shot}-17-account-after-reset")

    with Browser(server) as phone:
        phone.http.headers["User-Agent"] = "Phone Browser/3"
        page = phone.http.get("/auth/login", params={"return_to": "/auth/account"})
        challenge = phone.follow(phone.sign_in(page, email, NEW_PASSWORD))
        assert phone.submit(challenge, code=app.code()).status_code == 303
        assert phone.http.get("/auth/account").status_code == 200
        driver.refresh()
        assert "Phone Browser/3" in driver.page_source
        on_page(driver, ACCOUNT, f"{shot}-18-account-two-sessions")
        press(driver, "End this session")
        on_page(driver, ACCOUNT, f"{shot}-19-account-session-ended")
        assert "Phone Browser/3" not in driver.page_source
        assert phone.http.get("/auth/account").status_code == 303

    by_label(driver, "Your password").send_keys(NEW_PASSWORD)
    by_label(driver, f"Type {email} to confirm").send_keys(email)
    press(driver, "Delete my account")
    on_page(driver, "Your account is deleted", f"{shot}-20-deleted")
    assert driver.get_cookie("authgate_session") is None
    with server.public_client() as http:
        answer = http.post("/v1/login", json={"username": email, "password": NEW_PASSWORD})
    assert answer.status_code == 401
