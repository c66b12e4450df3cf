"""Garden's NetIn as a userspace forwarder: external port on the cell -> container port.

A real garden-linux cell adds an iptables DNAT rule per NetIn (garden-linux
`linux_backend/skeleton/net.sh in`), so a connection to cellIP:external reaches
containerIP:internal and the kernel does the rest. The simulator has no iptables it may
touch, so each mapping is a listening socket on the cell's (translated) address whose
connections are spliced to the container's address.

All mappings of all cells share one asyncio event loop in one thread ("garden-netin"): a
connection costs two sockets and no thread, and flow control is the transports' own (a side
whose peer cannot keep up stops being read). The end of one direction is passed on as a
half-close, so request/response protocols that shut down their write side keep working.

`NetInForwarder.open()` returns once the socket listens; `Forward.close()` stops listening
(a connection attempt is then refused, as for a destroyed container's port) and resets what
is still connected.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
CALL_TIMEOUT = 10.0
BACKEND_CONNECT_TIMEOUT = 5.0
LISTEN_BACKLOG = 128


def _reset(transport: asyncio.BaseTransport) -> None:
    """Close with an RST (SO_LINGER 0), which is what a client of a DNAT'ed port sees when
    nothing listens behind it."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


class _Pipe(asyncio.Protocol):
    """One side of a spliced connection; whatever it reads goes to `peer`."""

    def __init__(self, forward: Forward) -> None:
        self.forward = forward
        self.transport: asyncio.Transport | None = None
        self.peer: _Pipe | None = None
        self.got_eof = False
        self.sent_eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.forward.connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)

    def eof_received(self) -> bool:
        self.got_eof = True
        if self.peer is not None:
            self.peer.send_eof()
        self._close_when_done()
        return True  # keep our write side open until the peer is done too

    def send_eof(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.sent_eof = True
        self._close_when_done()

    def _close_when_done(self) -> None:
        if self.got_eof and self.sent_eof and self.transport is not None:
            self.transport.close()

    # the peer's writes back up: stop reading until it drains
    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.forward.connections.discard(self)
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.transport.is_closing():
            if exc is None:
                peer.transport.close()  # after what is buffered for it
            else:
                _reset(peer.transport)

    def reset(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            _reset(self.transport)


class _Accepted(_Pipe):
    """The outside end: dials the container before reading anything from the client."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.pause_reading()
        asyncio.get_running_loop().create_task(self._dial())

    async def _dial(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _transport, backend = await asyncio.wait_for(
                loop.create_connection(lambda: _Pipe(self.forward), *self.forward.target),
                BACKEND_CONNECT_TIMEOUT)
        except OSError:  # TimeoutError included
            self.reset()  # nothing listens in the container: the client sees a reset
            return
        if self.transport is None or self.transport.is_closing():
            backend.reset()
            return
        backend.peer, self.peer = self, backend
        self.transport.resume_reading()


class Forward:
    """One NetIn: `listen` (cell address, external port) -> `target` (container address,
    internal port)."""

    def __init__(self, forwarder: NetInForwarder, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.forwarder = forwarder
        self.listen = listen
        self.target = target
        self.connections: set[_Pipe] = set()
        self.server: asyncio.AbstractServer | None = None

    def close(self) -> None:
        """Stop listening, then reset every connection still open. Idempotent."""
        try:
            self.forwarder.call(self.shut())
        except RuntimeError:
            pass  # the forwarder is closed, and closed every mapping first

    async def shut(self) -> None:
        self.forwarder.forwards.discard(self)
        if self.server is not None:
            self.server.close()
            self.server = None
        for pipe in list(self.connections):
            pipe.reset()

    @property
    def listening(self) -> bool:
        return self.server is not None


class NetInForwarder:
    """The event loop thread that carries every NetIn of the simulated cells."""

    def __init__(self) -> None:
        self.forwards: set[Forward] = set()  # touched on the loop only
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="garden-netin", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and wait for its result (from any thread but the loop's).
        After `close()` nothing runs: RuntimeError."""
        if not self._thread.is_alive() or self._loop.is_closed():
            coro.close()
            raise RuntimeError("garden NetIn forwarder is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CALL_TIMEOUT)

    def open(self, listen: tuple[str, int], target: tuple[str, int]) -> Forward:
        """Listen on `listen` (raises OSError when the address is taken) and forward every
        connection to `target`."""
        forward = Forward(self, listen, target)

        async def start() -> Forward:
            forward.server = await self._loop.create_server(
                lambda: _Accepted(forward), listen[0], listen[1], family=socket.AF_INET,
                reuse_address=True, backlog=LISTEN_BACKLOG)
            self.forwards.add(forward)
            return forward

        return self.call(start())

    def close(self) -> None:
        """Close every mapping still open, then stop the loop and its thread."""
        if not self._thread.is_alive():
            return

        async def shut_all() -> None:
            for forward in list(self.forwards):
                await forward.shut()
            await asyncio.sleep(0)  # let the transports' close callbacks run

        try:
            self.call(shut_all())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5.0)
