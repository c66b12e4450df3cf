"""Upgrade D3 (cell bank 1) to V-prime, then stop D4; the smoke app lands on D3 only (V-prime);
A0 scales and stayed routable (it evacuated from D4 to D3)."""

import pytest

from helpers.upgrade import STAGES

STAGE = STAGES["d3"]
pytestmark = pytest.mark.upgrade_step(STAGE.title, kind=STAGE.kind)


def test_upgrade_d3_then_stop_d4(upgrade_run):
    upgrade_run.run_stage(STAGE)


def test_deployments_run_the_intended_versions(upgrade_run):
    upgrade_run.verify_versions(STAGE)


def test_smoke_app_runs_routes_logs_ssh_on_d3_only(upgrade_run):
    upgrade_run.smoke(STAGE)


def test_a0_scales_1_2_1(upgrade_run):
    upgrade_run.scale_a0(STAGE)


@pytest.mark.observation
def test_a0_routable_during_upgrade_d3(check_a0_routable):
    check_a0_routable(STAGE)
