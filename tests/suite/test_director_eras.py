"""The main job passes against a director of either era, with the same suite code.

The 2015 director (bosh 1.3098.0, the default) has no `/instances`, reads a job-level state
change's manifest from the body and filters no tasks by deployment; today's director (bosh
v283) has all of that and wants UAA tokens. helpers/bosh.py decides from what the director
says; these runs prove it end to end, and check on the director itself that each era's
way of listing instances was the one taken (the `/vms?format=full` task, or `/instances`).
"""

from __future__ import annotations

import pytest
from harness import run_suite

from simulator.client import SimulatorClient

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


@pytest.mark.parametrize("era", ["2015", "current"])
def test_main_job_passes_against_the_director_era(sim_factory, tmp_path, era):
    sim, config = sim_factory(director_era=era)
    run = run_suite(["suites/upgrade_stable"], config=config, artifacts=tmp_path / "art")
    assert run.returncode == 0, run.output[-4000:]
    report = run.report
    assert report["outcome"] == "passed"
    assert [s["name"] for s in report["steps"] if s["outcome"] != "passed"] == []

    director = SimulatorClient(sim.config())
    version = director.bosh("GET", "/info").json()["version"]
    assert version == ("1.3098.0 (00000000)" if era == "2015" else "283.1.6 (00000000)")
    tasks = director.bosh("GET", "/tasks", params={"verbose": "2"}).json()
    vm_state_tasks = [t for t in tasks if t["description"] == "retrieve vm-stats"]
    deploys = [t for t in tasks if t["description"] == "create deployment"]
    assert deploys and all(t["state"] == "done" for t in deploys)
    if era == "2015":
        # no /instances: the suite listed the cells' addresses through the vm state task
        assert vm_state_tasks
        assert all(set(t) == {"id", "state", "description", "timestamp", "result", "user"} for t in tasks)
    else:
        assert vm_state_tasks == []  # `/instances` answered directly
        assert all("deployment" in t for t in tasks)
