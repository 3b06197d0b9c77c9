"""A person at the hosted pages, played with plain HTTP: sign in, consent, land on the client.

No browser and no knowledge of authgate's templates beyond what HTML says: the driver reads
each page's forms (action, method, hidden fields such as the CSRF token), fills the one with a
password field, or on a consent page presses the button that grants, and follows the app's
own redirects until one leaves for the client's registered redirect_uri. It never contacts the
client: the redirect_uri's Location is the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx

GRANT_WORDS = re.compile(r"\b(allow|approve|accept|authori[sz]e|grant|consent|yes)\b", re.I)
DENY_WORDS = re.compile(r"\b(deny|decline|reject|cancel|no|not|don.t)\b", re.I)
IDENTIFIER_NAMES = {"email", "username", "login", "identifier", "user", "name"}
MAX_STEPS = 12


@dataclass
class Button:
    name: str | None
    value: str
    text: str = ""

    @property
    def label(self) -> str:
        return f"{self.name or ''} {self.value} {self.text}"


@dataclass
class Form:
    action: str
    method: str
    inputs: list[dict[str, str]] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)

    def has_password(self) -> bool:
        return any(i.get("type", "text").lower() == "password" for i in self.inputs)

    def grant_button(self) -> Button | None:
        for button in self.buttons:
            if GRANT_WORDS.search(button.label) and not DENY_WORDS.search(button.label):
                return button
        return None

    def fields(self) -> dict[str, str]:
        """The values the browser would send by default (checkboxes only when checked)."""
        values: dict[str, str] = {}
        for attrs in self.inputs:
            kind = attrs.get("type", "text").lower()
            name = attrs.get("name")
            if not name or kind in {"submit", "button", "image", "reset", "file"}:
                continue
            if kind in {"checkbox", "radio"} and "checked" not in attrs:
                continue
            values[name] = attrs.get("value", "on" if kind == "checkbox" else "")
        return values


class FormParser(HTMLParser):
    """Every <form> on a page with its inputs and submit buttons."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._button: Button | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._form = Form(values.get("action", ""), values.get("method", "get").lower())
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input":
            kind = values.get("type", "text").lower()
            if kind in {"submit", "image"}:
                self._form.buttons.append(Button(values.get("name"), values.get("value", "")))
            else:
                self._form.inputs.append(values)
        elif tag == "button" and values.get("type", "submit").lower() == "submit":
            self._button = Button(values.get("name"), values.get("value", ""))
            self._form.buttons.append(self._button)

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.text += data.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._button = None
        elif tag == "form":
            self._form = None


def forms_of(html: str) -> list[Form]:
    parser = FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def sign_in_fields(form: Form, email: str, password: str) -> dict[str, str]:
    values = form.fields()
    for attrs in form.inputs:
        name = attrs.get("name")
        kind = attrs.get("type", "text").lower()
        if not name:
            continue
        if kind == "password":
            values[name] = password
        elif kind == "email" or name.lower() in IDENTIFIER_NAMES:
            values[name] = email
    return values


@dataclass
class Journey:
    """What happened on the way: the pages seen (for assertions) and where it ended."""

    pages: list[str] = field(default_factory=list)
    saw_consent: bool = False
    location: str = ""


class UnexpectedPage(AssertionError):
    pass


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _describe(response: httpx.Response) -> str:
    request = response.request
    return f"{request.method} {request.url} -> {response.status_code}: {response.text[:600]}"


def _submission(response: httpx.Response, email: str, password: str) -> tuple[str, dict[str, str]]:
    """Where the page's sign-in or consent form posts, and what it sends."""
    forms = [f for f in forms_of(response.text) if f.method == "post"]
    base = str(response.url)
    login = next((f for f in forms if f.has_password()), None)
    if login is not None:
        data = sign_in_fields(login, email, password)
        if login.buttons and login.buttons[0].name:
            data[login.buttons[0].name] = login.buttons[0].value
        return urljoin(base, login.action or base), data
    for form in forms:
        button = form.grant_button()
        if button is not None:
            data = form.fields()
            if button.name:
                data[button.name] = button.value
            return urljoin(base, form.action or base), data
    raise UnexpectedPage(f"no sign-in or consent form on the page: {_describe(response)}")


def drive(
    http: httpx.Client, authorize_url: str, redirect_uri: str, email: str, password: str
) -> Journey:
    """From the authorization URL to the redirect to `redirect_uri`, as a browser would.

    `http` is the browser's cookie jar (an httpx.Client keeps cookies); redirects are
    followed here, one by one, so that the one to the client can be caught.
    """
    journey = Journey()
    request = http.build_request("GET", authorize_url)
    for _ in range(MAX_STEPS):
        response = http.send(request, follow_redirects=False)
        if response.is_redirect:
            target = urljoin(str(response.url), response.headers["location"])
            if _without_query(target) == _without_query(redirect_uri):
                journey.location = target
                return journey
            request = http.build_request("GET", target)
            continue
        if response.status_code != 200 or "html" not in response.headers.get("content-type", ""):
            raise UnexpectedPage(_describe(response))
        journey.pages.append(str(response.url))
        if not any(f.has_password() for f in forms_of(response.text)):
            journey.saw_consent = True
        action, data = _submission(response, email, password)
        request = http.build_request("POST", action, data=data)
    raise UnexpectedPage(f"no redirect to {redirect_uri} after {MAX_STEPS} steps")
