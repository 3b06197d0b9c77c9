"""The whoami ASGI app: answers with the identity the gate vouched for, or 401.

The plain X-Authgate-Sub/-Username/... headers are never read: anyone who can reach this
port could write them. Only the signed X-Authgate-Identity counts.
"""

from __future__ import annotations

from dataclasses import asdict

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from examples.identity import IdentityVerifier, InvalidIdentity, KeysUnavailable

IDENTITY_HEADER = "x-authgate-identity"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _refuse(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


def _received_path(request: Request) -> str:
    """The path exactly as it arrived (after the gate stripped its prefix), query included."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else request.url.path
    query = request.url.query
    return f"{path}?{query}" if query else path


def create_app(verifier: IdentityVerifier) -> Starlette:
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def whoami(request: Request) -> JSONResponse:
        tokens = request.headers.getlist(IDENTITY_HEADER)
        if not tokens:
            return _refuse(401, "missing_identity", "No X-Authgate-Identity: call me via the gate.")
        if len(tokens) > 1:
            return _refuse(401, "invalid_identity", "More than one X-Authgate-Identity.")
        try:
            identity = await run_in_threadpool(verifier.verify, tokens[0])
        except InvalidIdentity as exc:
            return _refuse(401, "invalid_identity", str(exc))
        except KeysUnavailable as exc:
            return _refuse(503, "keys_unavailable", str(exc))
        return JSONResponse(
            {
                "verified": True,
                "audience": verifier.audience,
                **asdict(identity),
                "method": request.method,
                "path": _received_path(request),
            }
        )

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET", "HEAD"]),
            Route("/{rest:path}", whoami, methods=METHODS),
        ]
    )
