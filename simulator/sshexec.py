"""Run a command for an SSH session channel: its output to the channel, the channel's input
to it, then `exit-status` and close (what the sshd of a VM or a container does for `exec`).

Shared by the SSH servers of the simulator; the process is started with
`simulator.processes.spawn`, so it dies with the simulator.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import paramiko

from simulator import processes


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
    """Run `argv` to completion with the channel as its terminal-less stdio; the exit status sent."""

    def on_chunk(stream: str, data: bytes) -> None:
        try:
            (channel.sendall if stream == "OUT" else channel.sendall_stderr)(data)
        except (OSError, EOFError, paramiko.SSHException):
            pass

    proc = processes.spawn(argv, cwd, env, on_chunk=on_chunk, stdin=True)
    threading.Thread(target=_pump_stdin, args=(channel, proc), daemon=True).start()
    code = proc.wait()
    status = code if code is not None and code >= 0 else 128 + abs(code or 9)
    try:
        channel.send_exit_status(status)
        channel.shutdown_write()
    except (OSError, EOFError, paramiko.SSHException):
        pass
    channel.close()
    return status


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
