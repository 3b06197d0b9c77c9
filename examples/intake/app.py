"""The intake API: upload, list, read and delete images, each user seeing only their own.

Every request must carry the X-Authgate-Identity the gate signs for this service; the caller
is its `sub`. Errors are `{error, message}` like authgate's. Another user's image is 404,
never 403, so ids reveal nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from examples.identity import Identity, IdentityVerifier, InvalidIdentity, KeysUnavailable
from examples.intake.config import ConfigError, IntakeSettings
from examples.intake.metadata import Image, Metadata
from examples.intake.quota import QuotaExceeded, Quotas
from examples.intake.receive import Truncated, receive
from examples.intake.storage import Storage, open_storage
from examples.intake.vetter import Vetter
from examples.intake.vetting import VetLimits

IDENTITY_HEADER = "x-authgate-identity"
MEDIA_TYPES = frozenset({"application/x-tar", "application/gzip", "application/x-gzip"})
ADMIN_GROUP = "admin"


class Refusal(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def _answer(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in {"1", "true", "yes"}


class Intake:
    """The service's parts, made at start and closed at stop."""

    def __init__(self, settings: IntakeSettings, verifier: IdentityVerifier) -> None:
        self.settings = settings
        self.verifier = verifier
        self.metadata = Metadata(settings.database)
        self.storage: Storage = open_storage(settings.storage)
        self.quotas = Quotas(settings.quota)
        try:
            limits = VetLimits(**settings.vetting_limits)
        except TypeError:
            raise ConfigError("vetting.limits: an unknown limit name") from None
        self.vetter = Vetter(self.metadata, self.storage, limits, settings.vetting_concurrency)
        self._content_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def content_lock(self, sha256: str) -> asyncio.Lock:
        """Held while an object is committed or deleted, so neither undoes the other."""
        lock = self._content_locks.get(sha256)
        if lock is None:
            lock = asyncio.Lock()
            self._content_locks[sha256] = lock
        return lock

    async def caller(self, request: Request) -> Identity:
        tokens = request.headers.getlist(IDENTITY_HEADER)
        if not tokens:
            raise Refusal(401, "missing_identity", "No X-Authgate-Identity: call me via the gate.")
        if len(tokens) > 1:
            raise Refusal(401, "invalid_identity", "More than one X-Authgate-Identity.")
        try:
            return await run_in_threadpool(self.verifier.verify, tokens[0])
        except InvalidIdentity as exc:
            raise Refusal(401, "invalid_identity", str(exc)) from None
        except KeysUnavailable as exc:
            raise Refusal(503, "keys_unavailable", str(exc)) from None

    async def own_image(self, request: Request, who: Identity) -> Image:
        image = await self.metadata.get(request.path_params["image_id"])
        if image is None or image.owner != who.sub:
            raise Refusal(404, "not_found", "No such image.")
        return image

    async def upload(self, request: Request) -> Response:
        who = await self.caller(request)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in MEDIA_TYPES:
            raise Refusal(
                415,
                "unsupported_media_type",
                "Send the image as application/x-tar (or application/gzip when compressed).",
            )
        announced = _content_length(request)
        images, stored = await self.metadata.usage(who.sub)
        reservation = self.quotas.reserve(who.sub, images, stored, announced)
        try:
            received = await receive(request.stream(), self.storage, reservation, announced)
            async with self.content_lock(received.sha256):
                existing = await self.metadata.find(who.sub, received.sha256)
                if existing is not None:
                    await received.upload.abort()
                    return JSONResponse(_created(existing), status_code=200)
                await received.upload.commit(received.sha256)
                image, created = await self.metadata.add(
                    f"img_{secrets.token_hex(12)}",
                    who.sub,
                    received.sha256,
                    received.size,
                    _flag(request, "accept_findings"),
                )
        finally:
            reservation.release()
        if created:
            self.vetter.submit(image.id)
        return JSONResponse(_created(image), status_code=201 if created else 200)

    async def list_images(self, request: Request) -> Response:
        who = await self.caller(request)
        everyone = _flag(request, "all")
        if everyone and ADMIN_GROUP not in who.groups:
            raise Refusal(403, "forbidden", "Only members of the group admin may list all images.")
        images = await self.metadata.list_of(None if everyone else who.sub)
        shown = [
            {**image.summary(), **({"owner": image.owner} if everyone else {})} for image in images
        ]
        count, stored = await self.metadata.usage(who.sub)
        held_images, held_bytes = self.quotas.held(who.sub)
        quota = self.settings.quota
        return JSONResponse(
            {
                "images": shown,
                "usage": {"images": count + held_images, "bytes": stored + held_bytes},
                "quota": {"images": quota.images, "bytes": quota.bytes},
            }
        )

    async def read_image(self, request: Request) -> Response:
        image = await self.own_image(request, await self.caller(request))
        return JSONResponse(
            {
                **image.summary(),
                "updated_at": image.updated_at,
                "accept_findings": image.accept_findings,
                "reason": image.reason,
                "report": image.report,
            }
        )

    async def delete_image(self, request: Request) -> Response:
        image = await self.own_image(request, await self.caller(request))
        async with self.content_lock(image.sha256):
            if await self.metadata.remove(image.id) == 0:
                await self.storage.delete(image.sha256)
        return Response(status_code=204)


def _created(image: Image) -> dict[str, Any]:
    return {"id": image.id, "sha256": image.sha256, "size": image.size, "status": image.status}


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.isdigit():
        raise Refusal(400, "invalid_request", "Content-Length is not a number.")
    return int(value)


Handler = Callable[[Request], Awaitable[Response]]


def _guarded(handler: Handler) -> Handler:
    """Typed refusals become their JSON answer; a client gone mid-body gets nothing."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Refusal as refusal:
            return _answer(refusal.status, refusal.error, refusal.message)
        except QuotaExceeded as exc:
            return _answer(exc.status, "quota_exceeded", str(exc))
        except Truncated as exc:
            return _answer(400, "truncated_body", str(exc))
        except ClientDisconnect:
            return Response(status_code=400)

    return endpoint


def create_app(settings: IntakeSettings, verifier: IdentityVerifier) -> Starlette:
    intake = Intake(settings, verifier)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await intake.vetter.resume()
        try:
            yield
        finally:
            await intake.vetter.close()
            intake.metadata.close()

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET", "HEAD"]),
            Route("/images", _guarded(intake.upload), methods=["POST"]),
            Route("/images", _guarded(intake.list_images), methods=["GET"]),
            Route("/images/{image_id}", _guarded(intake.read_image), methods=["GET"]),
            Route("/images/{image_id}", _guarded(intake.delete_image), methods=["DELETE"]),
        ],
        lifespan=lifespan,
    )
    app.state.intake = intake
    return app
