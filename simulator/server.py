"""The servers every part of the simulator stands on: `start_wsgi_listener`, the threaded
(optionally TLS) loopback HTTP listener any part may use for its WSGI app, and the loopback
/16 reservation that marks a network as this run's (the VM network, garden's container one).

Nothing here knows a part: the parts import it, and `simulator.assembly` builds the world and
attaches them. Idle costs nothing noticeable: listener threads block in `select` with a 0.5 s
poll.
"""

from __future__ import annotations

import ipaddress
import random
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

# --------------------------------------------------------------------------------------
# Listeners


class _QuietHandler(WSGIRequestHandler):
    """No per-request access log on stderr (it would drown the simulator's real messages)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error" and "TLS" not in message and "SSL" not in message:
            super().log(type, message, *args)


@dataclass
class WsgiListener:
    name: str
    server: BaseWSGIServer
    thread: threading.Thread
    address: tuple[str, int] = field(init=False)

    def __post_init__(self) -> None:
        host, port = self.server.socket.getsockname()[:2]
        self.address = (host, port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def start_wsgi_listener(app: Callable[..., Any], ssl_context: ssl.SSLContext | None = None,
                        host: str = "127.0.0.1", port: int = 0, name: str = "wsgi") -> WsgiListener:
    """Serve `app` on host:port (ephemeral by default) in a daemon thread, one thread per
    connection. Returns once the socket is listening."""
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler, ssl_context=ssl_context)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"listener-{name}", daemon=True)
    thread.start()
    return WsgiListener(name, server, thread)


# --------------------------------------------------------------------------------------
# Loopback /16 for VM addresses


def _loopback_in_use() -> set[int]:
    """Second octets of 127.N.x.y addresses with a TCP/UDP socket open on this host."""
    used: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/udp"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 2:
                continue
            hex_ip = parts[1].split(":")[0]
            try:
                raw = int(hex_ip, 16).to_bytes(4, "little")
            except ValueError:
                continue
            if raw[0] == 127:
                used.add(raw[1])
    return used


@dataclass
class LoopbackReservation:
    """A listening socket on 127.N.255.254 that marks 127.N.0.0/16 as taken by this run."""

    network: ipaddress.IPv4Network
    sock: socket.socket

    def close(self) -> None:
        self.sock.close()


def reserve_loopback_network(rng: random.Random | None = None) -> LoopbackReservation:
    rng = rng or random.Random()
    candidates = list(range(20, 251))
    rng.shuffle(candidates)
    for octet in candidates:
        if octet in _loopback_in_use():
            continue
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((f"127.{octet}.255.254", 0))
            sock.listen(1)
        except OSError:
            sock.close()
            continue
        return LoopbackReservation(ipaddress.IPv4Network(f"127.{octet}.0.0/16"), sock)
    raise RuntimeError("no free loopback /16 in 127.20.0.0 - 127.250.0.0")
