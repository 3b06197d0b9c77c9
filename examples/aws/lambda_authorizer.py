"""An API Gateway Lambda authorizer that asks authgate (standard library only).

Deploy this file as the function (handler `lambda_authorizer.handler`, Python 3.11+) for a
REST API TOKEN or REQUEST authorizer or an HTTP API authorizer (payload 1.0 or 2.0). It
forwards its event to `POST {AUTHGATE_URL}/_authgate/aws/authorizer` with a
client_credentials token carrying `authgate:decide`, and returns authgate's answer as it is.

Environment:
  AUTHGATE_URL            authgate's public URL (https; http only to a loopback address)
  AUTHGATE_CLIENT_ID      a confidential client granted client_credentials and authgate:decide
  AUTHGATE_CLIENT_SECRET  its secret (keep it in an encrypted variable or Secrets Manager)
  AUTHGATE_TIMEOUT        seconds per call to authgate, default 3

The token is cached in the warm function until shortly before it expires, and fetched
again once if authgate refuses it (revoked, keys rotated). The event's own token being
missing or bad (authgate's 401 `unauthenticated`) raises `Exception("Unauthorized")`,
which API Gateway answers with 401. Anything else that goes wrong (authgate unreachable,
a timeout, an answer that is not an authorizer answer) raises another error, which API
Gateway answers with 500 and does not cache: it fails closed and never allows.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

log = logging.getLogger("authgate.lambda_authorizer")
PATH = "/_authgate/aws/authorizer"
SCOPE = "authgate:decide"
EARLY = 30.0
"""Seconds before its expiry that a cached token is replaced."""
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class AuthorizerFailure(Exception):
    """authgate could not decide; raised so that API Gateway answers 500, uncached."""


class _Tokens:
    """The function's own access token, shared by the invocations of a warm container."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: dict[tuple[str, str], tuple[str, float]] = {}

    def get(self, base: str, client_id: str, secret: str, timeout: float, fresh: bool) -> str:
        key = (base, client_id)
        with self._lock:
            found = self._cached.get(key)
            if found is not None and not fresh and time.monotonic() < found[1]:
                return found[0]
            token, lifetime = _client_token(base, client_id, secret, timeout)
            self._cached[key] = (token, time.monotonic() + max(0.0, lifetime - EARLY))
            return token


_tokens = _Tokens()


def _base_url() -> str:
    base = os.environ.get("AUTHGATE_URL", "").rstrip("/")
    parts = urllib.parse.urlsplit(base)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        return base
    raise AuthorizerFailure("AUTHGATE_URL must be an https URL (http only to loopback).")


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, Any]:
    """(status, parsed JSON body) of a POST; network trouble is AuthorizerFailure."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        try:
            return refused.code, json.loads(refused.read())
        except ValueError:
            return refused.code, None
        finally:
            refused.close()
    except (OSError, ValueError) as trouble:
        raise AuthorizerFailure(f"authgate is unreachable: {type(trouble).__name__}") from None


def _client_token(base: str, client_id: str, secret: str, timeout: float) -> tuple[str, float]:
    """(access token, lifetime in seconds) from the token endpoint."""
    basic = base64.b64encode(
        f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}".encode()
    ).decode()
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": SCOPE})
    status, body = _post(
        f"{base}/oauth2/token",
        form.encode(),
        {
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout,
    )
    if status != 200 or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise AuthorizerFailure(f"the token endpoint answered {status}")
    lifetime = body.get("expires_in")
    return body["access_token"], float(lifetime) if isinstance(lifetime, int | float) else 60.0


def _is_answer(body: Any) -> bool:
    """An IAM policy or a simple response: nothing else is handed to API Gateway."""
    if not isinstance(body, dict):
        return False
    if "isAuthorized" in body:
        return isinstance(body["isAuthorized"], bool)
    document = body.get("policyDocument")
    return isinstance(body.get("principalId"), str) and isinstance(document, dict)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: authgate's answer to `event`, or raise."""
    base = _base_url()
    client_id = os.environ.get("AUTHGATE_CLIENT_ID", "")
    secret = os.environ.get("AUTHGATE_CLIENT_SECRET", "")
    if not client_id or not secret:
        raise AuthorizerFailure("AUTHGATE_CLIENT_ID and AUTHGATE_CLIENT_SECRET are required.")
    timeout = float(os.environ.get("AUTHGATE_TIMEOUT", "3"))
    body = json.dumps(event).encode()
    status, answer = 0, None
    for fresh in (False, True):
        token = _tokens.get(base, client_id, secret, timeout, fresh)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        status, answer = _post(base + PATH, body, headers, timeout)
        caller_refused = status == 401 and not (
            isinstance(answer, dict) and answer.get("error") == "unauthenticated"
        )
        if not caller_refused:
            break
    if status == 200 and _is_answer(answer):
        assert isinstance(answer, dict)
        return answer
    if status == 401 and isinstance(answer, dict) and answer.get("error") == "unauthenticated":
        raise Exception("Unauthorized")  # noqa: TRY002 - the exact signal API Gateway reads
    log.error("authgate refused to decide: status %s", status)
    raise AuthorizerFailure(f"authgate answered {status}")
