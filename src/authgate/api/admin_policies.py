"""Admin API for policy documents: Ladon-shaped JSON in and out, unchanged.

Errors come from the domain (`invalid_policy` with its `problems`, `policy_not_found`,
`policy_exists`) and are mapped to statuses in `api/errors.py`, like every other.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse, Response

from authgate.api.admin_auth import Admin, Limit, ServicesDep, admin_router
from authgate.policy.documents import PolicyDocument, document_json
from authgate.store.users import decode_cursor, encode_cursor

policies = admin_router(tags=["policies"])


def _page(documents: list[PolicyDocument], cursor: str | None, limit: int) -> dict[str, Any]:
    """`limit` documents after the cursor's id (documents come sorted by id)."""
    after = decode_cursor(cursor)
    if after is not None:
        documents = [d for d in documents if d.id > after]
    shown = documents[:limit]
    more = len(documents) > limit
    return {
        "items": [document_json(d) for d in shown],
        "next": encode_cursor(shown[-1].id) if more else None,
    }


@policies.get("/admin/policies")
async def list_policies(
    caller: Admin,
    services: ServicesDep,
    subject: str | None = None,
    cursor: str | None = None,
    limit: Limit = 500,
) -> dict[str, Any]:
    """Every policy by id; with `subject`, those whose subject patterns match it."""
    return _page(await services.policies.list(subject), cursor, limit)


@policies.post("/admin/policies", status_code=201)
async def create_policy(
    body: dict[str, Any], caller: Admin, services: ServicesDep
) -> dict[str, Any]:
    return document_json(await services.policies.create(body, caller))


@policies.get("/admin/policies/{policy_id:path}")
async def get_policy(policy_id: str, caller: Admin, services: ServicesDep) -> dict[str, Any]:
    return document_json(await services.policies.get(policy_id))


@policies.put("/admin/policies/{policy_id:path}")
async def put_policy(
    policy_id: str, body: dict[str, Any], caller: Admin, services: ServicesDep
) -> JSONResponse:
    """Create or replace: 201 when created, 200 when replaced."""
    document, created = await services.policies.replace(policy_id, body, caller)
    return JSONResponse(document_json(document), status_code=201 if created else 200)


@policies.delete("/admin/policies/{policy_id:path}", status_code=204)
async def delete_policy(policy_id: str, caller: Admin, services: ServicesDep) -> Response:
    await services.policies.delete(policy_id, caller)
    return Response(status_code=204)


@policies.get("/admin/users/{sub}/policies")
async def effective_policies(
    sub: str, caller: Admin, services: ServicesDep, cursor: str | None = None, limit: Limit = 500
) -> dict[str, Any]:
    """The policies that apply to a user: by its sub or a `group:<name>` of its groups."""
    return _page(await services.policies.effective_for_user(sub), cursor, limit)
