"""From the service's async byte iterator to the blocking file object the parsers read.

The vetting parses in a worker thread so the service's event loop stays responsive. A pump
task on the loop moves chunks into a small bounded queue; the thread takes them out with
`run_coroutine_threadsafe`. At most `QUEUE_CHUNKS` chunks wait, so memory stays flat however
large the upload; closing the stream early (a limit hit, the wanted files found) cancels the
pump and closes the iterator, so the rest of the upload is never read.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from examples.intake.vetting.limits import SourceFailed

QUEUE_CHUNKS = 4
STOP_POLL_SECONDS = 0.5
_T = TypeVar("_T")
BlobOpener = Callable[[], AsyncIterator[bytes]]


class _End:
    """Put on the queue after the last chunk; carries the source's error, if any."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class BlobStream:
    """A read-only, forward-only file object over one pass of the upload (thread side)."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, opener: BlobOpener, stop: threading.Event
    ) -> None:
        self._loop = loop
        self._stop = stop
        self._queue: asyncio.Queue[bytes | _End] | None = None
        self._task: asyncio.Task[None] | None = None
        self._buffer = b""
        self._offset = 0
        self._ended = False
        self._wait(asyncio.run_coroutine_threadsafe(self._start(opener), loop))

    async def _start(self, opener: BlobOpener) -> None:
        self._queue = asyncio.Queue(QUEUE_CHUNKS)
        self._task = asyncio.get_running_loop().create_task(self._pump(opener, self._queue))

    @staticmethod
    async def _pump(opener: BlobOpener, queue: asyncio.Queue[bytes | _End]) -> None:
        chunks = opener()
        try:
            async for chunk in chunks:
                if chunk:
                    await queue.put(bytes(chunk))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await queue.put(_End(exc))
        else:
            await queue.put(_End())
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

    def _next_chunk(self) -> bytes:
        if self._ended:
            return b""
        assert self._queue is not None
        item = self._wait(asyncio.run_coroutine_threadsafe(self._queue.get(), self._loop))
        if isinstance(item, _End):
            self._ended = True
            if item.error is not None:
                raise SourceFailed(f"reading the upload failed: {item.error!r}") from item.error
            return b""
        return item

    def _wait(self, future: concurrent.futures.Future[_T]) -> _T:
        """The loop's answer; given up on when the vetting was cancelled meanwhile."""
        while True:
            if self._stop.is_set():
                future.cancel()
                raise SourceFailed("vetting cancelled")
            try:
                return future.result(timeout=STOP_POLL_SECONDS)
            except concurrent.futures.TimeoutError:
                continue

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (fewer at a chunk's end; b"" at the upload's end)."""
        if size is None or size < 0:
            raise ValueError("read() needs a size: the upload is never read whole")
        while self._offset >= len(self._buffer):
            if self._ended:
                return b""
            self._buffer, self._offset = self._next_chunk(), 0
        data = self._buffer[self._offset : self._offset + size]
        self._offset += len(data)
        return data

    def close(self) -> None:
        if self._task is not None:
            asyncio.run_coroutine_threadsafe(_cancel(self._task), self._loop).result()
            self._task = None

    def __enter__(self) -> BlobStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def stream_opener(
    loop: asyncio.AbstractEventLoop, opener: BlobOpener, stop: threading.Event
) -> Callable[[], contextlib.AbstractContextManager[BlobStream]]:
    """What the worker thread calls for each pass: a fresh stream over the upload."""

    @contextlib.contextmanager
    def open_stream() -> Iterator[BlobStream]:
        stream = BlobStream(loop, opener, stop)
        try:
            yield stream
        finally:
            stream.close()

    return open_stream
