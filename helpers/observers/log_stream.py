"""A0 log stream: what `cf logs A0` shows arrives while it happens.

One stream stays open for the whole run (the era's websocket,
`wss://doppler.<domain>:4443/apps/<guid>/stream`, through `helpers.logs.stream_logs`); a
reader thread notes every line it delivers. Each attempt makes A0 print a unique line
(`GET /log/<nonce>` through its route) and waits until the stream has delivered it (ok),
`within` seconds pass (failed: `line_missing`), or the stream is down (failed:
`stream_unreachable` when it cannot be opened, `stream_broke` when it broke while the line
was awaited). A broken stream is reopened by the next attempt, as a user would run `cf logs`
again. When A0 does not take the line, the attempt is inconclusive (A0 routable's to report).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from helpers.logs import stream_logs
from helpers.observers.base import Observer, ObserverContext
from helpers.observers.recent_logs import emit_line
from helpers.prober import LoopProber, Prober
from helpers.samples import Sample


class A0LogStream(Observer):
    name = "a0_log_stream"
    title = "A0 log stream"
    OPTIONS = {"interval": 1.0, "within": 5.0, "connect_timeout": 10.0}

    def headline(self, step: str) -> str:
        return f"A0's log stream failed during {step!r}"

    def prepare(self, ctx: ObserverContext) -> None:
        self.cf = ctx.new_cf()
        self.session = ctx.http_session(2.0, 5.0)
        self._lock = threading.Condition()
        self._seen: dict[str, float] = {}  # nonce -> monotonic arrival
        self._stream: Any = None
        self._reader: threading.Thread | None = None
        self._broke: str | None = None  # why the current stream ended, once it has

    def make_prober(self, ctx: ObserverContext) -> Prober:
        return LoopProber(self.name, self._attempt, interval=self.options["interval"],
                          attempt_timeout=self.options["within"] + self.options["connect_timeout"] * ctx.scale)

    # -- the stream ---------------------------------------------------------------------

    def _open(self) -> str | None:
        """Open a stream unless one is up; None, or why it cannot be opened."""
        with self._lock:
            if self._stream is not None and self._broke is None:
                return None
        assert self.ctx is not None
        try:
            stream = stream_logs(self.cf, self.ctx.a0.guid,
                                 connect_timeout=self.options["connect_timeout"] * self.ctx.scale)
        except Exception as exc:  # LogsError, or a client error refreshing the token
            return f"{type(exc).__name__}: {str(exc)[:200]}"
        with self._lock:
            self._stream, self._broke = stream, None
        self._reader = threading.Thread(target=self._read, args=(stream,), name="probe-a0_log_stream-reader",
                                        daemon=True)
        self._reader.start()
        return None

    def _read(self, stream: Any) -> None:
        why = "the server closed the stream"
        try:
            for line in stream:
                message = str(getattr(line, "message", ""))
                if message.startswith("nonce ") and str(getattr(line, "source_type", "")).startswith("APP"):
                    with self._lock:
                        self._seen[message.split()[1]] = time.monotonic()
                        self._lock.notify_all()
        except Exception as exc:
            why = f"{type(exc).__name__}: {str(exc)[:200]}"
        with self._lock:
            if self._stream is stream:
                self._broke = why
            self._lock.notify_all()

    # -- one attempt ----------------------------------------------------------------------

    def _attempt(self, sample: Sample) -> None:
        ctx = self.ctx
        assert ctx is not None
        why = self._open()
        if why is not None:
            sample.error, sample.detail = "stream_unreachable", f"A0's log stream cannot be opened: {why}"
            return
        nonce, refused = emit_line(self.session, ctx.a0_url)
        if nonce is None:
            sample.error, sample.conclusive = "emit_failed", False
            sample.detail = f"A0 did not take the log line ({refused})"
            return
        emitted = time.monotonic()
        deadline = emitted + self.options["within"]
        with self._lock:
            for old in [n for n, t in self._seen.items() if t < emitted - 60]:  # lines nobody waits for
                del self._seen[old]
            while nonce not in self._seen:
                if self._broke is not None:
                    sample.error, sample.detail = "stream_broke", f"A0's log stream broke: {self._broke}"
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    sample.error = "line_missing"
                    sample.detail = (f"line 'nonce {nonce}' not delivered by A0's log stream {self.options['within']:g}s "
                                     "after A0 printed it")
                    return
                self._lock.wait(min(left, 0.25))
            sample.latency = self._seen.pop(nonce) - emitted

    def cleanup(self) -> None:
        lock = getattr(self, "_lock", None)
        if lock is None:  # never prepared
            return
        with lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
        if self._reader is not None:
            self._reader.join(5)
