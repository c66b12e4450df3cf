"""The traffic controller's websocket streams: `wss://doppler.<domain>:4443/apps/<guid>/stream`.

Behind HAProxy's `:4443` (TLS, tcp mode) and the router's tunnel, this listener is where the
handshake happens, as on the real traffic controller (loggregatorlib@8c18c3c
server/handlers/websocket_handler.go, gorilla/websocket's Upgrader):
* every log line of the app from then on is one **binary** frame holding one marshalled
  dropsonde `Envelope` (legacy `/tail/?app=`: a legacy `LogMessage`); no replay of old lines;
* keep-alive (server/websocket_keepalive.go): a ping, then up to 30 s for the pong; after a
  pong, 15 s until the next ping; no pong in time closes the stream with 1008 `Client did not
  respond to ping before keep-alive timeout expired.`;
* refusals are plain HTTP before the handshake, exactly as `http.py` answers them.

Why `websockets` (the server side of the maintained library the suite's client also uses):
its sync server runs the handshake and framing (RFC 6455) in a thread per connection, like
the rest of the simulator; the tests check what it sends with an independent hand-written
client built from RFC 6455's own examples, so a framing bug shared with the client cannot
hide.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.protocol import State
from websockets.sync.server import Server, ServerConnection, serve

from simulator.loggregator.encoding import LogLine, dropsonde_envelope, legacy_log_message
from simulator.loggregator.http import route, token_of

if TYPE_CHECKING:
    from websockets.http11 import Request, Response

    from simulator.loggregator.service import LogService

KEEPALIVE = 30.0  # doppler_endpoint.go WebsocketKeepAliveDuration
KEEPALIVE_TIMEOUT_REASON = "Client did not respond to ping before keep-alive timeout expired."
POLICY_VIOLATION = 1008


class _Cookies(dict):  # what token_of needs of a cookie jar
    @classmethod
    def parse(cls, header: str | None) -> _Cookies:
        jar = cls()
        for part in (header or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name:
                jar[name] = value
        return jar


class StreamServer:
    """One loopback listener; `address` is what the router's tunnel dials."""

    def __init__(self, service: LogService, keepalive: float = KEEPALIVE) -> None:
        self.service = service
        self.keepalive = keepalive
        self._pending: dict[int, queue.Queue[LogLine]] = {}
        self._server: Server = serve(self._handle, "127.0.0.1", 0, process_request=self._check,
                                     compression=None, ping_interval=None, server_header=None,
                                     max_size=2 ** 20, close_timeout=2)
        self.address: tuple[str, int] = self._server.socket.getsockname()[:2]
        threading.Thread(target=self._server.serve_forever, name="trafficcontroller-ws", daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()

    # ------------------------------------------------------------------ handshake

    @staticmethod
    def _target(request: Request) -> tuple[str, str, bool] | None:
        parts = urlsplit(request.path)
        args = {k: v[0] for k, v in parse_qs(parts.query).items()}
        return route(parts.path, args)

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        target = self._target(request)
        path = urlsplit(request.path).path
        if target is None or target[1] != "stream":
            return connection.respond(404, f"Resource Not Found. {path}")
        guid = target[0]
        token = token_of(request.headers, _Cookies.parse(request.headers.get("Cookie")))
        denied = self.service.authorize(token, guid)
        if denied is not None:
            response = connection.respond(401, f"You are not authorized. {denied}")
            response.headers["WWW-Authenticate"] = "Basic"
            return response
        # subscribe before the 101 goes out: every line emitted once the client holds an
        # open stream reaches it
        self._pending[id(connection)] = self.service.subscribe(guid)
        return None

    # ------------------------------------------------------------------ the stream

    def _handle(self, connection: ServerConnection) -> None:
        target = self._target(connection.request)  # type: ignore[arg-type]
        assert target is not None
        guid, _, legacy = target
        encode: Callable[[LogLine], bytes] = legacy_log_message if legacy else dropsonde_envelope
        lines = self._pending.pop(id(connection), None) or self.service.subscribe(guid)
        done = threading.Event()
        threading.Thread(target=self._keepalive, args=(connection, done), daemon=True,
                         name=f"ws-keepalive-{guid[:8]}").start()
        try:
            while not done.is_set():
                try:
                    line = lines.get(timeout=0.25)
                except queue.Empty:
                    if connection.protocol.state is State.CLOSED:
                        break
                    continue
                connection.send(encode(line))
        except ConnectionClosed:
            pass
        finally:
            done.set()
            self.service.unsubscribe(guid, lines)

    def _keepalive(self, connection: ServerConnection, done: threading.Event) -> None:
        while not done.is_set():
            try:
                pong = connection.ping()
            except ConnectionClosed:
                break
            if not pong.wait(self.keepalive):
                try:
                    connection.close(POLICY_VIOLATION, KEEPALIVE_TIMEOUT_REASON)
                except ConnectionClosed:
                    pass
                break
            if done.wait(self.keepalive / 2):
                break
        done.set()

