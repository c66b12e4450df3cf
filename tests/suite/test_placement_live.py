"""The placement check against a live simulator: an instance on a cell the step does not
allow is caught, naming the instance, its cell deployment and the expected one.

With both V0 cells running, Diego spreads a 2-instance app over both cells; a stage that
allows only D3 must therefore fail its placement check on the instance that landed on D4
(the simulator has no fault that puts an instance on a stopped cell, so this is the honest
way to put one "on the wrong cell").
"""

from __future__ import annotations

import pytest
from harness import write_config
from helpers.upgrade import DEPLOY_V0, Stage, UpgradeRun

from helpers import checks
from helpers.checks import CheckFailed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_instance_on_a_cell_the_step_does_not_allow_is_caught(tmp_path):
    from fixtures.apps import PROBE_DIR
    from helpers.bosh import Director
    from helpers.cf import CloudFoundry
    from helpers.config import load_config
    from helpers.logs import recent_logs
    from helpers.net import http_session
    from helpers.ssh import ssh_exec
    from helpers.steps import StepRecorder
    from simulator.launcher import start

    sim = start(tmp_path / "sim", "fast")
    run = None
    try:
        cfg = load_config(write_config(sim.config_path, tmp_path / "config.yml"))
        resolver = cfg.resolver()

        def new_cf():
            cf = CloudFoundry(cfg.cf, resolver, timeout=cfg.timeout)
            cf.login()
            return cf

        run = UpgradeRun(config=cfg, director=Director(cfg.bosh, resolver, timeout=cfg.timeout), cf_factory=new_cf,
                         manifests_dir=tmp_path / "manifests", recorder=StepRecorder(), app_dir=PROBE_DIR,
                         http=checks.requests_http(lambda: http_session(cfg.cf.tls, resolver, timeout=(5, 10),
                                                                        retries=0)),
                         recent_logs=recent_logs, ssh_exec=ssh_exec, resolver=resolver)
        run.preflight()
        run.run_stage(DEPLOY_V0)
        only_d3 = Stage("x", "after D3 (both cells still up)", "setup", (), ("cell1",), {"cell1": "v0"})
        with pytest.raises(CheckFailed) as info:
            run.smoke(only_d3)
        verdict = info.value.verdict
        assert verdict.check == "placement"
        assert "in cf-warden-diego-cell2 (expected cf-warden-diego-cell1)" in verdict.message
        assert verdict.details["where"] and set(verdict.details["where"].values()) == {
            "cf-warden-diego-cell1", "cf-warden-diego-cell2"}
        # and where both cells are allowed, the same placement passes
        both = Stage("y", "after D1", "setup", (), ("cell1", "cell2"), {"cell1": "v0", "cell2": "v0"})
        result = run.smoke(both)
        assert [v.check for v in result.verdicts if v.check == "placement"] == ["placement"]
    finally:
        if run is not None:
            try:
                run.cleanup_cf()
            finally:
                sim.stop()
        else:
            sim.stop()
