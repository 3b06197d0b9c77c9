"""The signed-in user's browser sessions: list them, and end one.

A session is named by its public id, an opaque value of its own: never the cookie value
(which would sign its reader in) nor the stored hash. A bearer token is not a browser
session, so no session is marked `current` here; the account page marks its own.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authgate.api.requests import NO_STORE, caller_of, services_of, signed_in_user
from authgate.identity.sessions import SessionView


def session_json(session: SessionView) -> dict[str, object]:
    return {
        "id": session.public_id,
        "created_at": int(session.created_at),
        "last_used_at": int(session.last_used_at),
        "ip": session.ip,
        "user_agent": session.user_agent,
        "current": session.current,
    }


async def list_sessions(request: Request) -> Response:
    """
    summary: The caller's live browser sessions (hosted-page sign-ins), most recently used first.
    description: >-
      Each with the device (User-Agent) and address it was last used from and when; the
      time of last use is noted at most once a minute.
    security: [{bearer: []}]
    responses:
      200:
        description: The sessions.
        content: {application/json: {schema: {$ref: '#/components/schemas/Sessions'}}}
      401: {description: invalid_token}
      403: {description: user_disabled}
    """
    user = await signed_in_user(request)
    sessions = await services_of(request).sessions.of_user(user)
    return JSONResponse({"items": [session_json(s) for s in sessions]}, headers=NO_STORE)


async def end_session(request: Request) -> Response:
    """
    summary: End one of the caller's browser sessions; that browser must sign in again.
    security: [{bearer: []}]
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}}
    responses:
      204: {description: Done.}
      401: {description: invalid_token}
      403: {description: user_disabled}
      404: {description: "not_found: no live session of the caller with that id"}
    """
    user = await signed_in_user(request)
    public_id = request.path_params["id"]
    await services_of(request).sessions.end_one(user, public_id, caller_of(request))
    return Response(status_code=204, headers=NO_STORE)


routes = [
    Route("/v1/me/sessions", list_sessions, methods=["GET"]),
    Route("/v1/me/sessions/{id}", end_session, methods=["DELETE"]),
]
