"""Several serving processes on one machine (`server.workers`): one parent, N workers.

The parent does everything that must happen once before any worker exists: it binds every
listener (public, admin, the gate's; TLS files read), runs the migrations, generates the
key-encryption key, the admin token, the first signing key and the default client (by
building the services once and closing them again). Only then does it fork the workers,
which inherit the bound sockets and serve them, each with its own event loop, database
pool and caches: replicas on one machine, sharing what replicas share (the database, and
Redis when configured).

Why a parent that forks after binding rather than SO_REUSEPORT: with one socket per
listener there is one accept queue, so a worker that dies loses no queued connection (the
others accept it), and a replacement needs no new bind; the port is taken once, so a
second authgate started by mistake on the same port still fails with "address in use"
instead of silently sharing it (SO_REUSEPORT lets any process of the same user join);
and the kernel hands a new connection to whichever worker is waiting in accept, that is
an idle one. Forking (not spawning) happens while the parent runs no event loop and no
thread, after `gc.freeze()`, so the workers share the parent's memory pages until they
write to them. This is what uvicorn's own `--workers` does, without its re-import.

The parent then only supervises, waiting for signals with `sigtimedwait` (they are
blocked in it, so none is lost between two waits):
- SIGTERM or SIGINT: every worker gets SIGTERM, finishes its requests in flight and
  exits; the parent exits 0 once all have. A second one kills the workers outright.
- SIGHUP: forwarded to every worker (each reloads the gate); a SIGHUP *from* a worker
  (its `POST /admin/gateway/reload` without Redis) goes to every other worker.
- A worker that exits when not asked to is logged and replaced; one that keeps dying
  within `YOUNG` seconds of its start is replaced after a pause doubling up to `MAX_PAUSE`.
A replacement first reloads the gate from the configuration file, as SIGHUP would, so it
serves the routes its siblings serve. A worker whose parent is gone stops by itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import uvloop

from authgate.bootstrap import build_services
from authgate.config import Settings
from authgate.listeners import Listener, close_all
from authgate.server import SUPERVISED, Parent, freeze_startup, serve

log = logging.getLogger("authgate")

YOUNG = 10.0
"""A worker that dies sooner than this after its start is replaced after a pause."""

MAX_PAUSE = 30.0
WAIT = 1.0
"""Longest wait for a signal: children are also reaped this often, whatever happens."""


def supported() -> bool:
    """Whether this platform can run workers (Linux: macOS has no `sigtimedwait`)."""
    return hasattr(os, "fork") and hasattr(signal, "sigtimedwait")


def _describe(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


@dataclass
class _Slot:
    """One worker place: its process now, and how soon a replacement may start."""

    index: int
    pid: int = 0
    started: float = 0.0
    pause: float = 0.0
    due: float | None = None
    """When a replacement starts (None: the slot has a running worker or is done)."""


class Supervisor:
    """Starts `count` workers serving `listeners` with `start`, keeps them running, stops
    them on request.

    `start(parent, replacement)` runs in the forked child and never returns.
    """

    def __init__(
        self, count: int, listeners: list[Listener], start: Callable[[Parent, bool], NoReturn]
    ) -> None:
        self._start = start
        self._listeners = listeners
        self._slots = [_Slot(index) for index in range(count)]
        self._stopping = False
        self._alive, self._held = os.pipe()
        """The workers' ends (read) and ours (write) of the pipe that tells them we live."""

    @property
    def pids(self) -> list[int]:
        return [slot.pid for slot in self._slots if slot.pid]

    def run(self) -> int:
        """Supervise until every worker stopped after SIGTERM/SIGINT; the exit code (0)."""
        signal.pthread_sigmask(signal.SIG_BLOCK, SUPERVISED)
        for slot in self._slots:
            self._fork(slot, replacement=False)
        while not (self._stopping and not self.pids):
            info = signal.sigtimedwait(SUPERVISED, self._wait())
            if info is not None:
                self._on_signal(info.si_signo, info.si_pid)
            self._reap()
            self._replace_due()
        log.info("all workers stopped")
        return 0

    def _wait(self) -> float:
        dues = [slot.due for slot in self._slots if slot.due is not None]
        if not dues:
            return WAIT
        return max(0.0, min(WAIT, min(dues) - time.monotonic()))

    def _fork(self, slot: _Slot, replacement: bool) -> None:
        for handler in logging.getLogger().handlers:
            handler.flush()
        pid = os.fork()
        if pid == 0:
            os.close(self._held)
            self._start(Parent(os.getppid(), self._alive), replacement)
        slot.pid, slot.started, slot.due = pid, time.monotonic(), None
        log.info("worker %d started (pid %d)", slot.index + 1, pid, extra={"worker_pid": pid})

    def _on_signal(self, signo: int, sender: int) -> None:
        if signo in (signal.SIGTERM, signal.SIGINT):
            if self._stopping:
                log.warning("asked again to stop: killing %d workers", len(self.pids))
                self._send(signal.SIGKILL)
                return
            self._stopping = True
            for slot in self._slots:
                slot.due = None
            log.info("stopping %d workers (requests in flight finish first)", len(self.pids))
            # Once the workers close theirs too, new connections are refused, not queued.
            close_all(self._listeners)
            self._send(signal.SIGTERM)
        elif signo == signal.SIGHUP and not self._stopping:
            self._send(signal.SIGHUP, sparing=sender)

    def _send(self, sig: signal.Signals, sparing: int = 0) -> None:
        for pid in self.pids:
            if pid != sparing:
                with contextlib.suppress(ProcessLookupError):  # exited; reaped soon
                    os.kill(pid, sig)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = next((s for s in self._slots if s.pid == pid), None)
            if slot is not None:
                self._ended(slot, status)

    def _ended(self, slot: _Slot, status: int) -> None:
        slot.pid = 0
        if self._stopping:
            if os.waitstatus_to_exitcode(status) != 0:
                log.warning("worker %d %s while stopping", slot.index + 1, _describe(status))
            return
        lived = time.monotonic() - slot.started
        slot.pause = 0.0 if lived >= YOUNG else min(MAX_PAUSE, max(1.0, slot.pause * 2))
        slot.due = time.monotonic() + slot.pause
        log.error(
            "worker %d %s; starting another%s",
            slot.index + 1,
            _describe(status),
            f" in {slot.pause:g} s" if slot.pause else "",
        )

    def _replace_due(self) -> None:
        now = time.monotonic()
        for slot in self._slots:
            if slot.due is not None and slot.due <= now and not self._stopping:
                self._fork(slot, replacement=True)


def worker_entry(
    settings: Settings, config_path: Path | None, listeners: list[Listener]
) -> Callable[[Parent, bool], NoReturn]:
    """What a forked child runs: serve `listeners` until told to stop, then exit."""

    def start(parent: Parent, replacement: bool) -> NoReturn:
        code = 0
        try:
            uvloop.run(_serve(settings, config_path, listeners, parent, replacement))
        except BaseException:
            log.exception("worker %d failed", os.getpid())
            code = 1
        finally:
            for handler in logging.getLogger().handlers:
                handler.flush()
            sys.stderr.flush()
        os._exit(code)  # never back into the parent's code (its atexit, its CLI)

    return start


async def _serve(
    settings: Settings,
    config_path: Path | None,
    listeners: list[Listener],
    parent: Parent,
    replacement: bool,
) -> None:
    # The parent migrated already; a worker only checks the schema is current.
    services = await build_services(settings, migrate=False)
    freeze_startup()
    await serve(
        settings,
        services,
        config_path,
        listeners=listeners,
        parent=parent,
        replacement=replacement,
    )
