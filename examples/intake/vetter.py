"""Vetting in the background: each received image goes received -> vetting -> its verdict.

Uploads answer as soon as the bytes are stored; a bounded number of vettings run at once.
Images left `received` or `vetting` by a stopped process are vetted again at start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from examples.intake.metadata import Metadata
from examples.intake.storage import Storage
from examples.intake.vetting import VetLimits, vet

log = logging.getLogger("intake.vetting")


class Vetter:
    def __init__(
        self, metadata: Metadata, storage: Storage, limits: VetLimits, concurrency: int
    ) -> None:
        self._metadata = metadata
        self._storage = storage
        self._limits = limits
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, image_id: str) -> None:
        task = asyncio.create_task(self._vet(image_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def resume(self) -> None:
        for image in await self._metadata.pending():
            self.submit(image.id)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _vet(self, image_id: str) -> None:
        async with self._slots:
            image = await self._metadata.get(image_id)
            if image is None:
                return
            await self._metadata.set_status(image_id, "vetting")

            def open_blob() -> AsyncIterator[bytes]:
                return self._storage.open(image.sha256)

            try:
                result = await vet(
                    open_blob, accept_findings=image.accept_findings, limits=self._limits
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("vetting image %s failed", image_id)
                await self._metadata.set_status(
                    image_id, "failed", reason="The vetting stopped on an internal error."
                )
                return
            await self._metadata.set_status(image_id, result.status, result.report, result.reason)
