"""The `sftp` subsystem of diego 0.1454.0's in-container daemon, over the instance's files.

diego-ssh@2be354e started github.com/pkg/sftp's server on the session channel, read-write,
with the daemon's HOME as the start directory (handlers/session_channel_handler.go:289-328).
Here paramiko's SFTP protocol server does the wire part and this interface maps it onto the
file system: relative paths (and `.`) are taken from the instance's home, as a client that
starts in the container's home sees them; absolute paths are used as they are, like the
container's own file system (the simulator's commands run on the host just the same).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from paramiko import SFTPAttributes, SFTPHandle, SFTPServer, SFTPServerInterface
from paramiko.sftp import SFTP_OK


def _error(exc: OSError) -> int:
    return SFTPServer.convert_errno(exc.errno)


def _file_mode(flags: int) -> str:
    if flags & os.O_WRONLY:
        return "ab" if flags & os.O_APPEND else "wb"
    if flags & os.O_RDWR:
        return "a+b" if flags & os.O_APPEND else "r+b"
    return "rb"


class ContainerSftp(SFTPServerInterface):
    def __init__(self, server: Any, *args: Any, home: Path, **kwargs: Any) -> None:
        super().__init__(server, *args, **kwargs)
        self.home = Path(home)

    def _path(self, path: str) -> str:
        return os.path.normpath(os.path.join(self.home, path))

    def canonicalize(self, path: str) -> str:
        return self._path(path)

    def list_folder(self, path: str) -> list[SFTPAttributes] | int:
        folder = self._path(path)
        try:
            return [SFTPAttributes.from_stat(os.lstat(os.path.join(folder, name)), name)
                    for name in sorted(os.listdir(folder))]
        except OSError as exc:
            return _error(exc)

    def stat(self, path: str) -> SFTPAttributes | int:
        try:
            return SFTPAttributes.from_stat(os.stat(self._path(path)))
        except OSError as exc:
            return _error(exc)

    def lstat(self, path: str) -> SFTPAttributes | int:
        try:
            return SFTPAttributes.from_stat(os.lstat(self._path(path)))
        except OSError as exc:
            return _error(exc)

    def open(self, path: str, flags: int, attr: SFTPAttributes) -> SFTPHandle | int:
        real = self._path(path)
        mode = getattr(attr, "st_mode", None) or 0o666
        try:
            fd = os.open(real, flags | getattr(os, "O_BINARY", 0), mode & 0o7777)
        except OSError as exc:
            return _error(exc)
        try:
            handle_file = os.fdopen(fd, _file_mode(flags))
        except OSError as exc:
            os.close(fd)
            return _error(exc)
        handle = SFTPHandle(flags)
        handle.filename = real  # type: ignore[attr-defined]
        if not flags & os.O_WRONLY:
            handle.readfile = handle_file  # type: ignore[attr-defined]
        if flags & (os.O_WRONLY | os.O_RDWR):
            handle.writefile = handle_file  # type: ignore[attr-defined]
        return handle

    def remove(self, path: str) -> int:
        return self._do(os.remove, self._path(path))

    def rename(self, oldpath: str, newpath: str) -> int:
        return self._do(os.rename, self._path(oldpath), self._path(newpath))

    def mkdir(self, path: str, attr: SFTPAttributes) -> int:
        mode = getattr(attr, "st_mode", None) or 0o777
        return self._do(os.mkdir, self._path(path), mode & 0o7777)

    def rmdir(self, path: str) -> int:
        return self._do(os.rmdir, self._path(path))

    def chattr(self, path: str, attr: SFTPAttributes) -> int:
        try:
            SFTPServer.set_file_attr(self._path(path), attr)
        except OSError as exc:
            return _error(exc)
        return SFTP_OK

    def readlink(self, path: str) -> str | int:
        try:
            return os.readlink(self._path(path))
        except OSError as exc:
            return _error(exc)

    def symlink(self, target_path: str, path: str) -> int:
        return self._do(os.symlink, target_path, self._path(path))

    @staticmethod
    def _do(action: Any, *args: Any) -> int:
        try:
            action(*args)
        except OSError as exc:
            return _error(exc)
        return SFTP_OK
