"""Cognito's answers on the wire: JSON 1.1 bodies, the error shape botocore reads, and a
request id on every response."""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.responses import Response

from authgate.cognito.errors import CognitoError

MEDIA_TYPE = "application/x-amz-json-1.1"
ACCEPTED_MEDIA = frozenset({MEDIA_TYPE, "application/x-amz-json-1.0", "application/json"})
"""What the SDKs send (JSON 1.1; a bare `application/json` from hand-written clients)."""


def new_request_id() -> str:
    return str(uuid.uuid4())


def _headers(request_id: str) -> dict[str, str]:
    return {"x-amzn-RequestId": request_id, "Cache-Control": "no-store"}


def answer(payload: dict[str, Any], request_id: str) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, 200, headers=_headers(request_id), media_type=MEDIA_TYPE)


def error_answer(error: CognitoError, request_id: str) -> Response:
    """`__type` in the body and `x-amzn-ErrorType` as a header: botocore's JSON parser
    reads the first, its REST-JSON parser the second; both name the exception."""
    body = json.dumps({"__type": error.name, "message": error.message}).encode()
    headers = {**_headers(request_id), "x-amzn-ErrorType": f"{error.name}:"}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return Response(body, error.status, headers=headers, media_type=MEDIA_TYPE)
