"""Under `pytest -n 2 tests` (the README's command), a module's tests stay on one worker.

Several modules play one ordered session (tests/oracles: a cf or bosh CLI user's steps sharing
one target, org and app); spread over two workers by xdist's default `load` scheduling, the
second worker's first test finds none of the earlier steps done (`pytest -n 2
tests/oracles/test_cf_cli.py`: 17 failed). The root conftest chooses `--dist loadscope` unless
`--dist` is given.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

ORDERED = """
DONE = []

{tests}
"""
STEP = """
def test_step_{i:02d}():
    assert DONE == list(range({i})), f"steps done before step {i} in this process: {{DONE}}"
    DONE.append({i})
"""


def _run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """The module runs with the project's root conftest loaded as a plugin (`-p conftest`),
    from a directory of its own."""
    module = tmp_path / "test_ordered_session.py"
    module.write_text(ORDERED.format(tests="".join(STEP.format(i=i) for i in range(20))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "--rootdir",
                           str(tmp_path), "-p", "conftest", "-p", "no:cacheprovider", "-q", "-n", "2", *extra,
                           str(module)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_an_ordered_module_stays_on_one_worker(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "20 passed" in result.stdout


def test_without_the_projects_scheduling_it_would_not(tmp_path: Path) -> None:
    """What the conftest prevents: xdist's own default splits the module between the workers."""
    result = _run(tmp_path, "--dist", "load")
    assert result.returncode == 1 and "steps done before step" in result.stdout, result.stdout[-3000:]
