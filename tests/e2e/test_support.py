"""The browser tests' own tools can fail: the accessibility check finds a real violation."""

from __future__ import annotations

from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.support import accessibility_violations, screenshot

_BAD_PAGE = (
    "data:text/html,<!doctype html><html><head><title>t</title></head><body><main>"
    "<form><input type=text id=nameless></form><button></button></main></body></html>"
)


def test_the_accessibility_check_reports_an_unlabelled_field_and_an_empty_button(
    browser: WebDriver,
) -> None:
    browser.get(_BAD_PAGE)
    found = {v["id"] for v in accessibility_violations(browser)}
    assert {"label", "button-name"} <= found


def test_a_screenshot_is_kept_as_an_artefact(browser: WebDriver) -> None:
    browser.get(_BAD_PAGE)
    path = screenshot(browser, "support self-test")
    assert path.name == "support-self-test.png"
    assert path.read_bytes().startswith(b"\x89PNG")
