"""The HAProxy front of a BOSH-Lite CF: one threaded listener per frontend.

Requests flow HAProxy -> gorouter -> backend. This module is the transport: accepting (TLS
handshakes happen on the connection's own thread, so a slow client cannot stall the accept
loop), keep-alive HTTP/1.1 parsing, closing connections while `haproxy` is down, writing the
answer, and tunnels: an upgrade request (websocket) that the router hands back as a `Tunnel`
becomes a byte-for-byte relay to the backend, as gorouter's `serveWebSocket` hijacks the
connection. What to answer is decided by `Router.handle` (see `simulator/router/router.py`).
Which certificate the TLS frontends present is decided by what is deployed (`HaproxyTls`).

HAProxy's frontends (cf-release@v220 jobs/haproxy/templates/haproxy.conf.erb:25-48): `:80`
and `:443` in http mode (`FrontServer`), `:4443` TLS in **tcp** mode to the routers' port 80
(`TlsTcpFront`: TLS ends here, the bytes go on to the plain front untouched).
"""

from __future__ import annotations

import hashlib
import select
import socket
import ssl
import struct
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from socketserver import TCPServer, ThreadingMixIn
from typing import TYPE_CHECKING, Any, Protocol

from simulator.tls import era_server_context, haproxy_default_ciphers, write_private

if TYPE_CHECKING:
    from simulator.world import InstanceView, World

HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 75.0
TUNNEL_CONNECT_TIMEOUT = 5.0  # gorouter's websocket dial timeout (request_handler.go serveWebSocket)
TUNNEL_IDLE_TIMEOUT = 900.0  # HAProxy timeout client/server = request_timeout_in_seconds (job spec)
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection"}


class Gorouter(Protocol):
    """What the fronts ask of the router behind them (`simulator.router.router.Router`)."""

    def haproxy_up(self) -> bool: ...

    def handle(self, req: Request) -> Response | Tunnel:
        """The answer, or a tunnel to the backend; raises `DropConnection` to close without one."""


class Request:
    """One parsed client request, as the router sees it."""

    def __init__(self, method: str, target: str, version: str, headers: list[tuple[str, str]],
                 body: bytes, scheme: str, client: tuple[str, int], server_port: int) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.scheme = scheme
        self.client = client
        self.server_port = server_port

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)


class Response:
    def __init__(self, status: int, headers: list[tuple[str, str]] | None = None, body: bytes = b"",
                 close: bool = False) -> None:
        self.status = status
        self.headers = headers or []
        self.body = body
        self.close = close


class Tunnel:
    """Relay the client connection to `address` after sending `head` (the request as the
    router forwards it): the backend answers the upgrade itself."""

    def __init__(self, address: tuple[str, int], head: bytes) -> None:
        self.address = address
        self.head = head


class DropConnection(Exception):
    """Close the client connection without an answer (HAProxy is down)."""


class HaproxyTlsError(RuntimeError):
    """The deployed `ha_proxy.ssl_pem` / `ha_proxy.ssl_ciphers` cannot be used: the real
    haproxy process fails to start on it, so the instance fails its update."""


class HaproxyTls:
    """HAProxy's TLS, read from what is deployed (cf-release v220 and v231, jobs/haproxy).

    `templates/haproxy.conf.erb` renders the `:443` (http) and `:4443` (tcp) `ssl` frontends
    only `if p("ha_proxy.ssl_pem")` (spec default `~`): without a certificate there is no
    HTTPS at all, and both listeners refuse connections here (reset before any TLS byte). With
    one, both present it (`crt` = the PEM, certificate chain and key), TLS 1.0 to 1.2
    (`no-sslv3`; the stemcell's OpenSSL 1.0.1 had no TLS 1.3) and `ha_proxy.ssl_ciphers`,
    whose default depends on the cf-release version. A value that is set but unusable (Ruby
    truthiness: even `""`) makes haproxy fail to start, so the instance fails its update.

    `context()` is the one place that builds HAProxy's server context; every TLS frontend
    (`:443`, `:4443`) asks it per connection (`wrap`), so a deploy that changes the
    certificate takes effect for the next connection, as HAProxy's reload does.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self._dir = Path(world.state_dir) / "haproxy-tls"
        self._contexts: dict[tuple[str, str], ssl.SSLContext] = {}
        self._lock = threading.Lock()

    @classmethod
    def attach(cls, world: World) -> HaproxyTls:
        tls = cls(world)
        world.bus.subscribe("started", tls.on_started)
        return tls

    @staticmethod
    def settings(instance: InstanceView) -> tuple[str, str] | None:
        """(ssl_pem, ssl_ciphers) of a haproxy instance, or None when no HTTPS frontend renders."""
        pem = instance.prop("ha_proxy.ssl_pem")
        if pem is None or pem is False:
            return None
        # the spec default applies only when the property is absent or null: a deployed ""
        # renders `ciphers ` with nothing after it, and haproxy does not start
        ciphers = instance.prop("ha_proxy.ssl_ciphers")
        if ciphers is None:
            ciphers = haproxy_default_ciphers(instance.release_version("cf"))
        return str(pem), str(ciphers)

    def context(self) -> ssl.SSLContext | None:
        """The server context of the running haproxy, or None: no haproxy running, or no
        `ha_proxy.ssl_pem` deployed (then there is no TLS frontend to connect to)."""
        running = self.world.running_with("haproxy")
        settings = self.settings(running[0]) if running else None
        if settings is None:
            return None
        try:
            return self._context(*settings)
        except HaproxyTlsError:
            return None  # the instance failed to start on it: nothing listens

    def wrap(self, sock: socket.socket) -> ssl.SSLSocket | None:
        """The server side of a TLS frontend's connection, or None when it is over: reset
        before any TLS byte when no certificate is deployed, dropped when the handshake fails."""
        ctx = self.context()
        if ctx is None:
            _reset(sock)
            return None
        try:
            return ctx.wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError):
            return None

    def on_started(self, instance: InstanceView) -> None:
        """Fail a haproxy instance whose certificate or ciphers cannot be loaded."""
        if instance.has_template("haproxy"):
            settings = self.settings(instance)
            if settings is not None:
                self._context(*settings)

    def _context(self, pem: str, ciphers: str) -> ssl.SSLContext:
        key = (pem, ciphers)
        with self._lock:
            ctx = self._contexts.get(key)
            if ctx is not None:
                return ctx
            self._dir.mkdir(parents=True, exist_ok=True)
            path = self._dir / f"{hashlib.sha256(pem.encode()).hexdigest()[:16]}.pem"
            write_private(path, pem.encode())
            try:
                ctx = era_server_context(path, None, ciphers)
            except (ssl.SSLError, OSError, ValueError) as exc:
                # the reason names OpenSSL's complaint, never the PEM's content
                raise HaproxyTlsError(f"ha_proxy.ssl_pem unusable (with ha_proxy.ssl_ciphers): "
                                      f"{getattr(exc, 'reason', None) or type(exc).__name__}") from None
            self._contexts[key] = ctx
            return ctx


def _readable(sock: socket.socket) -> bool:
    return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0


def splice(a: socket.socket, b: socket.socket, idle_timeout: float = TUNNEL_IDLE_TIMEOUT,
           first_a: bytes = b"") -> None:
    """Copy bytes both ways until either side closes or nothing moves for `idle_timeout`.

    One thread, select(): an SSLSocket must not be read and written from two threads at
    once, and TLS may hold decrypted bytes that select() cannot see (`pending()`)."""
    if first_a:
        b.sendall(first_a)
    for sock in (a, b):
        sock.setblocking(True)
        sock.settimeout(None)
    peers = {a: b, b: a}
    while True:
        ready = [s for s in (a, b) if _readable(s)]
        if not ready:
            ready, _, _ = select.select([a, b], [], [], idle_timeout)
            if not ready:
                return
        for src in ready:
            try:
                data = src.recv(65536)
            except (OSError, ssl.SSLError):
                return
            if not data:
                return
            try:
                peers[src].sendall(data)
            except (OSError, ssl.SSLError):
                return


def _take_buffered(rfile: Any, sock: socket.socket) -> bytes:
    """Bytes the HTTP parser has already read past the request (without blocking)."""
    sock.setblocking(False)
    try:
        return rfile.read1(65536) or b""
    except (BlockingIOError, ssl.SSLWantReadError, OSError, ValueError):
        return b""
    finally:
        sock.setblocking(True)


class FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HAProxy"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stalls
    server: FrontServer

    def handle_one_request(self) -> None:
        if not self.server.router.haproxy_up():
            self.close_connection = True
            return
        super().handle_one_request()

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        req = Request(self.command, self.path, self.request_version, list(self.headers.items()), body,
                      self.server.scheme, self.client_address, self.server.server_address[1])
        try:
            resp = self.server.router.handle(req)
        except DropConnection:
            self.close_connection = True
            return
        except Exception:  # a bug must cost one request, not the connection thread silently
            import traceback

            traceback.print_exc()
            resp = Response(502, [("Content-Type", "text/plain; charset=utf-8"),
                                  ("X-Cf-Routererror", "endpoint_failure")],
                            b"502 Bad Gateway: Registered endpoint failed to handle the request.\n", close=True)
        if isinstance(resp, Tunnel):
            self._tunnel(resp)
            return
        self._write(req, resp)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(3)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _tunnel(self, tunnel: Tunnel) -> None:
        """The connection now belongs to the backend (gorouter hijacks it); a backend
        that cannot be reached costs the client its connection, as there."""
        self.close_connection = True
        try:
            backend = socket.create_connection(tunnel.address, timeout=TUNNEL_CONNECT_TIMEOUT)
        except OSError:
            return
        try:
            backend.sendall(tunnel.head)
            splice(self.connection, backend, first_a=_take_buffered(self.rfile, self.connection))
        except OSError:
            pass
        finally:
            backend.close()

    def _write(self, req: Request, resp: Response) -> None:
        self.send_response_only(resp.status)
        for name, value in resp.headers:
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        has_body = req.method != "HEAD" and resp.status not in (204, 304) and resp.status >= 200
        if has_body or req.method == "HEAD":
            self.send_header("Content-Length", str(len(resp.body)))
        if resp.close or (req.header("Connection") or "").lower() == "close":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if has_body:
            self.wfile.write(resp.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the RTR log lines are the access log


def _reset(sock: socket.socket) -> None:
    """Make the coming close a TCP reset (what a client of a port nobody serves sees first)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass


class FrontServer(ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], router: Gorouter, tls: HaproxyTls | None = None) -> None:
        self.router = router
        self.tls = tls
        self.scheme = "https" if tls is not None else "http"
        super().__init__(address, FrontHandler)
        self._thread: threading.Thread | None = None

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if self.router.haproxy_up():
            return True
        _reset(request)  # HAProxy is down: the connection dies at once, as a dead listener's would
        return False

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT)
        conn = request
        if self.tls is not None:
            conn = self.tls.wrap(request)
            if conn is None:
                return
        try:
            conn.settimeout(IDLE_TIMEOUT)
            self.RequestHandlerClass(conn, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            if conn is not request:
                try:
                    conn.close()
                except OSError:
                    pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # broken client connections are routine for a proxy

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"router-front-{self.scheme}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class TlsTcpFront(ThreadingMixIn, TCPServer):
    """HAProxy's `frontend ssl-in`: `bind :4443 ssl`, `mode tcp`, to the routers' port 80.

    TLS is terminated with HAProxy's context (the same `ha_proxy.ssl_pem` as `:443`: both
    frontends exist only when it is deployed) and the plain bytes are relayed to `upstream`
    (the plain front, i.e. gorouter), which sees an ordinary HTTP request (the websocket
    upgrade of `wss://doppler.<domain>:4443`). No X-Forwarded-* headers: tcp mode."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], router: Gorouter, tls: HaproxyTls,
                 upstream: tuple[str, int]) -> None:
        self.router = router
        self.tls = tls
        self.upstream = upstream
        super().__init__(address, BaseHTTPRequestHandler)

    verify_request = FrontServer.verify_request

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT)
        conn = self.tls.wrap(request)
        if conn is None:
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=TUNNEL_CONNECT_TIMEOUT)
        except OSError:
            conn.close()
            return
        try:
            splice(conn, upstream)
        finally:
            for sock in (upstream, conn):
                try:
                    sock.close()
                except OSError:
                    pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                         name="router-front-tls-tcp", daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
