"""The FaultProxy the measured-path tests put in front of an endpoint: it relays, and when
broken it cuts open connections (a reader blocked on one sees the end at once) and refuses
new ones until restored; the control socket does the same from another process."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from faultproxy import FaultProxy, send


@pytest.fixture
def echo():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return

            def pump(c: socket.socket = conn) -> None:
                with c:
                    while data := c.recv(1024):
                        c.sendall(data)

            threading.Thread(target=pump, daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()
    srv.close()


def _connect(proxy: FaultProxy) -> socket.socket:
    host, port = proxy.address.split(":")
    return socket.create_connection((host, int(port)), timeout=2)


def _echoed(proxy: FaultProxy) -> bool:
    try:
        with _connect(proxy) as conn:
            conn.sendall(b"ping")
            return conn.recv(4) == b"ping"
    except OSError:
        return False


def test_relays_then_breaks_open_and_new_connections_then_restores(echo):
    proxy = FaultProxy(echo)
    try:
        conn = _connect(proxy)
        conn.sendall(b"hello")
        assert conn.recv(5) == b"hello"
        ended = threading.Event()

        def blocked_reader() -> None:
            try:
                conn.settimeout(5)
                while conn.recv(1024):
                    pass
            except OSError:
                pass
            ended.set()

        threading.Thread(target=blocked_reader, daemon=True).start()
        time.sleep(0.1)
        assert send(proxy.control_address, "break") == "ok"
        assert ended.wait(1), "a reader blocked on a relayed connection did not see it end"
        assert not _echoed(proxy)  # a new connection is reset at once
        assert send(proxy.control_address, "restore") == "ok"
        assert _echoed(proxy)
        assert proxy.events == ["break", "restore"]
        assert send(proxy.control_address, "explode").startswith("unknown command")
    finally:
        proxy.close()


def test_relays_to_loopback_only():
    with pytest.raises(ValueError, match="loopback only"):
        FaultProxy(("10.244.0.34", 443))
