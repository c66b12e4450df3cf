"""The placement check against a live simulator: an instance on a cell the step does not
allow is caught, naming the instance, its cell deployment and the expected one.

With both V0 cells running, Diego spreads a 2-instance app over both cells; a step that
allows only D3 must therefore fail its placement check on the instance that landed on D4
(the simulator has no fault that puts an instance on a stopped cell, so this is the honest
way to put one "on the wrong cell").
"""

from __future__ import annotations

import pytest
from harness import write_config

from helpers import checks, story
from helpers.after_checks import SmokeCheck
from helpers.driver import Driver
from helpers.record import RunRecord
from helpers.steps import StepRecorder
from helpers.verdicts import CheckFailed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_instance_on_a_cell_the_step_does_not_allow_is_caught(tmp_path):
    from fixtures.apps import PROBE_DIR
    from helpers.bosh import Director
    from helpers.cf import CloudFoundry
    from helpers.config import load_config
    from helpers.logs import recent_logs
    from helpers.net import http_session
    from helpers.ssh import ssh_exec
    from manifests.sets import prepare
    from simulator.launcher import start

    sim = start(tmp_path / "sim", "fast")
    org = None
    try:
        cfg = load_config(write_config(sim.config_path, tmp_path / "config.yml"))
        resolver = cfg.resolver()

        trusted = {"config": cfg}

        def new_cf():  # trusting the HAProxy certificate the run deploys, as the fixtures do
            cf = CloudFoundry(trusted["config"].cf, resolver, timeout=cfg.timeout)
            cf.login()
            return cf

        director = Director(cfg.bosh, resolver, timeout=cfg.timeout)
        manifests = prepare(cfg, director.uuid(), tmp_path / "manifests")
        trusted["config"] = cfg.with_cf_trust(manifests.haproxy_certificates())  # as the fixtures do
        recorder = StepRecorder()
        Driver(director, manifests, RunRecord(None), recorder).run(story.DEPLOY_V0)
        org, space = new_cf().ensure_org_space("placement-ORG", "placement-SPACE")
        smoke = SmokeCheck(new_cf=new_cf, director=director, manifests=manifests,
                           http=checks.requests_http(lambda: http_session(trusted["config"].cf.tls, resolver,
                                                                          timeout=(5, 10), retries=0)),
                           recent_logs=recent_logs, ssh_exec=ssh_exec, resolver=resolver, app_dir=PROBE_DIR,
                           space_guid=lambda: space, run_id="placement", timeout=cfg.timeout, recorder=recorder)
        only_d3 = story.Step("x", "after D3 (both cells still up)", "setup", (), ("D3",), {"D3": story.V0})
        with pytest.raises(CheckFailed) as info:
            smoke.run(only_d3)
        verdict = info.value.verdict
        assert verdict.check == "placement"
        assert "in cf-warden-diego-cell2 (expected cf-warden-diego-cell1)" in verdict.message
        assert verdict.details["where"] and set(verdict.details["where"].values()) == {
            "cf-warden-diego-cell1", "cf-warden-diego-cell2"}
        # and where both cells are allowed, the same placement passes
        verdicts = smoke.run(story.UPGRADE_D1)
        assert [v.check for v in verdicts if v.check == "placement"] == ["placement"]
    finally:
        try:
            if org is not None:
                new_cf().delete_org(org)
        finally:
            sim.stop()
