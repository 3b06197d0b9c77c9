"""The gateway's one table from failures to HTTP answers, for the proxy and forward-auth.

Each answer is JSON `{error, reason_id?, message}` with `Cache-Control: no-store`: a
stable code for machines, the denial's reason for logs and support, and never a trace.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from authgate.gateway.authenticate import AuthenticationFailed
from authgate.gateway.authorize import Denied
from authgate.gateway.paths import AmbiguousPath
from authgate.gateway.request import BadGateRequest
from authgate.gateway.routes import MethodNotAllowed, NoRoute

STATUS: dict[type[Exception], tuple[int, str]] = {
    BadGateRequest: (400, "bad_request"),
    AmbiguousPath: (400, "ambiguous_path"),
    AuthenticationFailed: (401, "unauthorized"),
    Denied: (403, "forbidden"),
    NoRoute: (404, "not_found"),
    MethodNotAllowed: (405, "method_not_allowed"),
}
GATE_FAILURES: tuple[type[Exception], ...] = tuple(STATUS)
"""What the pipeline raises on purpose; anything else is a server error (500)."""


def _details(exc: Exception) -> tuple[str | None, str]:
    """(reason_id, message) of a failure, each type saying it its own way."""
    if isinstance(exc, BadGateRequest | Denied):
        return exc.reason_id, exc.description
    if isinstance(exc, AuthenticationFailed):
        return exc.error, exc.description
    if isinstance(exc, AmbiguousPath):
        return None, f"The path is ambiguous: {exc.reason}."
    if isinstance(exc, MethodNotAllowed):
        return None, "No route serves this path with this method."
    return None, "No route serves this request."


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
    return response
