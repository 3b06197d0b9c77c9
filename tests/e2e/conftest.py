"""Real-browser tests reuse the integration fixtures: a real server per module and backend."""

from collections.abc import Iterator

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.support import chromium
from tests.integration.conftest import backend, make_server, server

__all__ = ["backend", "browser", "driver", "make_server", "server"]


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """One headless Chromium per test module (tests clear its cookies as they need)."""
    yield from chromium()


@pytest.fixture
def driver(browser: WebDriver) -> Iterator[WebDriver]:
    """The module's Chromium with no cookies: each test starts as a new visitor."""
    browser.delete_all_cookies()
    yield browser
