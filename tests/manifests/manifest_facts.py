"""Helpers and paths for the manifest tests (shared facts live in ../shared, never copied)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[3] / "shared"
CATALOG_FILE = SHARED / "docs" / "release-catalog.yml"
RELEASES_DIR = SHARED / "conformance" / "releases"
UUID = "11111111-2222-3333-4444-555555555555"


def job(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [j for j in manifest["jobs"] if j["name"] == name]
    assert len(matches) == 1, f"{manifest['name']}: {len(matches)} jobs named {name}"
    return matches[0]


def templates(manifest: dict[str, Any], name: str) -> list[str]:
    return [f"{t['name']}:{t['release']}" for t in job(manifest, name)["templates"]]


def running(manifest: dict[str, Any]) -> dict[str, int]:
    return {j["name"]: j["instances"] for j in manifest["jobs"] if j["instances"]}
