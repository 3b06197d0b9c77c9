"""A server's worker processes seen from outside, through /proc (Linux): its children, and
which of them holds the server end of a given TCP connection."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROC = Path("/proc")


def children(pid: int) -> set[int]:
    """The live processes whose parent is `pid` (zombies excluded)."""
    found = set()
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat.rpartition(")")[2].split()
        state, ppid = fields[0], int(fields[1])
        if ppid == pid and state != "Z":
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_until(condition: Callable[[], bool], deadline: float = 30.0) -> bool:
    """Ask `condition` until it holds or the deadline passed; whether it held."""
    until = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > until:
            return False
        time.sleep(0.05)
    return True


def _socket_inode(server_port: int, client_port: int) -> int | None:
    """The inode of the server end of 127.0.0.x:client_port -> :server_port."""
    for line in (PROC / "net" / "tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], int(fields[9])
        if int(local.split(":")[1], 16) == server_port and (
            int(remote.split(":")[1], 16) == client_port
        ):
            return inode or None
    return None


def owner(server_port: int, client_port: int, candidates: set[int]) -> int | None:
    """Which of `candidates` holds the accepted end of the connection from `client_port`."""
    inode = _socket_inode(server_port, client_port)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in candidates:
        fds = PROC / str(pid) / "fd"
        try:
            names = os.listdir(fds)
        except OSError:
            continue
        for name in names:
            try:
                if os.readlink(fds / name) == target:
                    return pid
            except OSError:
                continue
    return None


class WorkerClient:
    """HTTP/1.1 to one chosen worker of a server: it connects until that worker accepted
    the connection (the kernel hands each to whichever worker is waiting), then asks."""

    def __init__(
        self,
        port: int,
        pid: int,
        workers: set[int],
        source: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
    ):
        self.port = port
        self.pid = pid
        self.workers = workers
        self.source = source
        self.tls = tls

    def _connect(self, deadline: float = 60.0) -> http.client.HTTPConnection:
        until = time.monotonic() + deadline
        while time.monotonic() < until:
            where = ("127.0.0.1", self.port)
            connection = (
                http.client.HTTPConnection(*where, timeout=30, source_address=(self.source, 0))
                if self.tls is None
                else http.client.HTTPSConnection(
                    *where, timeout=30, source_address=(self.source, 0), context=self.tls
                )
            )
            connection.request("GET", "/healthz")  # answered: so accepted by a worker
            connection.getresponse().read()
            client_port = connection.sock.getsockname()[1]
            if owner(self.port, client_port, self.workers) == self.pid:
                return connection
            connection.close()
        raise AssertionError(f"worker {self.pid} accepted no connection within {deadline} s")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """(status, parsed JSON body or text) of one request answered by this worker."""
        sent = dict(headers or {})
        data: bytes | None = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        elif form is not None:
            from urllib.parse import urlencode

            data = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        connection = self._connect()
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode("utf-8", "replace")


def terminate(pid: int) -> None:
    """SIGKILL `pid` if it still runs (cleanup after a test that failed midway)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
