"""Upgrade CF to V-prime; the smoke app lands on D4 only (V0). A0's routability is recorded
but not enforced during the CF deploy (the router is replaced); it must answer again after."""

import pytest

from helpers.upgrade import STAGES

STAGE = STAGES["cf"]
pytestmark = pytest.mark.upgrade_step(STAGE.title, kind=STAGE.kind)


def test_upgrade_cf_to_v_prime(upgrade_run):
    upgrade_run.run_stage(STAGE)


def test_deployments_run_the_intended_versions(upgrade_run):
    upgrade_run.verify_versions(STAGE)


def test_smoke_app_runs_routes_logs_ssh_on_d4_only(upgrade_run):
    upgrade_run.smoke(STAGE)


def test_a0_scales_1_2_1(upgrade_run):
    upgrade_run.scale_a0(STAGE)


@pytest.mark.observation
def test_a0_routable_during_upgrade_cf(check_a0_routable):
    """Recorded, not enforced (the router is replaced): outage windows during CF appear in the
    report; the poller must still have sampled the step."""
    check_a0_routable(STAGE)
