"""A TCP relay on loopback that a test can break: to stand for a database that goes away.

`forward()` relays every byte both ways; `close()` shuts the port and drops every open
connection (a stopped server: new connections are refused); `black_hole()` keeps the port
open but answers nothing, on new connections and on those already open (a hung server or a
partitioned network: only a timeout ends the wait). Threads, one per direction per
connection; the test that starts a relay stops it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Literal

Mode = Literal["forward", "black_hole", "closed"]
CHUNK = 64 * 1024


class _Pair:
    """A client connection and, while forwarding, its upstream connection."""

    def __init__(self, client: socket.socket, upstream: socket.socket | None) -> None:
        self.client = client
        self.upstream = upstream

    def cut_upstream(self) -> None:
        if self.upstream is not None:
            _close(self.upstream)

    def close(self) -> None:
        self.cut_upstream()
        _close(self.client)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def _pump(source: socket.socket, sink: socket.socket, pair: _Pair, relay: TcpRelay) -> None:
    try:
        while True:
            data = source.recv(CHUNK)
            if not data or relay.mode != "forward":
                break
            sink.sendall(data)
    except OSError:
        pass
    if relay.mode == "forward":
        pair.close()  # one side ended: end the other (a black hole keeps the client hanging)


class TcpRelay:
    """127.0.0.1:`port` relayed to `target_host`:`target_port`."""

    def __init__(self, target_host: str, target_port: int, port: int) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self.mode: Mode = "closed"
        self._listener: socket.socket | None = None
        self._pairs: list[_Pair] = []
        self._lock = threading.Lock()

    def forward(self) -> None:
        """Relay again (reopening the port if it was closed); hung connections are dropped."""
        with self._lock:
            self._drop_all()
            self.mode = "forward"
        self._listen()

    def black_hole(self) -> None:
        """Accept and never answer, on open connections too: their upstream side is cut,
        their client side left waiting."""
        self._listen()
        with self._lock:
            self.mode = "black_hole"
            for pair in self._pairs:
                pair.cut_upstream()

    def close(self) -> None:
        """Refuse new connections and reset every open one."""
        with self._lock:
            self.mode = "closed"
            if self._listener is not None:
                _close(self._listener)
                self._listener = None
            self._drop_all()

    def _drop_all(self) -> None:
        for pair in self._pairs:
            pair.close()
        self._pairs.clear()

    def _listen(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(128)
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            self._serve(client)

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        if self.mode == "forward":
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                return
        pair = _Pair(client, upstream)
        with self._lock:
            self._pairs.append(pair)
            if self.mode != "forward" and upstream is not None:
                pair.cut_upstream()  # the mode changed while connecting
                return
        if upstream is not None:
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink, pair, self), daemon=True).start()
