"""The signed-in user's remembered consents: list them, and take one back.

Taking a consent back makes that client ask again on its next authorization request.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authgate.api.requests import NO_STORE, caller_of, services_of, signed_in_user
from authgate.bootstrap import Services
from authgate.errors import NotFound


async def _client_name(services: Services, client_id: str) -> str | None:
    try:
        return (await services.clients.get(client_id)).metadata.client_name
    except NotFound:
        return None


async def list_consents(request: Request) -> Response:
    """
    summary: The clients the caller has allowed, with the scopes allowed to each.
    security: [{bearer: []}]
    responses:
      200:
        description: The consents.
        content: {application/json: {schema: {$ref: '#/components/schemas/Consents'}}}
      401: {description: invalid_token}
      403: {description: user_disabled}
    """
    services = services_of(request)
    user = await signed_in_user(request)
    items = [
        {
            "client_id": consent.client_id,
            "client_name": await _client_name(services, consent.client_id),
            "scope": consent.scope,
            "granted_at": int(consent.granted_at),
        }
        for consent in await services.consents.list(user.sub)
    ]
    return JSONResponse({"items": items}, headers=NO_STORE)


async def revoke_consent(request: Request) -> Response:
    """
    summary: Take back the consent given to one client; it asks again next time.
    security: [{bearer: []}]
    parameters:
      - {name: client_id, in: path, required: true, schema: {type: string}}
    responses:
      204: {description: Done.}
      401: {description: invalid_token}
      403: {description: user_disabled}
      404: {description: "not_found: no consent for that client"}
    """
    user = await signed_in_user(request)
    client_id = request.path_params["client_id"]
    await services_of(request).consents.revoke(user.sub, client_id, caller_of(request))
    return Response(status_code=204, headers=NO_STORE)


routes = [
    Route("/v1/me/consents", list_consents, methods=["GET"]),
    Route("/v1/me/consents/{client_id}", revoke_consent, methods=["DELETE"]),
]
