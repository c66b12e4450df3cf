"""The step chain (skip after a failed step, observations don't stop it) and the run report,
exercised in inner pytest runs without any platform."""

from __future__ import annotations

import json

import pytest

CHAIN = """
import pytest
pytestmark = pytest.mark.upgrade_step("{step}", kind="diego")

def test_op(step_recorder):
    with step_recorder.step("{step}", kind="diego"):
        {body}

@pytest.mark.observation
def test_observe():
    {observe}

def test_after():
    pass
"""


PLUGINS = 'pytest_plugins = ["fixtures.options", "fixtures.run", "fixtures.chain"]\n'


def make_chain(pytester: pytest.Pytester, failing: str | None = None, failing_observation: str | None = None):
    pytester.makeconftest(PLUGINS)
    for i, step in enumerate(("upgrade D1", "upgrade D3", "upgrade D2")):
        body = "raise RuntimeError('task 7 for cf-warden-diego-cell1 failed')" if step == failing else "pass"
        observe = "pytest.fail('A0 lost its route', pytrace=False)" if step == failing_observation else "pass"
        pytester.makepyfile(**{f"test_{i}_step": CHAIN.format(step=step, body=body, observe=observe)})


def test_failed_step_skips_later_steps_naming_it(pytester: pytest.Pytester, tmp_path):
    make_chain(pytester, failing="upgrade D3")
    result = pytester.runpytest("-rs", "--artifacts", str(tmp_path / "a"), "--junitxml", str(tmp_path / "j.xml"))
    # D1 passes (3); D3: op fails, its observation still runs (own step started), test_after skipped;
    # D2: everything skipped
    result.assert_outcomes(passed=4, failed=1, skipped=4)
    result.stdout.fnmatch_lines(["*skipped: step 'upgrade D3' failed (test_op)*"])
    junit = (tmp_path / "j.xml").read_text()
    assert junit.count("upgrade D3' failed (test_op)</skipped>") == 4
    assert "task 7 for cf-warden-diego-cell1 failed" in junit
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert [(s["name"], s["outcome"]) for s in report["steps"]] == [
        ("upgrade D1", "passed"), ("upgrade D3", "failed"), ("upgrade D2", "skipped")]
    assert "cf-warden-diego-cell1" in report["steps"][1]["message"]
    assert report["steps"][2]["message"] == "skipped: step 'upgrade D3' failed (test_op)"
    assert report["steps"][2]["kind"] == "diego"
    result.stdout.fnmatch_lines(["upgrade D2*diego*skipped*"])
    assert report["outcome"] == "failed"


def test_failed_observation_does_not_stop_the_chain(pytester: pytest.Pytester, tmp_path):
    make_chain(pytester, failing_observation="upgrade D1")
    result = pytester.runpytest("--artifacts", str(tmp_path / "a"))
    result.assert_outcomes(passed=8, failed=1)


def test_summary_table_and_artifacts_written(pytester: pytest.Pytester, tmp_path):
    make_chain(pytester)
    old_task = tmp_path / "a" / "tasks" / "task-3-cf-warden.log"  # from an earlier run
    old_task.parent.mkdir(parents=True)
    old_task.write_text("# {}\n")
    # (`--artifacts=DIR`: an existing DIR given as a separate word would steer pytest's conftest discovery)
    result = pytester.runpytest(f"--artifacts={tmp_path / 'a'}", "--junitxml", str(tmp_path / "j.xml"))
    assert not old_task.exists()
    junit = (tmp_path / "j.xml").read_text()
    assert junit.count("<testcase ") == 9 and "<failure" not in junit
    result.assert_outcomes(passed=9)
    result.stdout.fnmatch_lines(["*= run summary =*", "step*kind*outcome*", "upgrade D1*diego*passed*",
                                 "artifacts: *"])
    assert (tmp_path / "a" / "timeline.html").is_file()
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert len(report["results"]) == 9 and report["outcome"] == "passed"


def test_plain_tests_write_no_artifacts(pytester: pytest.Pytester, tmp_path):
    pytester.makeconftest(PLUGINS)
    pytester.makepyfile(test_plain="def test_x():\n    assert True\n")
    result = pytester.runpytest("--artifacts", str(tmp_path / "a"))
    result.assert_outcomes(passed=1)
    assert not (tmp_path / "a").exists()
    assert "run summary" not in result.stdout.str()
