"""Checking an authorization request (RFC 6749 4.1.1, RFC 7636, OIDC Core 3.1.2.1).

Two stages, because they fail differently (RFC 6749 4.1.2.1): first the client and its
redirect_uri, which must be known before anything may be sent to that URI (a failure is an
error page, never a redirect); then everything else, whose failures are redirected to the
client with an `error`. Redirect URIs match registered ones exactly, character for
character: no prefixes, wildcards, case folding or normalisation.

Parameters sent without a value count as omitted (OIDC Core 3.1.2.1); parameters sent twice
are refused; parameters authgate does not know are ignored, repeated or not (RFC 6749 3.1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from authgate.clients.registry import Client
from authgate.config import OAuthSettings

# Upper bounds on what is carried through the pages; a request over them is refused.
MAX_LENGTHS = {
    "client_id": 128,
    "redirect_uri": 2048,
    "response_type": 64,
    "response_mode": 32,
    "scope": 2048,
    "state": 2048,
    "nonce": 512,
    "code_challenge": 128,
    "code_challenge_method": 16,
    "prompt": 64,
    "max_age": 10,
    "login_hint": 256,
    "id_token_hint": 8192,
}
# What the pages carry forward to finish the request (client_id and redirect_uri aside).
CARRIED = (
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
)
PROMPTS = frozenset({"none", "login", "consent", "select_account"})
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")
_NOT_SUPPORTED = {
    "request": "request_not_supported",
    "request_uri": "request_uri_not_supported",
    "registration": "registration_not_supported",
}


class UnsafeRequest(Exception):
    """The client or redirect_uri cannot be trusted: show an error page, never redirect.

    `key` names the page's words in the message catalogue (`flow.*`)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class AuthorizeError(Exception):
    """An error to send back to the client's redirect_uri (RFC 6749 4.1.2.1)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Target:
    """Where, and how, answers to this request go."""

    redirect_uri: str
    state: str | None
    fragment: bool

    def url(self, values: Mapping[str, str | None]) -> str:
        """The redirect_uri with `values` (and state) added, form-encoded (RFC 6749 App. B)."""
        pairs = [(k, v) for k, v in values.items() if v is not None]
        if self.state is not None:
            pairs.append(("state", self.state))
        if not pairs:
            return self.redirect_uri
        encoded = urlencode(pairs)
        if self.fragment:
            return f"{self.redirect_uri}#{encoded}"
        separator = "&" if urlsplit(self.redirect_uri).query else "?"
        if self.redirect_uri.endswith(("?", "&")):
            separator = ""
        return f"{self.redirect_uri}{separator}{encoded}"


@dataclass(frozen=True)
class AuthorizationRequest:
    client: Client
    target: Target
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    prompt: frozenset[str]
    max_age: int | None
    login_hint: str | None
    carried: dict[str, str]

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)


def find_target(
    client: Client | None, params: Mapping[str, str], duplicates: set[str]
) -> tuple[Client, Target]:
    """The client and its redirect target for this request; UnsafeRequest when there is none."""
    if "client_id" in duplicates or "redirect_uri" in duplicates:
        raise UnsafeRequest("flow.target_twice")
    if client is None:
        raise UnsafeRequest("flow.client_unknown")
    registered = client.metadata.redirect_uris
    asked = params.get("redirect_uri")
    if asked is None:
        # RFC 6749 lets a client with one registered URI leave it out; OIDC Core 3.1.2.1 does not.
        if len(registered) != 1 or "openid" in params.get("scope", "").split():
            raise UnsafeRequest("flow.no_redirect_uri")
        uri = registered[0]
    elif asked in registered:
        uri = asked
    else:
        raise UnsafeRequest("flow.redirect_unknown")
    return client, Target(uri, params.get("state"), _answers_in_fragment(params))


def _answers_in_fragment(params: Mapping[str, str]) -> bool:
    mode = params.get("response_mode")
    if mode in ("query", "fragment"):
        return mode == "fragment"
    # OAuth 2.0 Multiple Response Type Encoding Practices: token and id_token answer in the
    # fragment by default, so an implicit or hybrid client finds its error where it looks.
    types = set(params.get("response_type", "").split())
    return mode is None and bool(types & {"token", "id_token"})


def validate(
    client: Client,
    target: Target,
    params: Mapping[str, str],
    duplicates: set[str],
    oauth: OAuthSettings,
) -> AuthorizationRequest:
    """Everything after the target; AuthorizeError names what is wrong."""
    if duplicates & {*MAX_LENGTHS, *_NOT_SUPPORTED}:
        raise AuthorizeError("invalid_request", "A parameter is given more than once.")
    for name, error in _NOT_SUPPORTED.items():
        if name in params:
            raise AuthorizeError(error, f"The {name} parameter is not supported.")
    for name, limit in MAX_LENGTHS.items():
        if len(params.get(name, "")) > limit:
            raise AuthorizeError("invalid_request", f"The {name} parameter is too long.")
    response_type = params.get("response_type")
    if response_type is None:
        raise AuthorizeError("invalid_request", "response_type is required.")
    if response_type != "code":
        raise AuthorizeError("unsupported_response_type", "Only response_type=code is supported.")
    if not client.allows("authorization_code"):
        raise AuthorizeError(
            "unauthorized_client", "This client may not use the authorization code grant."
        )
    if params.get("response_mode") not in (None, "query", "fragment"):
        raise AuthorizeError("invalid_request", "response_mode must be query or fragment.")
    return AuthorizationRequest(
        client=client,
        target=target,
        scopes=_scopes(client, params.get("scope"), oauth),
        nonce=params.get("nonce"),
        code_challenge=_code_challenge(client, params, oauth),
        prompt=_prompt(params.get("prompt")),
        max_age=_max_age(params.get("max_age")),
        login_hint=params.get("login_hint"),
        carried={k: params[k] for k in CARRIED if k in params},
    )


def _scopes(client: Client, scope: str | None, oauth: OAuthSettings) -> tuple[str, ...]:
    """The requested scopes (the client's registered ones when none are asked for)."""
    asked = scope.split(" ") if scope is not None else client.metadata.scopes
    if any(not _SCOPE_TOKEN.fullmatch(s) for s in asked):
        raise AuthorizeError("invalid_scope", "The scope parameter is malformed.")
    allowed = set(client.metadata.scopes) & oauth.known_scopes()
    if any(s not in allowed for s in asked):
        raise AuthorizeError("invalid_scope", "A requested scope is not allowed for this client.")
    if not asked:
        raise AuthorizeError("invalid_scope", "No scope was requested.")
    return tuple(dict.fromkeys(asked))


def pkce_required(client: Client, oauth: OAuthSettings) -> bool:
    """Public clients always; others unless the client or the server opted out."""
    if not client.metadata.confidential:
        return True
    chosen = client.metadata.require_pkce
    return oauth.require_pkce if chosen is None else chosen


def _code_challenge(client: Client, params: Mapping[str, str], oauth: OAuthSettings) -> str | None:
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is None:
        if method is not None:
            raise AuthorizeError("invalid_request", "code_challenge_method without code_challenge.")
        if pkce_required(client, oauth):
            raise AuthorizeError("invalid_request", "PKCE is required: send code_challenge (S256).")
        return None
    # RFC 7636 4.3: a missing method means plain, which authgate refuses.
    if method != "S256":
        raise AuthorizeError("invalid_request", "code_challenge_method must be S256.")
    if not _S256_CHALLENGE.fullmatch(challenge):
        raise AuthorizeError("invalid_request", "code_challenge must be 43 base64url characters.")
    return challenge


def _prompt(value: str | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    prompts = frozenset(value.split(" "))
    if not prompts <= PROMPTS:
        raise AuthorizeError("invalid_request", "prompt has an unsupported value.")
    if "none" in prompts and len(prompts) > 1:
        raise AuthorizeError("invalid_request", "prompt=none cannot be combined with others.")
    return prompts


def _max_age(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isascii() or not value.isdigit():
        raise AuthorizeError("invalid_request", "max_age must be a whole number of seconds.")
    return int(value)
