"""Deploy V0 (CF, D1, D2, D3, D4), verify the pinned versions, smoke test, push A0 and start
polling it."""

import pytest

from helpers.upgrade import DEPLOY_V0

pytestmark = pytest.mark.upgrade_step("deploy V0")


def test_deploy_cf_and_four_diego_deployments_at_v0(upgrade_run):
    upgrade_run.run_stage(DEPLOY_V0)


def test_each_deployment_runs_the_pinned_v0_versions(upgrade_run):
    upgrade_run.verify_versions(DEPLOY_V0)


def test_smoke_app_runs_routes_logs_and_accepts_ssh(upgrade_run):
    upgrade_run.smoke(DEPLOY_V0)


def test_push_a0_running_and_routable(upgrade_run):
    upgrade_run.push_a0()


def test_start_polling_a0(upgrade_run):
    poller = upgrade_run.start_poller()
    assert poller.running
