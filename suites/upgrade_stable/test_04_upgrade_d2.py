"""Upgrade D2 (brain and pals) to V-prime, start D4 and stop D3; the smoke app lands on D4
only (still V0); A0 scales and stayed routable."""

import pytest

from helpers.upgrade import STAGES

STAGE = STAGES["d2"]
pytestmark = pytest.mark.upgrade_step(STAGE.title, kind=STAGE.kind)


def test_upgrade_d2_then_start_d4_and_stop_d3(upgrade_run):
    upgrade_run.run_stage(STAGE)


def test_deployments_run_the_intended_versions(upgrade_run):
    upgrade_run.verify_versions(STAGE)


def test_smoke_app_runs_routes_logs_ssh_on_d4_only(upgrade_run):
    upgrade_run.smoke(STAGE)


def test_a0_scales_1_2_1(upgrade_run):
    upgrade_run.scale_a0(STAGE)


@pytest.mark.observation
def test_a0_routable_during_upgrade_d2(check_a0_routable):
    check_a0_routable(STAGE)
