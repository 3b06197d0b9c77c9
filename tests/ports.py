"""Loopback ports for the servers tests start, never the same one twice at once.

The suite runs on several pytest-xdist workers. Asking the kernel for a free port (bind to
port 0, close, hand the number on) races between them: another worker may be handed the
same number before the first server binds it. So each worker takes its ports from its own
slice of 12000-31999, below the kernel's ephemeral range (which starts at 32768 here, so
neither the kernel's own choices nor another worker's land there), walking its slice from a
random start and skipping what is in use. One process alone (no xdist) has the whole span.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import threading

LOW, HIGH = 12000, 32000


def _slice() -> tuple[int, int]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    span = (HIGH - LOW) // max(count, 1)
    low = LOW + (index % max(count, 1)) * span
    return low, low + span


_LOW, _HIGH = _slice()
_SPAN = _HIGH - _LOW
_next = itertools.count(random.randrange(_SPAN))
_lock = threading.Lock()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now and this worker has not handed
    out recently."""
    for _ in range(_SPAN):
        with _lock:
            port = _LOW + next(_next) % _SPAN
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {_LOW}-{_HIGH - 1}")
