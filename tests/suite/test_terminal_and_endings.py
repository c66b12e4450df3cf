"""What the run says on the terminal and how it ends (issue 12 points the observer work
touches): BOSH events by stage by default, all with -v, none with -q; config warnings and the
effective timeouts at the start; an interrupted run's report says so; xdist is refused for
the ordered suite; a later step selected alone is refused before any BOSH operation."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from harness import run_suite

from fixtures.run import RunState

SUITE = "suites/upgrade_stable"
MODULE = f"{SUITE}/test_upgrade_from_stable.py"


def _events() -> list[dict]:
    out = []
    for tags in (["cell_z1"], ["cell_z2"]):
        for state in ("started", "in_progress", "finished"):
            out.append({"stage": "Updating instance", "tags": tags, "task": f"{tags[0]}/0", "index": 1, "total": 1,
                        "state": state})
    out.append({"time": 1, "error": {"code": 100, "message": "boom"}})
    return out


@pytest.mark.parametrize("verbose,lines", [(0, 3), (1, 7), (-1, 1)])
def test_bosh_events_by_stage_by_default_all_with_v_failures_only_with_q(verbose, lines):
    run = RunState(SimpleNamespace(option=SimpleNamespace(verbose=verbose)))  # type: ignore[arg-type]
    said: list[str] = []
    run.say = said.append  # type: ignore[method-assign]
    for event in _events():
        run.on_event(event)
    assert len(said) == lines, said
    assert said[-1] == "    bosh | Error 100: boom"  # a failure is always shown


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


@pytest.mark.slow
def test_the_ordered_suite_refuses_xdist(tmp_path):
    run = run_suite([SUITE], config=None, artifacts=tmp_path / "art", extra=["-n", "2"], timeout=120)
    assert run.returncode == 4, run.output[-2000:]
    assert "the upgrade-from-stable suite is one ordered story and cannot run on several workers (-n 2)" in run.output
