"""All-or-nothing output directories.

Manifests are written into a temporary directory beside the target and renamed into place
only when every file is complete, so a failed run never leaves a half-written set that a
later step could deploy.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path


def write_atomically(out: Path, files: dict[str, str]) -> dict[str, Path]:
    """Write `files` (file name -> text) as the directory `out`, replacing it whole."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    old: Path | None = None
    try:
        for name, text in files.items():
            (tmp / name).write_text(text)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            old.rmdir()
            out.rename(old)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not out.exists():
            old.rename(out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return {name: out / name for name in files}
