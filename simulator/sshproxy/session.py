"""One `session` channel as the era's in-container daemon (diego-ssh `cmd/sshd`) served it.

The real proxy relays every channel request to that daemon and relays its replies back
(diego-ssh@fc5f549:proxy/proxy.go:117-186), so what a client sees of a session is the
daemon's behaviour (diego-ssh@fc5f549:handlers/session_channel_handler.go):

* requests `env`, `signal`, `pty-req`, `window-change`, `exec`, `shell` (and at 0.1454.0
  `subsystem`, true for `sftp` only); anything else is answered false;
* `exec CMD` runs `bash -c CMD`, `shell` runs `bash` (no login shell), in the container's
  home with the environment built by `command_env`; a second `exec`/`shell` on one channel
  is refused;
* without a pty, stdout and stderr are separate streams and stdin is streamed to the command
  until the client's EOF; with `pty-req`, the command gets a pseudo-terminal (its controlling
  terminal, sized by the request and by `window-change`) for stdin, stdout and stderr;
* at the end: `exit-status N`, or `exit-signal NAME` when a signal killed the command (no
  exit-status then), or `exit-status 255` when it could not be started; then EOF and close.
  Through the Go proxy the client sees the command's output, then the exit message, then EOF
  (the proxy's copy of the daemon's stream ending) and close: the order used here.

Not reproduced: the daemon's built-in `scp` (an `exec scp ...` runs the host's `scp`, if
any), the terminal modes of `pty-req`, the daemon's 15-second keepalive requests on pty
sessions, and its wait for background processes that still hold a pty session's terminal
(here the session ends once the command has exited and its terminal output is read).
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import termios
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import paramiko

from simulator import processes
from simulator.sshexec import send_exit_signal
from simulator.sshproxy.era import SshEra
from simulator.sshproxy.sftp import ContainerSftp
from simulator.sshproxy.transport import After

# diego-ssh@fc5f549:handlers/shell_locator.go: the first of /bin/bash, /usr/local/bin/bash, /bin/sh
SHELL = "/bin/bash"
# diego-ssh@fc5f549:signals/signals.go: the signals a `signal` request can send and an
# `exit-signal` can name; any other name is signal 0 (nothing happens).
SSH_SIGNALS = {name: signal.Signals[f"SIG{name}"] for name in (
    "ABRT", "ALRM", "FPE", "HUP", "ILL", "INT", "KILL", "PIPE", "QUIT", "SEGV", "TERM", "USR1", "USR2")}
OUTPUT_DRAIN = 5.0  # seconds to wait for output still held open by a command's background children
PTY_QUIET = 0.1  # after the command has exited, its terminal output is complete once this long quiet


class SessionRefused(Exception):
    """The container cannot run the session (instance gone, fault injected): shown on stderr."""


@dataclass(frozen=True)
class Container:
    """Where an app instance's sessions run, and where its ports listen in the simulator."""

    home: Path  # the daemon's working directory and HOME
    env: Mapping[str, str]  # the daemon's environment: the instance's (`-inheritDaemonEnv`)
    address: str  # loopback address the instance binds (its container's "localhost")
    ports: frozenset[int]  # the container's ports (CF_INSTANCE_PORTS "internal")


def command_env(daemon_env: Mapping[str, str], requested: Mapping[str, str]) -> dict[str, str]:
    """The command's environment, as `session.environment()` composed it: `PATH=/bin:/usr/bin`
    and `LANG=en_US.UTF8`, the daemon's environment without its PATH (cmd/sshd/main.go
    getDaemonEnvironment), the client's `env` requests, and HOME/USER always the daemon's."""
    env = {"PATH": "/bin:/usr/bin", "LANG": "en_US.UTF8"}
    env.update({k: v for k, v in daemon_env.items() if k != "PATH"})
    env.update({k: v for k, v in requested.items() if k not in ("HOME", "USER")})
    env["HOME"], env["USER"] = daemon_env.get("HOME", ""), daemon_env.get("USER", "")
    return env


@dataclass
class PtyRequest:
    term: str
    columns: int
    rows: int


def _set_window(fd: int, columns: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def _text(m: paramiko.Message) -> str:
    """A string field as text; bytes that are not UTF-8 survive (as the Go daemon passes bytes)."""
    return m.get_string().decode("utf-8", "surrogateescape")


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except (OSError, EOFError, paramiko.SSHException):
        pass


class DaemonSession:
    """Requests of one session channel; `container()` is asked when a command starts."""

    def __init__(self, era: SshEra, channel: paramiko.Channel, container: Callable[[], Container]) -> None:
        self.era = era
        self.channel = channel
        self.container = container
        self.requested_env: dict[str, str] = {}
        self.pty: PtyRequest | None = None
        self.process: processes.ManagedProcess | None = None
        self.master: int | None = None
        self.slave: int | None = None  # kept open until the end (see _pty_to_channel)
        self.started = False
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- requests

    def request(self, kind: str, m: paramiko.Message) -> tuple[bool, After]:
        if kind not in self.era.session_requests:
            return False, None
        if kind == "env":
            name, value = _text(m), _text(m)
            with self._lock:
                self.requested_env[name] = value
            return True, None
        if kind == "signal":
            self._signal(_text(m))
            return True, None
        if kind == "pty-req":
            term, columns, rows = _text(m), m.get_int(), m.get_int()
            with self._lock:
                self.pty = PtyRequest(term, columns, rows)
                self.requested_env["TERM"] = term
            return True, None
        if kind == "window-change":
            self._resize(m.get_int(), m.get_int())
            return True, None
        if kind == "subsystem":
            name = _text(m)
            return (True, self._sftp) if name in self.era.subsystems else (False, None)
        if kind in ("exec", "shell"):
            argv = [SHELL, "-c", _text(m)] if kind == "exec" else [SHELL]
            with self._lock:
                if self.started:  # "command already started"
                    return False, None
                self.started = True
            return True, lambda: self._start(argv)
        return False, None

    def _signal(self, name: str) -> None:
        with self._lock:
            proc = self.process
        if proc is not None and proc.alive:
            try:
                os.kill(proc.pid, SSH_SIGNALS.get(name, 0))  # the process, not its group (cmd.Process.Signal)
            except ProcessLookupError:
                pass

    def _resize(self, columns: int, rows: int) -> None:
        with self._lock:
            if self.pty is not None:
                self.pty.columns, self.pty.rows = columns, rows
            if self.master is not None:
                _quietly(lambda: _set_window(self.master, columns, rows))  # type: ignore[arg-type]

    # ---------------------------------------------------------------- running a command

    def _start(self, argv: list[str]) -> None:
        try:
            container = self.container()
        except SessionRefused as refused:
            self._refuse(str(refused))
            return
        env = command_env(container.env, self.requested_env)
        try:
            if self.pty is not None:
                self._start_with_pty(argv, container, env)
            else:
                self._start_piped(argv, container, env)
        except OSError:
            self._finish(None)

    def _start_piped(self, argv: list[str], container: Container, env: dict[str, str]) -> None:
        def relay(stream: str, data: bytes) -> None:
            send = self.channel.sendall if stream == "OUT" else self.channel.sendall_stderr
            _quietly(lambda: send(data))

        proc = processes.spawn(argv, container.home, env, on_chunk=relay, stdin=True)
        with self._lock:
            self.process = proc
        threading.Thread(target=self._stdin_to_pipe, args=(proc,), name="ssh-session-stdin", daemon=True).start()
        threading.Thread(target=lambda: self._finish(proc.wait(), None), name="ssh-session-wait",
                         daemon=True).start()

    def _start_with_pty(self, argv: list[str], container: Container, env: dict[str, str]) -> None:
        assert self.pty is not None
        master, slave = os.openpty()
        try:
            _set_window(master, self.pty.columns, self.pty.rows)
            proc = processes.spawn(argv, container.home, env, terminal=slave)
        except OSError:
            os.close(master)
            os.close(slave)
            raise
        with self._lock:
            self.process, self.master, self.slave = proc, master, slave
            _quietly(lambda: _set_window(master, self.pty.columns, self.pty.rows))  # a resize that came meanwhile
        exited = threading.Event()
        reader = threading.Thread(target=self._pty_to_channel, args=(master, exited), name="ssh-session-pty",
                                  daemon=True)
        reader.start()
        threading.Thread(target=self._stdin_to_pty, args=(master,), name="ssh-session-stdin", daemon=True).start()

        def wait() -> None:
            code = proc.wait()
            exited.set()
            self._finish(code, reader)

        threading.Thread(target=wait, name="ssh-session-wait", daemon=True).start()

    def _stdin_to_pipe(self, proc: processes.ManagedProcess) -> None:
        try:
            while data := self.channel.recv(32768):
                proc.write_stdin(data)
        except (OSError, EOFError, paramiko.SSHException, ValueError):
            pass
        proc.close_stdin()

    def _stdin_to_pty(self, master: int) -> None:
        try:
            while data := self.channel.recv(32768):
                view = memoryview(data)
                while view:
                    view = view[os.write(master, view):]
        except (OSError, EOFError, paramiko.SSHException):
            pass

    def _pty_to_channel(self, master: int, exited: threading.Event) -> None:
        """The terminal's output until the command has exited and the terminal stays quiet for
        PTY_QUIET seconds. The daemon keeps its own copy of the slave side open meanwhile: a
        master read after the last slave close may report EIO before output the kernel has not
        yet moved to the master is read, losing a command's last lines."""
        try:
            while True:
                if select.select([master], [], [], PTY_QUIET)[0]:
                    data = os.read(master, 65536)
                    if not data:
                        break
                    self.channel.sendall(data)
                elif exited.is_set():
                    break
        except (OSError, ValueError, EOFError, paramiko.SSHException):
            pass
        _quietly(self.channel.shutdown_write)

    def _finish(self, returncode: int | None, reader: threading.Thread | None = None) -> None:
        if reader is not None:
            reader.join(OUTPUT_DRAIN)
        if returncode is None:
            _quietly(lambda: self.channel.send_exit_status(255))
        elif returncode >= 0:
            _quietly(lambda: self.channel.send_exit_status(returncode))
        else:
            name = next((n for n, s in SSH_SIGNALS.items() if s == -returncode), "")
            _quietly(lambda: send_exit_signal(self.channel, name))
        self.close()

    def _refuse(self, message: str) -> None:
        _quietly(lambda: self.channel.sendall_stderr(message.encode()))
        _quietly(lambda: self.channel.send_exit_status(1))
        self.close()

    def _sftp(self) -> None:
        try:
            container = self.container()
        except SessionRefused:
            self.close()
            return
        # pkg/sftp served the container's file system with the daemon's HOME as the start
        # directory (diego-ssh@2be354e:handlers/session_channel_handler.go:321-328); when it ends
        # the channel is closed without an exit message.
        paramiko.SFTPServer(self.channel, "sftp", None, ContainerSftp, home=container.home).start()

    # ---------------------------------------------------------------- ending

    def close(self) -> None:
        """EOF and close the channel (the end of a command or of the connection)."""
        _quietly(self.channel.shutdown_write)
        _quietly(self.channel.close)
        with self._lock:
            fds = [fd for fd in (self.master, self.slave) if fd is not None]
            self.master = self.slave = None
        for fd in fds:
            _quietly(lambda fd=fd: os.close(fd))

    def hang_up(self) -> None:
        """The client's connection is gone: SIGHUP the command's process group, then stop it."""
        with self._lock:
            proc = self.process
        if proc is not None and proc.alive:
            proc.signal_group(signal.SIGHUP)
            threading.Thread(target=proc.stop, args=(2.0,), name="ssh-session-hangup", daemon=True).start()
