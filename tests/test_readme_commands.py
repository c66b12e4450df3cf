"""The README's two set-up commands are what a user pastes into a fresh Debian machine and what
CI runs: keep them working there (a venv first, PEP 668) and keep CI running the same tests."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    ") and line.strip()]


def _pytest_invocations(command: str) -> list[list[str]]:
    parts = [shlex.split(p) for p in command.split("&&")]
    return [p[p.index("pytest") + 1:] for p in parts if "pytest" in p]


def test_the_first_command_makes_and_enters_a_venv_before_pip():
    """Issue 12: `pip install -e .` outside a venv fails on Debian (externally-managed-environment)."""
    first, _ = _setup_commands()
    steps = [s.strip() for s in first.split("&&")]
    assert steps[0].startswith("python3 -m venv ") and steps[1].startswith(". ") and "activate" in steps[1]
    assert steps.index(next(s for s in steps if s.startswith("pip install"))) > 1
    assert _pytest_invocations(first) == [["suites/upgrade_stable"]]


def test_ci_runs_the_readme_test_command():
    _, second = _setup_commands()
    ci = (REPO / ".ci" / "run").read_text()
    ci_runs = [shlex.split(m) for m in re.findall(r"^run_pytest (.+)$", ci, flags=re.M)]
    assert ci_runs and ci_runs == _pytest_invocations(second)
    assert "pip install -q -e '.[test]'" in ci and "pip install -e '.[test]'" in second
