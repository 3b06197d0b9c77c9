"""What every hosted page shares, over HTTP: its headers, its language (Accept-Language),
templates and words overridden from `ui.templates_dir`, and a prefix of one's own."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.integration.browser import Browser, Page
from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer

PAGES = [
    "/auth/login",
    "/auth/signup",
    "/auth/signup/confirm",
    "/auth/password/forgot",
    "/auth/password/reset",
    "/auth/logout",
]


@pytest.fixture(scope="module")
def server(make_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory) -> AuthgateServer:
    own = tmp_path_factory.mktemp("templates")
    (own / "messages" / "en").mkdir(parents=True)
    (own / "messages" / "en" / "brand.json").write_text(
        '{"login.title": "Log on to Acme", "brand.motto": "Acme keeps you safe"}'
    )
    (own / "message.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>{{ title }}</h1>'
        '<p class="motto">{{ t("brand.motto") }}</p><p>{{ message }}</p>{% endblock %}'
    )
    return make_server(ui={"languages": ["en", "de"], "templates_dir": str(own)})


@pytest.fixture
def browser(server: AuthgateServer) -> Iterator[Browser]:
    with Browser(server) as browser:
        yield browser


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_the_protective_headers(browser: Browser, path: str) -> None:
    response = browser.http.get(path)
    assert response.status_code == 200
    headers = response.headers
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "form-action 'self'" in policy
    assert "script-src" not in policy
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    assert "Accept-Language" in headers["vary"]
    assert headers["content-language"] == "en"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_no_script_and_labels_every_field(browser: Browser, path: str) -> None:
    page = Page(browser.http.get(path).text)
    assert not page.all("script")
    for form in page.forms:
        visible = [i["id"] for i in form.inputs if i.get("type") != "hidden"]
        assert set(visible) <= set(page.labels)


@pytest.mark.parametrize("path", PAGES)
def test_german_is_picked_by_accept_language(browser: Browser, path: str) -> None:
    response = browser.http.get(path, headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert response.headers["content-language"] == "de"
    assert '<html lang="de">' in response.text


def test_the_german_sign_in_page_speaks_german(browser: Browser) -> None:
    response = browser.http.get("/auth/login", headers={"Accept-Language": "de"})
    assert "<h1>Anmelden</h1>" in response.text
    assert "Passwort" in response.text


def test_an_unoffered_language_falls_back_to_the_first(browser: Browser) -> None:
    response = browser.http.get("/auth/login", headers={"Accept-Language": "fr, ja;q=0.5"})
    assert response.headers["content-language"] == "en"
    assert '<html lang="en">' in response.text


def test_german_errors_are_german(browser: Browser) -> None:
    page = browser.http.get("/auth/login", headers={"Accept-Language": "de"})
    fields = Page(page.text).form.fields
    response = browser.http.post(
        "/auth/login",
        data={**fields, "username": "x@example.com", "password": "wrong one!"},
        headers={"Accept-Language": "de"},
    )
    assert response.status_code == 400
    assert "Benutzername oder Passwort ist falsch." in response.text


def test_templates_dir_words_override_the_packaged_ones(browser: Browser) -> None:
    response = browser.http.get("/auth/login")
    assert "<h1>Log on to Acme</h1>" in response.text
    german = browser.http.get("/auth/login", headers={"Accept-Language": "de"})
    assert "<h1>Anmelden</h1>" in german.text  # only English was overridden


def test_a_templates_dir_template_overrides_the_packaged_one(browser: Browser) -> None:
    response = browser.http.get("/auth/logout")  # not signed in: the signed-out message page
    assert '<p class="motto">Acme keeps you safe</p>' in response.text


def test_the_stylesheet_is_allowed_by_its_hash(browser: Browser) -> None:
    response = browser.http.get("/auth/signup")
    (css,) = re.findall(r"<style>(.*?)</style>", response.text, re.S)
    assert "aria-invalid" in css


def test_a_prefix_of_ones_own_moves_every_page(make_server: ServerFactory) -> None:
    server = make_server(ui={"prefix": "/id/pages"})
    with Browser(server) as browser:
        assert browser.http.get("/auth/login").status_code == 404
        page = browser.http.get("/id/pages/login")
        assert page.status_code == 200
        assert Page(page.text).form.action == "/id/pages/login"
        old = browser.http.get("/oauth2/signin", params={"ticket": "t"})
        assert old.headers["location"] == "/id/pages/login?ticket=t"
