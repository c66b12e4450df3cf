"""Preflight: the director answers and accepts us; the V0 and V-prime releases and the
stemcell are uploaded; none of the five deployments exists (the suite never touches a
deployment it did not create)."""

import pytest

pytestmark = pytest.mark.upgrade_step("preflight")


def test_director_reachable_and_authenticated(platform):
    assert platform.director.authenticated_user(), "the director did not accept the configured credentials"


def test_manifests_generated_for_this_director(upgrade_run):
    manifests = upgrade_run.prepare()
    assert set(manifests) == {"v0", "v_prime"}
    assert all(path.is_file() for paths in manifests.values() for path in paths.values())


def test_releases_and_stemcell_uploaded_and_no_deployment_exists(upgrade_run):
    for verdict in upgrade_run.preflight():
        assert verdict.ok, str(verdict)
