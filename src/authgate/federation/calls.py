"""Bounded calls to a provider: no redirects, no proxy from the environment, a total
timeout, and a size cap on every answer, read before it is parsed."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from authgate.federation.errors import ProviderUnavailable

MAX_BYTES = 64 * 1024


async def _read(response: aiohttp.ClientResponse, what: str) -> bytes:
    body = b""
    async for chunk in response.content.iter_chunked(8192):
        body += chunk
        if len(body) > MAX_BYTES:
            raise ProviderUnavailable(f"{what}: the answer is over {MAX_BYTES} bytes")
    return body


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        raise ProviderUnavailable(f"{what}: the answer is not JSON") from None
    if not isinstance(value, dict):
        raise ProviderUnavailable(f"{what}: the answer is not a JSON object")
    return value


async def get_json(url: str, seconds: float, what: str) -> dict[str, Any]:
    """GET `url`; its JSON object, or ProviderUnavailable saying what went wrong."""
    try:
        async with (
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=seconds), trust_env=False
            ) as session,
            session.get(
                url, allow_redirects=False, headers={"Accept": "application/json"}
            ) as response,
        ):
            if response.status != 200:
                raise ProviderUnavailable(f"{what}: HTTP {response.status}")
            return _json_object(await _read(response, what), what)
    except (OSError, aiohttp.ClientError, TimeoutError):
        raise ProviderUnavailable(f"{what}: cannot be reached") from None


async def post_form(
    url: str, form: dict[str, str], headers: dict[str, str], seconds: float, what: str
) -> tuple[int, dict[str, Any]]:
    """POST a form to `url`: (status, JSON object answered)."""
    try:
        async with (
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=seconds), trust_env=False
            ) as session,
            session.post(
                url,
                data=form,
                allow_redirects=False,
                headers={"Accept": "application/json", **headers},
            ) as response,
        ):
            return response.status, _json_object(await _read(response, what), what)
    except (OSError, aiohttp.ClientError, TimeoutError):
        raise ProviderUnavailable(f"{what}: cannot be reached") from None
