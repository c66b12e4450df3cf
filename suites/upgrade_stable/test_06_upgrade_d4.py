"""Start D3, then upgrade D4 (cell bank 2) to V-prime; the smoke app may land on either cell,
both V-prime; A0 scales and stayed routable."""

import pytest

from helpers.upgrade import STAGES

STAGE = STAGES["d4"]
pytestmark = pytest.mark.upgrade_step(STAGE.title, kind=STAGE.kind)


def test_start_d3_then_upgrade_d4(upgrade_run):
    upgrade_run.run_stage(STAGE)


def test_deployments_run_the_intended_versions(upgrade_run):
    upgrade_run.verify_versions(STAGE)


def test_smoke_app_runs_routes_logs_ssh_on_either_cell(upgrade_run):
    upgrade_run.smoke(STAGE)


def test_a0_scales_1_2_1(upgrade_run):
    upgrade_run.scale_a0(STAGE)


@pytest.mark.observation
def test_a0_routable_during_upgrade_d4(check_a0_routable):
    check_a0_routable(STAGE)
