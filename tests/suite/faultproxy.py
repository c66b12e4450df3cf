"""A TCP relay that a test puts in front of one endpoint, and breaks on command.

The suite's measurements must catch a path that breaks *outside* the simulator, as a real
network or a real component would: the test points the suite config's resolve map at this
relay for one `host:port` (an exact entry wins over the `*.domain:port` one), and the relay
passes bytes both ways to where the map sent that name before. `break_()` makes it refuse
service: open connections are cut and new ones are reset at once; `restore()` relays again.
TLS is untouched (it is a byte relay), so the suite still verifies the certificate against
the original host name.

An inner pytest run controls it through a control socket: one line, `break` or `restore`,
answered with `ok` (tests/suite/faultplugin.py sends them when a step starts or ends).
Loopback only.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


def _reset(sock: socket.socket) -> None:
    """Cut a connection at once: SO_LINGER 0 (a reset, not a clean end), and shutdown first,
    because a close alone does not end a connection another thread is blocked reading."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class FaultProxy:
    def __init__(self, target: tuple[str, int], name: str = "proxy") -> None:
        if not target[0].startswith("127."):
            raise ValueError(f"{name}: relays to loopback only, not {target[0]}")
        self.target = target
        self.name = name
        self.broken = threading.Event()
        self.events: list[str] = []  # break/restore, in order (the test can check they happened)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._listener = self._listen()
        self._control = self._listen()
        self._threads = [threading.Thread(target=self._accept, name=f"{name}-accept", daemon=True),
                         threading.Thread(target=self._serve_control, name=f"{name}-control", daemon=True)]
        for t in self._threads:
            t.start()

    @staticmethod
    def _listen() -> socket.socket:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        return s

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._listener.getsockname()[1]}"

    @property
    def control_address(self) -> str:
        return f"127.0.0.1:{self._control.getsockname()[1]}"

    # -- control ---------------------------------------------------------------------------

    def break_(self) -> None:
        self.broken.set()
        self.events.append("break")
        with self._lock:
            victims, self._open = list(self._open), set()
        for sock in victims:
            _reset(sock)

    def restore(self) -> None:
        self.broken.clear()
        self.events.append("restore")

    def _serve_control(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._control.accept()
            except OSError:
                return
            with conn:
                line = conn.makefile().readline().strip()
                if line == "break":
                    self.break_()
                elif line == "restore":
                    self.restore()
                else:
                    conn.sendall(f"unknown command {line!r}\n".encode())
                    continue
                conn.sendall(b"ok\n")

    # -- relaying ----------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.broken.is_set():
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            left = [2]  # pumps still running for this pair; the last one closes both sockets
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b, left), name=f"{self.name}-pump",
                                 daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, left: list[int]) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
        with self._lock:
            left[0] -= 1
            last = left[0] == 0
            if last:
                self._open.discard(src)
                self._open.discard(dst)
        if last:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self) -> None:
        self._closing.set()
        for s in (self._listener, self._control):
            with contextlib.suppress(OSError):
                s.close()
        self.break_()


def send(control_address: str, command: str, timeout: float = 5.0) -> str:
    """Send `break` or `restore` to a proxy's control socket; returns its answer line."""
    host, port = control_address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        conn.sendall(command.encode() + b"\n")
        return conn.makefile().readline().strip()
