"""What the run says on the terminal and how it ends (issue 12): BOSH events by stage by
default, all with -v, failures only with -q; one line per test while the run narrates,
nothing printed inside pytest's progress line, cleanup lines under the summary; config
warnings and the effective timeouts at the start; a config error is one clean message (exit
4) and a report saying so, with nothing stale left beside it; xdist refused for every suite
(and allowed for tests/); a later step selected alone is refused before any BOSH operation."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from harness import REPO, run_suite

from fixtures.run import RunState

SUITE = "suites/upgrade_stable"
MODULE = f"{SUITE}/test_upgrade_from_stable.py"


def _events() -> list[dict]:
    out = []
    for state in ("started", "in_progress", "finished"):
        for tags in (["cell_z1"], ["cell_z2"]):  # two instances update at once: their events interleave
            out.append({"stage": "Updating instance", "tags": tags, "task": f"{tags[0]}/0", "index": 1, "total": 1,
                        "state": state})
    out.append({"time": 1, "error": {"code": 100, "message": "boom"}})
    return out


@pytest.mark.parametrize("verbose,lines", [(0, 3), (1, 7), (-1, 1)])
def test_bosh_events_by_stage_by_default_all_with_v_failures_only_with_q(verbose, lines):
    run = RunState(SimpleNamespace(option=SimpleNamespace(verbose=verbose)))  # type: ignore[arg-type]
    said: list[tuple[str, bool]] = []
    run.say = lambda text, important=False: said.append((text, important))  # type: ignore[method-assign]
    for event in _events():
        run.on_event(event)
    assert len(said) == lines, said
    assert said[-1] == ("    bosh | Error 100: boom", True)  # a failure is always shown, even with -q
    run.on_task_done(SimpleNamespace(id=1))  # the next task's stages are shown again
    said.clear()
    run.on_event(_events()[0])
    assert len(said) == (0 if verbose < 0 else 1)


NARRATING = '''
pytest_plugins = ["fixtures.options", "fixtures.run", "fixtures.chain"]
import pytest

@pytest.fixture(scope="session")
def platform(run_state):
    run_state.artifacts_dir()
    run_state.say("platform: a fake one")
    return object()
'''

STEPS = '''
import pytest

class TestUpgradeD1:
    """upgrade D1: upgrade D1; the smoke app lands on either cell at V0."""

    def test_operations(self, platform, run_state, step_recorder):
        with step_recorder.step("upgrade D1", kind="diego"):
            run_state.on_event({"stage": "Updating job", "tags": ["db"], "task": "db/0", "index": 1, "total": 1,
                                "state": "started"})
            run_state.alert("    A0 routable | failing since 12:00:00 (unknown_route)")

    def test_checks(self, platform, run_state):
        run_state.say("==> [setup] smoke test after upgrade D1")
        run_state.alert("    A0 routable | back after about 0.20s")  # (-q: after a dot on the line)

    def test_skipped(self, platform):
        pytest.skip("not today")

    def test_failing(self, platform, run_state):
        run_state.note("deleted the test org DUSTPY-x-ORG")
        pytest.fail("A0 lost its route during 'upgrade D1': 1 outage window(s)", pytrace=False)
'''


@pytest.mark.parametrize("quiet", [False, True])
def test_the_narrating_run_never_breaks_pytests_progress(pytester: pytest.Pytester, tmp_path, quiet):
    pytester.makeconftest(NARRATING)
    pytester.makepyfile(test_narrated_inner_steps=STEPS)
    result = pytester.runpytest(f"--artifacts={tmp_path / 'a'}", "-p", "no:cacheprovider", *(["-q"] if quiet else []))
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    lines = result.outlines
    summary = next(i for i, ln in enumerate(lines) if "run summary" in ln)
    body = lines[:summary]
    # nothing of the run's own inside a progress line: a line with a progress figure holds nothing else
    for line in body:
        if re.search(r"\[\s*\d+%\]", line):
            assert not re.search(r"==>|<==|bosh \||A0 routable|platform:|deleted the test org", line), line
    assert "deleted the test org DUSTPY-x-ORG" in lines[summary:]  # cleanup goes under the summary
    assert "    A0 routable | failing since 12:00:00 (unknown_route)" in body  # outages shown even with -q
    if quiet:  # pytest's dots; only what matters from the run, never on the dots' line
        assert not [ln for ln in body if "==>" in ln or "bosh |" in ln]
        assert not [ln for ln in body if re.match(r"^[.sFE]+\s*\S", ln) and not re.search(r"\[\s*\d+%\]$", ln)]
        assert sum(ln.startswith(".") or ln.startswith("s") or ln.startswith("F") for ln in body) >= 1
        return
    assert not [ln for ln in body if ln.startswith("test_narrated_inner_steps.py")]  # no file name per block
    words = [ln.split()[:2] for ln in body if re.match(r"  (PASSED|FAILED|SKIPPED)\s", ln)]
    assert words == [["PASSED", "test_operations"], ["PASSED", "test_checks"], ["SKIPPED", "test_skipped"],
                     ["FAILED", "test_failing"]]
    header = next(i for i, ln in enumerate(body) if ln.startswith("TestUpgradeD1 - upgrade D1: upgrade D1; the"))
    assert body[header - 1] == "" and header < body.index("==> [diego] upgrade D1")
    failing = next(i for i, ln in enumerate(body) if ln.startswith("  FAILED  test_failing"))
    assert body[failing].rstrip().endswith("[100%]")
    assert body[failing + 1] == "          A0 lost its route during 'upgrade D1': 1 outage window(s)"
    assert "  SKIPPED test_skipped (not today)" in "\n".join(body)
    assert not [ln for ln in lines if ln.strip() == "[100%]"]  # no progress figure alone on a line


LONG_STEP = '''
import pytest

class TestUpgradeD3:
    """upgrade D3: upgrade D3 then stop D4; the smoke app lands on D3 only at V-prime, and this class line goes on past any terminal's width END-OF-HEADER."""

    def test_a0_routable(self, platform):
        pytest.fail("A0 lost its route during 'upgrade D3' (BOSH tasks 11, 12): " + "x " * 80 + "END-OF-MESSAGE",
                    pytrace=False)
'''


def test_a_long_step_header_and_failure_line_are_never_cut(pytester: pytest.Pytester, tmp_path):
    """The transcript of a failing run cut the step's header (`... is uploade…`) and the failure's
    first line at the terminal's width: the part cut off named what broke. A log keeps them
    whole; a terminal gets them wrapped and indented."""
    pytester.makeconftest(NARRATING)
    pytester.makepyfile(test_long_inner_step=LONG_STEP)
    result = pytester.runpytest(f"--artifacts={tmp_path / 'a'}", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    out = result.outlines
    assert any(ln.startswith("TestUpgradeD3 - upgrade D3:") and ln.endswith("END-OF-HEADER.") for ln in out)
    assert any(ln.startswith("          A0 lost its route") and ln.endswith("END-OF-MESSAGE") for ln in out)
    assert not [ln for ln in out if "…" in ln]

    from fixtures.terminal import for_terminal

    terminal = SimpleNamespace(isatty=True)
    header = next(ln for ln in out if ln.startswith("TestUpgradeD3 - upgrade D3:"))
    wrapped = for_terminal(terminal, header, 60)
    assert len(wrapped) > 1 and all(len(ln) <= 60 for ln in wrapped)
    assert all(ln.startswith("    ") for ln in wrapped[1:])  # continuation lines indented under it
    assert " ".join(ln.strip() for ln in wrapped) == header
    assert for_terminal(SimpleNamespace(isatty=False), header, 60) == [header]


SKIP_WITH_SECRET = '''
import pytest
from helpers.redaction import REDACTOR

class TestUpgradeD1:
    """upgrade D1: upgrade D1."""

    def test_skipped(self, platform):
        REDACTOR.register("skip-secret-0f3a9c7e5b1d")
        pytest.skip("cannot log in as admin with skip-secret-0f3a9c7e5b1d")
'''


def test_a_skip_reason_on_the_narrated_line_is_redacted(pytester: pytest.Pytester, tmp_path):
    pytester.makeconftest(NARRATING)
    pytester.makepyfile(test_skip_secret=SKIP_WITH_SECRET)
    result = pytester.runpytest(f"--artifacts={tmp_path / 'a'}", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    line = next(ln for ln in result.outlines if "test_skipped" in ln and "SKIPPED" in ln)
    assert "(cannot log in as admin with [REDACTED])" in line and "skip-secret" not in result.stdout.str()


def test_the_run_ends_with_its_last_test_not_with_the_session(pytester: pytest.Pytester, tmp_path):
    """In `pytest suites tests`, the run's measurements must not go on probing (and its report
    wait) while the project's own tests run after it."""
    report = tmp_path / "a" / "report.json"
    pytester.makeconftest(NARRATING)
    pytester.makepyfile(test_a_narrated_run="def test_x(platform):\n    pass\n",
                        test_b_later_tests=f"def test_y():\n    import pathlib\n"
                                           f"    assert pathlib.Path({str(report)!r}).is_file()\n")
    result = pytester.runpytest(f"--artifacts={tmp_path / 'a'}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


CONFIG = {"bosh": {"url": "https://192.168.50.4:25555", "username": "admin", "password": "admin"},
          "cf": {"api": "https://api.bosh-lite.com", "admin_user": "admin", "admin_password": "admin",
                 "admin_pasword": "admin"}}


def _pytest(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_a_config_error_is_one_clean_message_exit_4_and_a_report_saying_so(tmp_path):
    """The issue's case exactly: BOSH-Lite's admin/admin and a misspelt key."""
    config = tmp_path / "my-bosh-lite.yml"
    config.write_text(yaml.safe_dump(CONFIG))
    art = tmp_path / "art"
    (art / "tasks").mkdir(parents=True)
    (art / "report.json").write_text(json.dumps({"outcome": "passed"}))  # a previous run's
    (art / "tasks" / "task-9-cf-warden.log").write_text("# {}\n")
    (art / "manifests").mkdir()
    (art / "manifests" / "secrets.yml").write_text("admin_password: x\n")  # an older suite's, never kept
    proc = _pytest(SUITE, "--config", str(config), "--artifacts", str(art))
    assert proc.returncode == 4
    assert proc.stdout == ""  # no session header, no "collected 57 items", no "no tests ran"
    assert proc.stderr == (f"ERROR: invalid config {config}: 1 problem\n"
                           "  - cf.admin_pasword: unknown key (did you mean 'admin_password'?)\n\n")
    report = json.loads((art / "report.json").read_text())
    assert report["outcome"] == "config error" and report["exit_code"] == 4
    assert "cf.admin_pasword: unknown key (did you mean 'admin_password'?)" in report["reason"]
    assert sorted(p.name for p in art.rglob("*")) == ["report.json"]  # nothing stale survives


def test_only_what_a_run_wrote_is_removed_from_the_artifacts_directory(tmp_path):
    """`--artifacts .` in the checkout: the project's own manifests/ (and a user's tasks/
    notes) must survive; a previous run's report, task logs and manifest copies must not."""
    from fixtures.run import remove_stale

    ours = {"report.json": "{}", "run-state.json": "{}", "tasks/task-7-cf.log": "# {}\n",
            "manifests/v0/cf.yml": "# Redacted copy of the V0 manifest of CF: ...\nname: cf\n",
            "manifests/v_prime/cell2.yml": "name: cell2\n", "manifests/secrets.yml": "admin_password: x\n"}
    theirs = {"manifests/redis/dev1.yml": "name: redis\n", "manifests/v0/mine.yml": "name: mine\n",
              "manifests/sets.py": "x = 1\n", "tasks/notes.txt": "keep\n"}
    for rel, text in {**ours, **theirs}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    remove_stale(tmp_path)
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == sorted(theirs)
    remove_stale(tmp_path / "empty")  # nothing there: nothing to do
    (tmp_path / "b" / "manifests" / "v0").mkdir(parents=True)
    (tmp_path / "b" / "manifests" / "v0" / "cf.yml").write_text(ours["manifests/v0/cf.yml"])
    remove_stale(tmp_path / "b")
    assert list((tmp_path / "b").iterdir()) == []  # the directories it emptied go too


def test_suites_refuse_xdist_and_tests_may_use_it(tmp_path):
    for args in (["-n", "2", SUITE], ["-n", "2", "suites/smoke"], ["-n", "2", "suites/redis_promotion"],
                 ["-n", "2"], ["-n", "2", "."]):
        proc = _pytest(*args, f"--artifacts={tmp_path / 'art'}")
        assert proc.returncode == 4, (args, proc.stdout[-2000:], proc.stderr[-2000:])
        assert "cannot run on several workers; run them without -n (the project's own tests may use it: " \
               "pytest -n 2 tests)" in proc.stderr
        assert proc.stdout == ""
    proc = _pytest("-n", "2", "tests/helpers/test_story.py", "tests/helpers/test_redaction.py")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "2 workers" in proc.stdout and re.search(r"\d+ passed", proc.stdout)


def test_pytesters_own_options_are_not_in_the_users_help():
    for args in (["--help"], [SUITE, "--help"]):
        out = _pytest(*args).stdout
        assert "--config" in out and "--resume" in out
        assert "--lsof" not in out and "--runpytest" not in out


@pytest.mark.slow
def test_warnings_and_timeouts_printed_and_a_later_step_alone_refused(sim_factory, tmp_path):
    _, config = sim_factory(poller={"interval": 0.1})
    run = run_suite([f"{MODULE}::TestUpgradeD3"], config=config, artifacts=tmp_path / "art", timeout=240)
    assert "config warning: poller: read as observers.a0_routable" in run.output
    assert "timeouts: api_ready 60s, app_start 30s" in run.output
    outcome, message = run.outcome("test_upgrade_d3_then_stop_d4")
    assert outcome == "failed"
    assert "step 'upgrade D3' cannot start: 'deploy V0', 'upgrade D1' did not run" in message
    assert run.report["tasks"] == []  # nothing was deployed, stopped or started
    # what the issue saw next: no misleading measurement failure ("the A0 poller is not running (deploy V0
    # failed)"): the step's other tests are skipped, naming the refused operation
    later = [r for r in run.report["results"] if "TestUpgradeD3" in r["nodeid"] and r["outcome"] != "failed"]
    assert later and all(r["outcome"] == "skipped" for r in later)
    assert {r["message"] for r in later} == {"skipped: step 'upgrade D3' failed (test_upgrade_d3_then_stop_d4)",
                                             "'upgrade D3' did not run, so nothing was measured during it"}


@pytest.mark.slow
def test_without_redis_server_the_redis_suite_says_so_before_deploying_anything(tmp_path):
    """Issue 12: the Redis tests failed with a BOSH task error cut before it named redis-server."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "CONFIG"}
    env["PATH"] = str(Path(sys.executable).parent)  # the venv's python and pytest; no redis-server
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "suites/redis_promotion",
                           f"--artifacts={tmp_path / 'art'}"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 70, proc.stdout[-3000:]
    assert ("platform error: the Redis promotion suite on the embedded simulator needs redis-server on the PATH"
            in proc.stdout)
    report = json.loads((tmp_path / "art" / "report.json").read_text())
    assert report["outcome"] == "platform error" and report["results"] == [] and report["tasks"] == []
