"""Calling a webhook: a signed POST, an answer read within a size and a time bound, and
the fire-and-forget notices retried in the background with the same webhook-id.

Every attempt is counted (hook, outcome) and timed for the metrics, and audited (hook,
outcome, duration; never the body, which may hold a password). Audit rows are written
by a background task: a hook may be called inside the caller's write transaction
(pre_token), which a second writer must not wait on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from standardwebhooks import Webhook

from authgate.audit import SYSTEM, Caller, record
from authgate.config import ConfigError, resolve_secret
from authgate.flows import NO_FLOWS, FlowRecorder
from authgate.hooks.settings import HookEndpoint, check_url
from authgate.store import Store

log = logging.getLogger("authgate.hooks")

OK = "ok"
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"
HTTP_ERROR = "http_error"
TOO_LARGE = "too_large"
BAD_ANSWER = "bad_answer"
LAMBDA_ERROR = "lambda_error"
"""Outcomes of one call (a closed set: metric labels)."""

SHUTDOWN_GRACE = 2.0
"""Seconds notices in flight may still finish at shutdown before they are cancelled."""


class HookCallFailed(Exception):
    """A call gave no usable answer; `outcome` says why (one of the outcomes above)."""

    def __init__(self, outcome: str, detail: str = "") -> None:
        super().__init__(f"{outcome}: {detail}" if detail else outcome)
        self.outcome = outcome


class LambdaRaised(HookCallFailed):
    """The hook answered as a Lambda function that raised (HTTP 400 with errorType and
    errorMessage, the shape `examples/hooks/cognito_lambda_shim.py` sends)."""

    def __init__(self, message: str) -> None:
        super().__init__(LAMBDA_ERROR)
        self.message = message


@dataclass(frozen=True)
class Target:
    """One configured hook, its secret resolved and checked at start."""

    name: str
    url: str
    endpoint: HookEndpoint
    signer: Webhook


def hook_secret(name: str, endpoint: HookEndpoint) -> str:
    """The hook's signing secret, its reference resolved (ConfigError naming the key)."""
    return resolve_secret(endpoint.secret, f"hooks.{name}.secret") or ""


def hook_url(name: str, endpoint: HookEndpoint) -> str:
    """The hook's URL, its reference resolved (ConfigError naming the key)."""
    return resolve_secret(endpoint.url, f"hooks.{name}.url") or ""


def target(name: str, endpoint: HookEndpoint) -> Target:
    """A hook ready to call; ConfigError naming the key when its URL is not http(s) or
    its secret not a Standard Webhooks secret (base64, optionally `whsec_`-prefixed)."""
    url = hook_url(name, endpoint)
    secret = hook_secret(name, endpoint)
    try:
        check_url(url)
    except ValueError as exc:
        raise ConfigError("hooks", [f"hooks.{name}.url: {exc}"]) from None
    try:
        signer = Webhook(secret)
    except Exception:
        problem = f"hooks.{name}.secret: not a base64 Standard Webhooks secret"
        raise ConfigError("hooks", [problem]) from None
    return Target(name, url, endpoint, signer)


def new_webhook_id() -> str:
    return f"msg_{secrets.token_urlsafe(18)}"


def signed_request(target: Target, body: bytes, webhook_id: str) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt (a fresh timestamp each time)."""
    now = datetime.now(UTC)
    return {
        "content-type": "application/json",
        "user-agent": "authgate-hooks",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": target.signer.sign(webhook_id, now, body),
    }


class HookTransport:
    def __init__(
        self,
        store: Store,
        *,
        max_response_bytes: int,
        retries: int,
        retry_backoff: float,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._store = store
        self._max = max_response_bytes
        self._retries = retries
        self._backoff = retry_backoff
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.flows: FlowRecorder = NO_FLOWS
        """Told each call's outcome and time, by hook (metrics)."""

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100), trust_env=False
            )
        return self._session

    async def call(
        self,
        target: Target,
        payload: dict[str, Any],
        caller: Caller = SYSTEM,
        sub: str | None = None,
        *,
        webhook_id: str | None = None,
    ) -> dict[str, Any]:
        """POST `payload` signed and return the JSON object answered; HookCallFailed
        when the hook is slow, unreachable, answers non-2xx, too much, or not an object."""
        webhook_id = webhook_id or new_webhook_id()
        started = self._clock()
        outcome = OK
        try:
            async with asyncio.timeout(target.endpoint.timeout):
                return await self._post(target, payload, webhook_id)
        except TimeoutError:
            outcome = TIMEOUT
            raise HookCallFailed(TIMEOUT) from None
        except HookCallFailed as failed:
            outcome = failed.outcome
            raise
        except (aiohttp.ClientError, OSError) as exc:
            outcome = UNREACHABLE
            raise HookCallFailed(UNREACHABLE, type(exc).__name__) from None
        finally:
            seconds = self._clock() - started
            self.flows.record("hook", outcome, seconds, target.name)
            self._audit(target.name, outcome, seconds, caller, sub, webhook_id)

    async def _post(
        self, target: Target, payload: dict[str, Any], webhook_id: str
    ) -> dict[str, Any]:
        body = json.dumps(payload, separators=(",", ":"), default=str).encode()
        headers = signed_request(target, body, webhook_id)
        async with self._client().post(
            target.url, data=body, headers=headers, allow_redirects=False
        ) as response:
            raw = await self._bounded(response)
            status = response.status
        if status == 400:
            raised = _lambda_error(raw)
            if raised is not None:
                raise LambdaRaised(raised)
        if not 200 <= status < 300:
            raise HookCallFailed(HTTP_ERROR, str(status))
        if not raw.strip():
            return {}
        try:
            answer = json.loads(raw)
        except ValueError:
            raise HookCallFailed(BAD_ANSWER, "not JSON") from None
        if not isinstance(answer, dict):
            raise HookCallFailed(BAD_ANSWER, "not a JSON object")
        found: dict[str, Any] = answer
        return found

    async def _bounded(self, response: aiohttp.ClientResponse) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(8192):
            size += len(chunk)
            if size > self._max:
                raise HookCallFailed(TOO_LARGE)
            chunks.append(chunk)
        return b"".join(chunks)

    def notify(
        self, target: Target, payload: dict[str, Any], caller: Caller, sub: str | None
    ) -> None:
        """Send a notice in the background: up to 1 + retries attempts, the same
        webhook-id on each, waiting retry_backoff, doubled after each failure."""
        self._spawn(self._deliver(target, payload, caller, sub))

    async def _deliver(
        self, target: Target, payload: dict[str, Any], caller: Caller, sub: str | None
    ) -> None:
        webhook_id = new_webhook_id()
        delay = self._backoff
        for attempt in range(1 + self._retries):
            if attempt:
                await asyncio.sleep(delay)
                delay *= 2
            try:
                await self.call(target, payload, caller, sub, webhook_id=webhook_id)
                return
            except HookCallFailed as failed:
                log.warning(
                    "hook %s attempt %d failed: %s", target.name, attempt + 1, failed.outcome
                )
        log.error("hook %s gave up after %d attempts", target.name, 1 + self._retries)

    def _audit(
        self,
        hook: str,
        outcome: str,
        seconds: float,
        caller: Caller,
        sub: str | None,
        webhook_id: str,
    ) -> None:
        self._spawn(self._write_audit(hook, outcome, seconds, caller, sub, webhook_id))

    async def _write_audit(
        self,
        hook: str,
        outcome: str,
        seconds: float,
        caller: Caller,
        sub: str | None,
        webhook_id: str,
    ) -> None:
        try:
            async with self._store.transaction() as tx:
                await record(
                    tx,
                    "hook_called",
                    caller,
                    sub=sub,
                    hook=hook,
                    outcome=outcome,
                    duration_ms=round(seconds * 1000, 1),
                    webhook_id=webhook_id,
                )
        except Exception as exc:
            log.error("hook %s call could not be audited: %s", hook, type(exc).__name__)

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def close(self, grace: float = SHUTDOWN_GRACE) -> None:
        """At shutdown: let notices and audit rows in flight finish for `grace` seconds,
        cancel the rest, close the connections."""
        if self._pending:
            _, late = await asyncio.wait(set(self._pending), timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
                log.warning("%d hook notices cancelled at shutdown", len(late))
        if self._session is not None:
            await self._session.close()


def _lambda_error(raw: bytes) -> str | None:
    """The errorMessage of a Lambda-style error answer, else None."""
    try:
        answer = json.loads(raw)
    except ValueError:
        return None
    if isinstance(answer, dict) and isinstance(answer.get("errorMessage"), str):
        return str(answer["errorMessage"])
    return None
