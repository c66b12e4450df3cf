"""Upgrade CF to V-prime; the smoke app lands on D4 only (V0). A0's routability is recorded
but not enforced during the CF deploy (the router is replaced); it must answer again after."""

import pytest

from helpers.upgrade import STAGES

STAGE = STAGES["cf"]
pytestmark = pytest.mark.upgrade_step(STAGE.title)


def test_upgrade_cf_to_v_prime(upgrade_run):
    upgrade_run.run_stage(STAGE)


def test_deployments_run_the_intended_versions(upgrade_run):
    upgrade_run.verify_versions(STAGE)


def test_smoke_app_runs_routes_logs_ssh_on_d4_only(upgrade_run):
    upgrade_run.smoke(STAGE)


def test_a0_scales_1_2_1(upgrade_run):
    upgrade_run.scale_a0(STAGE)


@pytest.mark.observation
def test_a0_routability_recorded_during_upgrade_cf(upgrade_run, record_testsuite_property):
    """Recorded, not enforced: outage windows during CF appear in the report only."""
    result = upgrade_run.routability(STAGE)
    for key in ("attempted", "failed", "longest_outage"):  # JUnit suite properties (xunit2-safe)
        record_testsuite_property(f"a0_{STAGE.id}_{key}", result.summary[key])
    assert result.summary["attempted"] > 0, "the A0 poller took no samples during the CF upgrade"
    if result.violations:  # only when the config's poller.policy enforces the CF step
        pytest.fail(result.message(), pytrace=False)
