"""Staging: app package (zip) -> droplet directory + start command.

Stands in for the stager + cc_uploader + a cell's staging task: unzip the package safely,
find the Procfile's `web:` command (no buildpacks here: the simulator runs what the Procfile
says), and keep the result under the state directory.
"""

from __future__ import annotations

import io
import shutil
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

from simulator.diego.models import Droplet, StagingError


def web_command(procfile: str) -> str | None:
    for line in procfile.splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() == "web" and command.strip():
            return command.strip()
    return None


def _extract(package_zip: bytes, dest: Path) -> int:
    try:
        archive = zipfile.ZipFile(io.BytesIO(package_zip))
    except zipfile.BadZipFile as exc:
        raise StagingError("StagingError", f"app package is not a zip file: {exc}") from exc
    total = 0
    root = dest.resolve()
    with archive:
        for info in archive.infolist():
            target = (dest / info.filename).resolve()
            if root != target and root not in target.parents:
                raise StagingError("StagingError", f"app package entry escapes the app: {info.filename}")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                target.chmod(mode | 0o600)
            total += info.file_size
    return total


def stage(app_guid: str, package_zip: bytes, droplets_dir: Path,
          log: Callable[[str], None] | None = None) -> Droplet:
    say = log or (lambda _line: None)
    guid = str(uuid.uuid4())
    dest = droplets_dir / guid
    dest.mkdir(parents=True)
    say("Creating container")
    say("Successfully created container")
    say("Downloading app package...")
    try:
        size = _extract(package_zip, dest)
        say(f"Downloaded app package ({size / 1024:.1f}K)")
        say("Staging...")
        procfile = dest / "Procfile"
        command = web_command(procfile.read_text(errors="replace")) if procfile.is_file() else None
        if command is None:
            say("None of the buildpacks detected a compatible application")
            say("Exit status 222")
            raise StagingError("NoAppDetectedError", "An app was not successfully detected by any "
                               "available buildpack (no Procfile with a web: command)")
    except StagingError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    say("Exit status 0")
    say("Staging complete")
    say("Uploading droplet...")
    say("Uploaded droplet")
    say("Destroying container")
    say("Successfully destroyed container")
    return Droplet(guid=guid, app_guid=app_guid, path=dest, command=command, size=size)
