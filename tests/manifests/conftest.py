"""Shared fixtures for the manifest generator tests: the shared facts and one generated
V0 + V-prime set (sharing one secrets file), built in-process once per session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from manifest_facts import CATALOG_FILE, UUID

from manifests.generate import build_all


@pytest.fixture(scope="session")
def catalog() -> dict[str, Any]:
    return yaml.safe_load(CATALOG_FILE.read_text())


@pytest.fixture(scope="session")
def secrets_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("secrets") / "secrets.yml"


@pytest.fixture(scope="session")
def v0(secrets_file: Path) -> dict[str, dict[str, Any]]:
    return build_all("v0", director_uuid=UUID, secrets_file=secrets_file)


@pytest.fixture(scope="session")
def v_prime(secrets_file: Path, v0: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return build_all("v_prime", director_uuid=UUID, secrets_file=secrets_file)

