"""The admin API (admin listener only), in FastAPI for its typed bodies and OpenAPI."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from authgate.api.admin_auth import Admin, Limit, ServicesDep, admin_router
from authgate.api.public import profile
from authgate.clients.metadata import parse_metadata
from authgate.clients.registry import Client
from authgate.store.records import AuditRecord, Page, UserRecord


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewUser(_Body):
    email: str
    password: str | None = None
    username: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    send_invite: bool = False
    email_verified: bool = False


class NewGroup(_Body):
    name: str
    description: str | None = None


class NewPassword(_Body):
    password: str
    permanent: bool = True


def user_view(user: UserRecord) -> dict[str, Any]:
    return {**profile(user), "enabled": user.enabled}


def client_view(client: Client, secret: str | None = None) -> dict[str, Any]:
    view = client.public_view
    if secret is not None:
        view["client_secret"] = secret
        view["client_secret_expires_at"] = 0
    return view


def audit_view(event: AuditRecord) -> dict[str, Any]:
    return vars(event)


def page(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next": next_cursor}


users = admin_router("/admin/users", tags=["users"])


@users.post("", status_code=201)
async def create_user(body: NewUser, caller: Admin, services: ServicesDep) -> dict[str, Any]:
    user = await services.admin.create_user(
        body.email,
        body.password,
        body.username,
        body.attributes,
        body.send_invite,
        body.email_verified,
        caller,
    )
    return user_view(user)


@users.get("")
async def list_users(
    caller: Admin,
    services: ServicesDep,
    username_prefix: str | None = None,
    email_prefix: str | None = None,
    status: str | None = None,
    enabled: bool | None = None,
    group: str | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    found: Page[UserRecord] = await services.admin.list_users(
        cursor,
        limit,
        username_prefix=username_prefix,
        email_prefix=email_prefix,
        status=status,
        enabled=enabled,
        group=group,
    )
    return page([user_view(u) for u in found.items], found.next)


@users.get("/{sub}")
async def get_user(sub: str, caller: Admin, services: ServicesDep) -> dict[str, Any]:
    return user_view(await services.admin.get_user(sub))


@users.patch("/{sub}")
async def update_user(
    sub: str, changes: dict[str, Any], caller: Admin, services: ServicesDep
) -> dict[str, Any]:
    return user_view(await services.admin.update_attributes(sub, changes, caller))


@users.post("/{sub}/disable")
async def disable_user(sub: str, caller: Admin, services: ServicesDep) -> dict[str, Any]:
    return user_view(await services.admin.set_enabled(sub, False, caller))


@users.post("/{sub}/enable")
async def enable_user(sub: str, caller: Admin, services: ServicesDep) -> dict[str, Any]:
    return user_view(await services.admin.set_enabled(sub, True, caller))


@users.post("/{sub}/confirm")
async def confirm_user(sub: str, caller: Admin, services: ServicesDep) -> dict[str, Any]:
    return user_view(await services.admin.confirm(sub, caller))


@users.put("/{sub}/password")
async def set_password(
    sub: str, body: NewPassword, caller: Admin, services: ServicesDep
) -> dict[str, Any]:
    return user_view(await services.admin.set_password(sub, body.password, body.permanent, caller))


@users.post("/{sub}/reset-password", status_code=202)
async def reset_password(sub: str, caller: Admin, services: ServicesDep) -> dict[str, Any]:
    await services.admin.reset_password(sub, caller)
    return {"sent": True}


@users.post("/{sub}/unlock")
async def unlock_user(sub: str, caller: Admin, services: ServicesDep) -> dict[str, Any]:
    """Lift the user's login lockout and every code purpose locked by too many wrong codes."""
    return user_view(await services.admin.unlock(sub, caller))


@users.post("/{sub}/sign-out")
async def sign_out(sub: str, caller: Admin, services: ServicesDep) -> dict[str, Any]:
    await services.admin.sign_out(sub, caller)
    return {"revoked": True}


@users.delete("/{sub}/mfa")
async def reset_mfa(sub: str, caller: Admin, services: ServicesDep) -> dict[str, Any]:
    """Remove the user's TOTP authenticator and recovery codes (a lost device); audited as
    admin_mfa_reset. `removed` is false when there was none. With `user_pool.mfa: required`
    the user enrols a new one at the next sign-in."""
    return {"removed": await services.mfa.reset(sub, caller)}


@users.delete("/{sub}", status_code=204)
async def delete_user(sub: str, caller: Admin, services: ServicesDep) -> Response:
    await services.admin.delete_user(sub, caller)
    return Response(status_code=204)


groups = admin_router("/admin/groups", tags=["groups"])


@groups.post("", status_code=201)
async def create_group(body: NewGroup, caller: Admin, services: ServicesDep) -> dict[str, Any]:
    group = await services.admin.create_group(body.name, body.description, caller)
    return vars(group)


@groups.get("")
async def list_groups(
    caller: Admin, services: ServicesDep, cursor: str | None = None, limit: Limit = 50
) -> dict[str, Any]:
    found = await services.admin.list_groups(cursor, limit)
    return page([vars(g) for g in found.items], found.next)


@groups.delete("/{name}", status_code=204)
async def delete_group(name: str, caller: Admin, services: ServicesDep) -> Response:
    await services.admin.delete_group(name, caller)
    return Response(status_code=204)


@groups.put("/{name}/members/{sub}", status_code=204)
async def add_member(name: str, sub: str, caller: Admin, services: ServicesDep) -> Response:
    await services.admin.add_member(name, sub, caller)
    return Response(status_code=204)


@groups.delete("/{name}/members/{sub}", status_code=204)
async def remove_member(name: str, sub: str, caller: Admin, services: ServicesDep) -> Response:
    await services.admin.remove_member(name, sub, caller)
    return Response(status_code=204)


clients = admin_router("/admin/clients", tags=["clients"])


@clients.post("", status_code=201)
async def create_client(
    body: dict[str, Any], caller: Admin, services: ServicesDep
) -> dict[str, Any]:
    client, secret = await services.clients.create(parse_metadata(body), caller)
    return client_view(client, secret)


@clients.get("")
async def list_clients(
    caller: Admin, services: ServicesDep, cursor: str | None = None, limit: Limit = 50
) -> dict[str, Any]:
    found = await services.clients.list(cursor, limit)
    return page([client_view(c) for c in found.items], found.next)


@clients.get("/{client_id}")
async def get_client(client_id: str, caller: Admin, services: ServicesDep) -> dict[str, Any]:
    return client_view(await services.clients.get(client_id))


@clients.patch("/{client_id}")
async def update_client(
    client_id: str, changes: dict[str, Any], caller: Admin, services: ServicesDep
) -> dict[str, Any]:
    return client_view(await services.clients.update(client_id, changes, caller))


@clients.post("/{client_id}/secret")
async def rotate_client_secret(
    client_id: str, caller: Admin, services: ServicesDep
) -> dict[str, Any]:
    secret = await services.clients.rotate_secret(client_id, caller)
    return client_view(await services.clients.get(client_id), secret)


@clients.delete("/{client_id}", status_code=204)
async def delete_client(client_id: str, caller: Admin, services: ServicesDep) -> Response:
    await services.clients.delete(client_id, caller)
    return Response(status_code=204)


keys = admin_router("/admin/keys", tags=["keys"])


def _key_view(key: Any) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "created_at": int(key.created_at),
        "retired_at": int(key.retired_at) if key.retired_at else None,
        "verify_until": int(key.verify_until) if key.verify_until else None,
        "active": key.retired_at is None,
    }


@keys.get("")
async def list_keys(caller: Admin, services: ServicesDep) -> dict[str, Any]:
    await services.keys.load()
    return page([_key_view(k) for k in services.keys.list()], None)


@keys.post("/rotate", status_code=201)
async def rotate_keys(caller: Admin, services: ServicesDep) -> dict[str, Any]:
    return _key_view(await services.keys.rotate(caller))


audit = admin_router("/admin/audit", tags=["audit"])


@audit.get("")
async def list_audit(
    caller: Admin,
    services: ServicesDep,
    sub: str | None = None,
    event: str | None = None,
    since: float | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    found = await services.admin.audit_log(cursor, limit, sub=sub, event=event, since=since)
    return page([audit_view(e) for e in found.items], found.next)
