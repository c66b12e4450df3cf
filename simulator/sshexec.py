"""Run a command for an SSH session channel: its output to the channel, the channel's input
to it, then `exit-status` (or `exit-signal` when a signal killed it) and close: what the
stemcell's OpenSSH does for `exec` (session.c `session_exit_message`). The channel requests
paramiko has no method for are written here for every SSH server of the simulator (the VMs'
sshd, the ssh proxy's in-container daemon).

The process is started with `simulator.processes.spawn`, so it dies with the simulator.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import paramiko
from paramiko.common import cMSG_CHANNEL_REQUEST

from simulator import processes


def send_channel_request(channel: paramiko.Channel, kind: str, *fields: str | bool) -> None:
    """A CHANNEL_REQUEST without want_reply whose fields are strings and booleans, for the
    kinds paramiko has no method for (`exit-signal` here, `signal` in tests)."""
    m = paramiko.Message()
    m.add_byte(cMSG_CHANNEL_REQUEST)
    m.add_int(channel.remote_chanid)
    m.add_string(kind)
    m.add_boolean(False)
    for field in fields:
        if isinstance(field, bool):
            m.add_boolean(field)
        else:
            m.add_string(field)
    channel.transport._send_user_message(m)


def send_exit_signal(channel: paramiko.Channel, name: str, core_dumped: bool = False) -> None:
    """RFC 4254 6.10 `exit-signal` (paramiko has `send_exit_status` only): how the era's
    daemons reported a command that a signal killed (no exit-status is sent then)."""
    send_channel_request(channel, "exit-signal", name, core_dumped, "", "")


class ExecRequests:
    """The session-channel requests an sshd answers for `exec` and `shell` (a paramiko
    `ServerInterface` mixin): the command is kept in `command` (None for a shell) and
    `requested` is set. A pty is granted but none allocated; env requests are accepted."""

    def __init__(self) -> None:
        self.command: bytes | None = None
        self.requested = threading.Event()

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.command = command
        self.requested.set()
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        self.requested.set()
        return True

    def check_channel_pty_request(self, *args: Any) -> bool:
        return True

    def check_channel_env_request(self, channel: paramiko.Channel, name: bytes, value: bytes) -> bool:
        return True


def exec_on_channel(channel: paramiko.Channel, argv: Sequence[str], cwd: str | Path, env: Mapping[str, str]) -> int:
    """Run `argv` to completion with the channel as its terminal-less stdio, then report how it
    ended; returns the shell's view of it (the exit code, or 128 + N for signal N)."""

    def on_chunk(stream: str, data: bytes) -> None:
        try:
            (channel.sendall if stream == "OUT" else channel.sendall_stderr)(data)
        except (OSError, EOFError, paramiko.SSHException):
            pass

    proc = processes.spawn(argv, cwd, env, on_chunk=on_chunk, stdin=True)
    threading.Thread(target=_pump_stdin, args=(channel, proc), daemon=True).start()
    code = proc.wait() or 0
    try:
        if code >= 0:
            channel.send_exit_status(code)
        else:
            send_exit_signal(channel, _signal_name(-code))
        channel.shutdown_write()
    except (OSError, EOFError, paramiko.SSHException):
        pass
    channel.close()
    return code if code >= 0 else 128 - code


def _signal_name(number: int) -> str:
    """A signal's name as RFC 4254 6.10 and OpenSSH send it: without "SIG"."""
    try:
        return signal.Signals(number).name.removeprefix("SIG")
    except ValueError:
        return str(number)


def _pump_stdin(channel: paramiko.Channel, proc: processes.ManagedProcess) -> None:
    try:
        while proc.alive:
            data = channel.recv(32768)
            if not data:
                break
            proc.write_stdin(data)
    except (OSError, EOFError, paramiko.SSHException, ValueError):
        pass
    proc.close_stdin()
