"""What every real-browser test needs: a headless Chromium, label lookups, accessibility
checks with axe-core, screenshots kept as artefacts, and a virtual WebAuthn authenticator.

axe-core comes from the npm registry, locked in tests/e2e/package-lock.json (`make test`
installs it). It is injected through WebDriver, which the page's Content-Security-Policy
does not govern, so the pages keep their strict policy while being checked.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.virtual_authenticator import (
    Protocol,
    Transport,
    VirtualAuthenticatorOptions,
)
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

HERE = Path(__file__).parent
ARTIFACTS = HERE / "artifacts"
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
BLOCKING_IMPACTS = ("serious", "critical")
_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


def _missing(message: str) -> None:
    """Fail in CI, where `make test` installs everything; skip, saying why, elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def start_chromium() -> WebDriver:
    if not (CHROMIUM and CHROMEDRIVER):
        _missing("chromium and chromedriver are not installed (make test installs them as root)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in _FLAGS:
        options.add_argument(flag)
    options.add_argument("--lang=en-GB")
    options.add_argument("--window-size=900,1000")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


def chromium() -> Iterator[WebDriver]:
    """A fresh headless Chromium, quit afterwards (wrap in a fixture of the scope needed)."""
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


def by_label(driver: WebDriver, text: str) -> Any:
    """The form control a visible label names, as a person finds it."""
    label = driver.find_element(By.XPATH, f"//label[normalize-space()='{text}']")
    return driver.find_element(By.ID, label.get_attribute("for"))


def click_button(driver: WebDriver, text: str) -> None:
    driver.find_element(By.XPATH, f"//button[normalize-space()='{text}']").click()


def wait_for(driver: WebDriver, condition: Any, timeout: float = 20) -> Any:
    return WebDriverWait(driver, timeout).until(condition)


def screenshot(driver: WebDriver, name: str) -> Path:
    """Keep a picture of the whole page (not only what the window shows) under
    tests/e2e/artifacts/ (not committed)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]  # type: ignore[attr-defined]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd(  # type: ignore[attr-defined]
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def accessibility_violations(driver: WebDriver) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page now shown."""
    if not AXE.exists():
        _missing(f"axe-core is not installed at {AXE} (make test runs npm ci in tests/e2e)")
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    driver.set_script_timeout(30)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(r => done(JSON.stringify(r.violations)),"
        " e => done(JSON.stringify([{id: 'axe-error', impact: 'critical', help: String(e)}])));"
    )
    violations: list[dict[str, Any]] = json.loads(result)
    return [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]


def assert_accessible(driver: WebDriver) -> None:
    """No serious or critical accessibility violation on the page now shown."""
    found = accessibility_violations(driver)
    summary = [
        f"{v['id']} ({v['impact']}): {v.get('help', '')} at "
        + ", ".join(str(node.get("target")) for node in v.get("nodes", [])[:3])
        for v in found
    ]
    assert not found, f"{driver.current_url}:\n" + "\n".join(summary)


def add_passkey_authenticator(driver: WebDriver) -> str:
    """A virtual CTAP2 platform authenticator with resident keys and user verification."""
    driver.add_virtual_authenticator(
        VirtualAuthenticatorOptions(
            protocol=Protocol.CTAP2,
            transport=Transport.INTERNAL,
            has_resident_key=True,
            has_user_verification=True,
            is_user_verified=True,
            is_user_consenting=True,
        )
    )
    return str(driver.virtual_authenticator_id)


def heading(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "h1").text)


def loaded(driver: WebDriver) -> None:
    """Wait until the page now shown has finished loading (its nodes stay put)."""
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def replaced(page: Any) -> Any:
    """A wait condition: the page whose root element is `page` has been replaced. Besides
    the stale element WebDriver names, Chromium answers a node of the document that just
    left with an inspector error, which means the same thing."""

    def gone(driver: WebDriver) -> bool:
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    return gone


def press(driver: WebDriver, button: str) -> None:
    """Press a button and wait until the page it submits to has replaced this one."""
    loaded(driver)
    page = driver.find_element(By.TAG_NAME, "html")
    click_button(driver, button)
    wait_for(driver, replaced(page))
    loaded(driver)


def follow(driver: WebDriver, link: str) -> None:
    """Follow a link by its text and wait for the next page."""
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.LINK_TEXT, link).click()
    wait_for(driver, replaced(page))


def on_page(driver: WebDriver, title: str, shot: str) -> None:
    """The page titled `title` is shown; it is accessible, and kept as a screenshot."""
    wait_for(driver, lambda d: heading(d) == title)
    screenshot(driver, shot)
    assert_accessible(driver)
