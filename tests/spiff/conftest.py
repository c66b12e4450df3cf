"""Fixtures for the spiff engine tests: where the shared conformance data lives,
and small helpers to merge inline YAML."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    assert SHARED.is_dir(), f"shared data not found at {SHARED}"
    return SHARED


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def spiff_merge() -> Callable[..., object]:
    """merge(template_yaml, *stub_yaml) -> merged data, parsing inline YAML texts."""
    from manifests.spiff import load_yaml_text, merge

    def run(template: str, *stubs: str) -> object:
        docs = [("template.yml", load_yaml_text(template, "template.yml"))]
        for i, s in enumerate(stubs, 1):
            docs.append((f"stub{i}.yml", load_yaml_text(s, f"stub{i}.yml", role="stub")))
        return merge(docs)

    return run


@pytest.fixture
def spiff_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """cli(files: dict[name, text], *args) runs `python -m manifests.spiff` in tmp_path."""

    def run(files: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        for name, text in files.items():
            (tmp_path / name).write_text(text)
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        return subprocess.run([sys.executable, "-m", "manifests.spiff", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)

    return run
