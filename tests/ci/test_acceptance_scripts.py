"""The CATs and DATs task scripts, run as Concourse lays out their inputs, with stand-ins for
the built cf CLI and for the suites' own runners: the built CLI is the `cf` the suites find,
and DATs that need the Diego-SSH plugin are refused with the reason instead of failing in
their ssh package hours later."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATS = "diego-release/src/github.com/cloudfoundry-incubator/diego-acceptance-tests"
CATS = "cf-release/src/github.com/cloudfoundry/cf-acceptance-tests"
# what packages/acceptance-tests/packaging builds at each diego-release tag (the plugin line is
# diego-release@v0.1434.0; v0.1454.0 builds only the suites)
PACKAGING = {
    "v0.1434.0": "go install github.com/cloudfoundry-incubator/diego-ssh/cf-plugin\n"
                 "cd ${GOPATH}/src/github.com/cloudfoundry-incubator/diego-acceptance-tests\n",
    "v0.1454.0": "cd ${GOPATH}/src/github.com/cloudfoundry-incubator/diego-acceptance-tests\n",
}
RECORDER = """#!/bin/sh
{ echo "runner=$0"; echo "args=$*"; echo "config=$CONFIG"; echo "cf=$(command -v cf)"; cf --version; } > "$RECORD"
"""


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def task(tmp_path: Path) -> Path:
    (tmp_path / "upgrade-suite").symlink_to(REPO)
    _executable(tmp_path / "cf-cli/cf", '#!/bin/sh\necho "cf version 6.15.0+74b98e9-2016-01-13"\n')
    return tmp_path


def _run(task: Path, script: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(task), "NODES": "4", "RECORD": str(task / "record")}
    return subprocess.run(["bash", f"upgrade-suite/ci/scripts/{script}"], cwd=task, env=env,
                          capture_output=True, text=True, timeout=30)


def _diego_release(task: Path, tag: str) -> None:
    (task / "diego-release/.git").mkdir(parents=True)
    (task / "diego-release/.git/ref").write_text(tag + "\n")
    packaging = task / "diego-release/packages/acceptance-tests/packaging"
    packaging.parent.mkdir(parents=True)
    packaging.write_text(PACKAGING[tag])
    _executable(task / DATS / "bin/test", RECORDER)


def test_dats_run_with_the_built_cli_first_on_the_path(task: Path) -> None:
    _diego_release(task, "v0.1454.0")
    result = _run(task, "run-dats.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    record = (task / "record").read_text()
    assert f"cf={task}/cf-cli/cf" in record and "cf version 6.15.0+74b98e9" in record
    assert "args=-nodes=4" in record and f"config={task}/dats-config/integration_config.json" in record


def test_dats_that_drive_the_diego_ssh_plugin_are_refused_with_the_reason(task: Path) -> None:
    _diego_release(task, "v0.1434.0")
    result = _run(task, "run-dats.sh")
    assert result.returncode == 1
    assert not (task / "record").exists()  # the suite never started
    assert "diego-release v0.1434.0 drive the Diego-SSH CLI plugin" in result.stderr
    assert "before 6.13.0" in result.stderr and "cf version 6.15.0+74b98e9" in result.stderr


@pytest.mark.parametrize(("runners", "expected"), [
    (("test_default",), "test_default"),  # cf v220's CATs
    (("test_default", "diego_test_default"), "diego_test_default"),  # cf v231's: the Diego entry point
])
def test_cats_run_with_the_built_cli_first_on_the_path(task: Path, runners: tuple[str, ...], expected: str) -> None:
    for runner in runners:
        _executable(task / CATS / "bin" / runner, RECORDER)
    result = _run(task, "run-cats.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    record = (task / "record").read_text()
    assert record.splitlines()[0].endswith(f"/bin/{expected}") and f"cf={task}/cf-cli/cf" in record
    assert f"config={task}/cats-config/integration_config.json" in record


def test_acceptance_scripts_stop_when_the_cli_was_not_built(task: Path) -> None:
    os.unlink(task / "cf-cli/cf")
    _diego_release(task, "v0.1454.0")
    assert _run(task, "run-dats.sh").returncode != 0
    assert not (task / "record").exists()
