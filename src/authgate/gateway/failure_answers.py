"""The gateway's one table from failures to HTTP answers, for the proxy and forward-auth.

Each answer is JSON `{error, reason_id?, message}` with `Cache-Control: no-store`: a
stable code for machines, the denial's reason for logs and support, and never a trace.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import Message, Send

from authgate.errors import StorageUnavailable
from authgate.gateway.authenticate import AuthenticationFailed
from authgate.gateway.authorize import Denied
from authgate.gateway.cors import CorsOriginDenied, CorsPreflightDenied
from authgate.gateway.forward_errors import (
    BadGateway,
    BodyStalled,
    BodyTooLarge,
    NoHealthyUpstream,
    UpstreamTimeout,
)
from authgate.gateway.paths import AmbiguousPath
from authgate.gateway.ratelimit import RateLimited
from authgate.gateway.request import BadGateRequest
from authgate.gateway.routes import MethodNotAllowed, NoRoute

STATUS: dict[type[Exception], tuple[int, str]] = {
    BadGateRequest: (400, "bad_request"),
    AmbiguousPath: (400, "ambiguous_path"),
    AuthenticationFailed: (401, "unauthorized"),
    Denied: (403, "forbidden"),
    NoRoute: (404, "not_found"),
    MethodNotAllowed: (405, "method_not_allowed"),
    CorsOriginDenied: (403, "cors_origin_denied"),
    CorsPreflightDenied: (403, "cors_preflight_denied"),
    RateLimited: (429, "rate_limited"),
    BodyTooLarge: (413, "body_too_large"),
    BodyStalled: (408, "body_timeout"),
    BadGateway: (502, "bad_gateway"),
    NoHealthyUpstream: (503, "no_healthy_upstream"),
    UpstreamTimeout: (504, "upstream_timeout"),
    StorageUnavailable: (503, "storage_unavailable"),
}
_FORWARDING_MESSAGES: dict[type[Exception], str] = {
    BodyTooLarge: "The request body is larger than this route accepts.",
    BodyStalled: "The request body stopped arriving.",
    BadGateway: "The upstream could not be reached or gave an unusable answer.",
    NoHealthyUpstream: "No healthy upstream target is available.",
    UpstreamTimeout: "The upstream did not answer in time.",
}
GATE_FAILURES: tuple[type[Exception], ...] = tuple(STATUS)
"""What the pipeline raises on purpose; anything else is a server error (500)."""


def _details(exc: Exception) -> tuple[str | None, str]:
    """(reason_id, message) of a failure, each type saying it its own way."""
    if isinstance(exc, BadGateRequest | Denied | CorsOriginDenied | CorsPreflightDenied):
        return exc.reason_id, exc.description
    if isinstance(exc, RateLimited):
        return None, f"Too many requests; retry in {exc.retry_after} s."
    if isinstance(exc, AuthenticationFailed):
        return exc.error, exc.description
    if type(exc) in _FORWARDING_MESSAGES:
        return None, _FORWARDING_MESSAGES[type(exc)]
    if isinstance(exc, StorageUnavailable):
        return None, exc.message
    if isinstance(exc, AmbiguousPath):
        return None, f"The path is ambiguous: {exc.reason}."
    if isinstance(exc, MethodNotAllowed):
        return None, "No route serves this path with this method."
    return None, "No route serves this request."


def failure_reason(exc: Exception) -> str:
    """What the access log names as the reason: the failure's reason_id, else its code."""
    reason_id, _ = _details(exc)
    return reason_id or next(STATUS[c] for c in type(exc).__mro__ if c in STATUS)[1]


def failure_response(exc: Exception) -> JSONResponse:
    """The answer for one of GATE_FAILURES."""
    status, code = next(STATUS[c] for c in type(exc).__mro__ if c in STATUS)
    reason_id, message = _details(exc)
    body: dict[str, str] = {"error": code, "message": message}
    if reason_id is not None:
        body["reason_id"] = reason_id
    response = JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
    if isinstance(exc, AuthenticationFailed):
        for challenge in exc.www_authenticate:
            response.headers.append("WWW-Authenticate", challenge)
    if isinstance(exc, MethodNotAllowed):
        response.headers["Allow"] = ", ".join(exc.allowed)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, StorageUnavailable):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


_SERVER_ERROR = b'{"error":"server_error","message":"The gate failed to handle the request."}'


async def server_error(send: Send) -> None:
    """The answer for anything else: 500, without a word of what went wrong."""
    message: Message = {
        "type": "http.response.start",
        "status": 500,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_SERVER_ERROR)).encode()),
            (b"cache-control", b"no-store"),
        ],
    }
    await send(message)
    await send({"type": "http.response.body", "body": _SERVER_ERROR})
