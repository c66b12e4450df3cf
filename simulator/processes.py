"""Child processes of the simulator (app instances, redis-server, ssh exec sessions).

Nothing the simulator starts may outlive it, even when it is SIGKILLed: every child runs in
its own process group (so a stop reaches its grandchildren too) with
`PR_SET_PDEATHSIG=SIGKILL`. The kernel sends that signal when the *thread* that forked the
child exits, not the process, so all forks happen on one long-lived spawner thread; callers
on short-lived threads (director tasks, converger ticks, ssh sessions) stay safe.

Output is read by one thread per stream and handed over line by line (`on_line(stream,
text)` with stream "OUT" or "ERR"), or as raw chunks (`on_chunk`) for ssh sessions.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import queue
import signal
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1

LineHandler = Callable[[str, str], None]
ChunkHandler = Callable[[str, bytes], None]
ExitHandler = Callable[[int], None]

_libc: ctypes.CDLL | None = None


def _prctl_pdeathsig() -> None:
    """Runs in the child between fork and exec: die with the parent, even after SIGKILL."""
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _make_preexec(parent_pid: int, terminal: bool = False) -> Callable[[], None]:
    def preexec() -> None:
        _prctl_pdeathsig()
        # The parent may have died between fork and prctl: then nobody would kill us.
        if os.getppid() != parent_pid:
            os._exit(1)
        if terminal:
            # Runs after setsid() and after the pty slave became fds 0-2: make it the new
            # session's controlling terminal (what `tty`, job control and ^C need).
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    return preexec


try:  # pragma: no branch - Linux only; elsewhere children merely lack the death signal
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _libc = None


class ManagedProcess:
    """One child process group; `stop` ends all of it."""

    def __init__(self, popen: subprocess.Popen[bytes], argv: Sequence[str]) -> None:
        self.popen = popen
        self.argv = list(argv)
        self.pid = popen.pid
        self.started_at = time.time()
        self._readers: list[threading.Thread] = []
        self._exit_handlers: list[ExitHandler] = []
        self._done = threading.Event()
        self._lock = threading.Lock()

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for exit and for the output readers to finish; the exit code or None."""
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._done.wait(timeout)
        return code

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self) -> None:
        """SIGKILL the whole group (a crash, as the kill_instance fault wants)."""
        self.signal_group(signal.SIGKILL)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM the group, then SIGKILL it if it has not exited within `timeout`."""
        if self.alive:
            self.signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Grandchildren may linger even when the leader is gone: the group gets KILL anyway.
        self.signal_group(signal.SIGKILL)
        try:
            self.popen.wait(max(timeout, 1.0))
        except subprocess.TimeoutExpired:
            return None
        self._done.wait(2.0)
        return self.popen.returncode

    def write_stdin(self, data: bytes) -> None:
        if self.popen.stdin is not None:
            self.popen.stdin.write(data)
            self.popen.stdin.flush()

    def close_stdin(self) -> None:
        if self.popen.stdin is not None:
            try:
                self.popen.stdin.close()
            except OSError:
                pass

    # -- internals --------------------------------------------------------------------

    def _start_io(self, on_line: LineHandler | None, on_chunk: ChunkHandler | None,
                  on_exit: ExitHandler | None) -> None:
        if on_exit is not None:
            self._exit_handlers.append(on_exit)
        for name, stream in (("OUT", self.popen.stdout), ("ERR", self.popen.stderr)):
            if stream is None:
                continue
            t = threading.Thread(target=_read_stream, args=(stream, name, on_line, on_chunk),
                                 name=f"proc-{self.pid}-{name}", daemon=True)
            t.start()
            self._readers.append(t)
        threading.Thread(target=self._watch, name=f"proc-{self.pid}-wait", daemon=True).start()

    def _watch(self) -> None:
        code = self.popen.wait()
        for t in self._readers:
            t.join(5.0)
        _live.discard(self)
        self._done.set()
        for handler in self._exit_handlers:
            try:
                handler(code)
            except Exception:  # a broken handler must not kill the watcher silently
                import traceback

                traceback.print_exc()


def _read_stream(stream: IO[bytes], name: str, on_line: LineHandler | None,
                 on_chunk: ChunkHandler | None) -> None:
    try:
        if on_chunk is not None:
            while chunk := stream.read1(65536):  # type: ignore[attr-defined]
                on_chunk(name, chunk)
        else:
            for raw in iter(stream.readline, b""):
                if on_line is not None:
                    on_line(name, raw.decode("utf-8", "replace").rstrip("\r\n"))
    except (OSError, ValueError):
        pass
    finally:
        try:
            stream.close()
        except OSError:
            pass


# --------------------------------------------------------------------------------------
# The spawner thread (see the module docstring for why forks happen on one thread)

_requests: queue.Queue[tuple[Callable[[], subprocess.Popen[bytes]], Future[subprocess.Popen[bytes]]]] = (
    queue.Queue())
_spawner: threading.Thread | None = None
_spawner_lock = threading.Lock()
_live: set[ManagedProcess] = set()


def _spawner_loop() -> None:
    while True:
        make, fut = _requests.get()
        if not fut.set_running_or_notify_cancel():
            continue
        try:
            fut.set_result(make())
        except BaseException as exc:
            fut.set_exception(exc)


def _on_spawner(make: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    global _spawner
    with _spawner_lock:
        if _spawner is None or not _spawner.is_alive():
            _spawner = threading.Thread(target=_spawner_loop, name="process-spawner", daemon=True)
            _spawner.start()
    fut: Future[subprocess.Popen[bytes]] = Future()
    _requests.put((make, fut))
    return fut.result()


def spawn(argv: Sequence[str], cwd: str | Path, env: Mapping[str, str],
          on_line: LineHandler | None = None, *, on_exit: ExitHandler | None = None,
          on_chunk: ChunkHandler | None = None, stdin: bool = False,
          terminal: int | None = None) -> ManagedProcess:
    """Start `argv` in `cwd` with exactly `env` (nothing inherited: the simulator's own
    environment may hold credentials). `on_exit(returncode)` runs once the process has
    exited and its output has been read.

    `terminal`: the slave fd of a pseudo-terminal, which becomes the child's stdin, stdout,
    stderr and controlling terminal; the caller reads and writes the master side (no output
    handlers run) and closes its copy of the slave once this returns."""
    parent = os.getpid()
    argv = [str(a) for a in argv]
    if terminal is not None:
        streams: dict[str, int] = {"stdin": terminal, "stdout": terminal, "stderr": terminal}
    else:
        streams = {"stdin": subprocess.PIPE if stdin else subprocess.DEVNULL,
                   "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}

    def make() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            argv, cwd=str(cwd), env=dict(env), **streams,  # type: ignore[call-overload]
            start_new_session=True, preexec_fn=_make_preexec(parent, terminal is not None), close_fds=True,
        )

    proc = ManagedProcess(_on_spawner(make), argv)
    _live.add(proc)
    proc._start_io(on_line, on_chunk, on_exit)
    return proc


def live() -> list[ManagedProcess]:
    """Processes started by this module that have not exited yet."""
    return [p for p in list(_live) if p.alive]


def stop_all(timeout: float = 3.0) -> None:
    """Stop every child still running (the simulator's last act on shutdown)."""
    procs = live()
    for p in procs:
        p.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in procs:
        p.stop(max(0.1, deadline - time.monotonic()))
