"""`POST /cognito` and `POST /cognito/`: read, dispatch, answer in Cognito's shapes.

botocore appends `/` to an endpoint_url of `http://HOST/cognito`, hand-written clients may
not: both are served. Every failure, also an unexpected one, answers in Cognito's error
shape, so an SDK always raises a typed exception and never fails parsing our answer.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authgate.api.errors import BodyTooLarge
from authgate.api.json_body import parse_json_object
from authgate.api.requests import caller_of, read_bounded
from authgate.bootstrap import Services
from authgate.cognito import sigv4
from authgate.cognito.call import Call
from authgate.cognito.errors import CognitoError, from_domain
from authgate.cognito.operations import Operation, operation_of
from authgate.cognito.params import Params
from authgate.cognito.wire import ACCEPTED_MEDIA, answer, error_answer, new_request_id
from authgate.errors import DomainError, InvalidRequest

log = logging.getLogger("authgate.cognito")


async def _call_of(request: Request, request_id: str) -> tuple[Call, Operation]:
    """The call, and the operation it names."""
    services: Services = request.app.state.services
    found = operation_of(request.headers.get("x-amz-target"))
    if found is None:
        raise CognitoError("UnknownOperationException", "The operation is not known.")
    name, operation = found
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ACCEPTED_MEDIA:
        raise CognitoError("SerializationException", "The body must be application/x-amz-json-1.1.")
    try:
        raw = await read_bounded(request)
    except BodyTooLarge as exc:
        raise CognitoError("SerializationException", exc.message) from None
    try:
        body = parse_json_object(raw)
    except InvalidRequest as exc:
        raise CognitoError("SerializationException", exc.message) from None
    call = Call(
        operation=name,
        params=Params(body),
        services=services,
        caller=caller_of(request),
        request_id=request_id,
        method=request.method,
        path=request.scope.get("raw_path", request.url.path.encode()).decode("latin-1"),
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=request.headers,
        body=raw,
    )
    return call, operation


async def cognito(request: Request) -> Response:
    request_id = new_request_id()
    services: Services = request.app.state.services
    if not services.settings.cognito.enabled:
        error = CognitoError("UnknownOperationException", "Cognito is turned off here.", 404)
        return error_answer(error, request_id)
    operation = ""
    try:
        call, found = await _call_of(request, request_id)
        operation = call.operation
        if found.signed:
            await sigv4.verify(call)
        return answer(await found.handler(call), request_id)
    except CognitoError as exc:
        return error_answer(exc, request_id)
    except DomainError as exc:
        reveal = not services.settings.cognito.prevent_user_existence_errors
        return error_answer(from_domain(exc, operation, reveal=reveal), request_id)
    except Exception:
        log.exception("cognito %s failed (request %s)", operation or "?", request_id)
        error = CognitoError("InternalErrorException", "Internal server error.", 500)
        return error_answer(error, request_id)


routes = [
    Route("/cognito", cognito, methods=["POST"], include_in_schema=False),
    Route("/cognito/", cognito, methods=["POST"], include_in_schema=False),
]
