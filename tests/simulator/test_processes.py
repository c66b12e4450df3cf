"""simulator/processes.py: output lines, exit codes, group stop, and no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from simulator import processes

ENV = {"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); look at its state
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_dead(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_lines_and_exit_code(tmp_path: Path) -> None:
    lines: list[tuple[str, str]] = []
    codes: list[int] = []
    done = threading.Event()
    proc = processes.spawn(["/bin/bash", "-c", "echo one; echo two >&2; echo three; pwd; exit 3"],
                           tmp_path, ENV, lambda s, t: lines.append((s, t)),
                           on_exit=lambda c: (codes.append(c), done.set()))
    assert done.wait(5)
    assert codes == [3]
    assert proc.returncode == 3
    assert [t for s, t in lines if s == "OUT"] == ["one", "three", str(tmp_path)]
    assert [t for s, t in lines if s == "ERR"] == ["two"]


def test_environment_is_exactly_what_was_given(tmp_path: Path) -> None:
    lines: list[str] = []
    proc = processes.spawn(["/usr/bin/env"], tmp_path, {"ONLY": "this"}, lambda s, t: lines.append(t))
    proc.wait(5)
    assert lines == ["ONLY=this"]


def test_stop_terminates_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild"
    script = f"sleep 60 & echo $! > {pidfile}; trap '' TERM; while true; do sleep 0.1; done"
    proc = processes.spawn(["/bin/bash", "-c", script], tmp_path, ENV)
    deadline = time.monotonic() + 5
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    grandchild = int(pidfile.read_text())
    code = proc.stop(timeout=0.3)  # the leader ignores TERM: KILL follows
    assert code == -signal.SIGKILL
    assert _wait_dead(grandchild)
    assert proc not in processes.live()


def test_child_survives_the_thread_that_spawned_it(tmp_path: Path) -> None:
    """PDEATHSIG fires when the forking *thread* exits; spawn must not depend on the caller."""
    holder: list[processes.ManagedProcess] = []
    t = threading.Thread(target=lambda: holder.append(
        processes.spawn(["/bin/sleep", "30"], tmp_path, ENV)))
    t.start()
    t.join()
    time.sleep(0.3)
    try:
        assert holder[0].alive
    finally:
        holder[0].stop(1)


def test_children_die_with_a_killed_parent(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    parent_code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from simulator import processes
        p = processes.spawn(["/bin/sleep", "60"], "/", {{"PATH": "/bin"}})
        open({str(pidfile)!r}, "w").write(str(p.pid))
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    try:
        deadline = time.monotonic() + 10
        while not pidfile.exists() or not pidfile.read_text():
            assert time.monotonic() < deadline, "parent never spawned its child"
            time.sleep(0.05)
        child = int(pidfile.read_text())
        assert _alive(child)
        parent.kill()
        parent.wait(5)
        assert _wait_dead(child), "child outlived its SIGKILLed parent"
    finally:
        parent.kill()


def test_stop_all(tmp_path: Path) -> None:
    procs = [processes.spawn(["/bin/sleep", "30"], tmp_path, ENV) for _ in range(3)]
    processes.stop_all(timeout=1)
    assert all(not p.alive for p in procs)
    assert not any(p in processes.live() for p in procs)
