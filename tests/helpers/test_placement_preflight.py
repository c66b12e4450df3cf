"""Placement (which cell, which Diego version) and the director checks (preflight, versions)."""

from __future__ import annotations

import re

import pytest
from fakes import FakeDirector

from helpers.placement import placement
from helpers.preflight import deployment_versions, missing_uploads, no_existing_deployments, preflight
from helpers.verdicts import CheckFailed

STEP = "upgrade D3"
CELLS = {"cell1": ["10.244.16.2"], "cell2": ["10.244.16.6"]}


def test_placement_allowed_and_wrong_cell():
    assert placement(STEP, "s", {0: "10.244.16.2", 1: "10.244.16.2"}, CELLS, ["cell1"]).ok
    v = placement(STEP, "s", {0: "10.244.16.2", 1: "10.244.16.6"}, CELLS, ["cell1"])
    assert not v.ok and "instance 1 on 10.244.16.6 in cell2 (expected cell1)" in v.message
    v = placement(STEP, "s", {0: "10.9.9.9"}, CELLS, ["cell1", "cell2"])
    assert "no cell" in v.message
    assert not placement(STEP, "s", {}, CELLS, ["cell1"]).ok


def test_placement_checks_diego_version():
    v = placement(STEP, "s", {0: "10.244.16.6"}, CELLS, ["cell2"], {"cell2": "0.1454.0"}, {"cell2": "0.1434.0"})
    assert not v.ok and "running diego 0.1454.0 (expected 0.1434.0)" in v.message
    assert placement(STEP, "s", {0: "10.244.16.6"}, CELLS, ["cell2"], {"cell2": "0.1434.0"},
                     {"cell2": "0.1434.0"}).ok


def test_deployment_versions():
    assert deployment_versions(STEP, "cf-warden", {"cf": "220"}, {"cf": "220", "x": "1"}).ok
    v = deployment_versions(STEP, "cf-warden", {"cf": "231", "etcd": "36"}, {"cf": "220"})
    assert "cf: expected 231, saw 220" in v.message and "etcd: expected 36, saw absent" in v.message


def test_missing_uploads_lists_everything_missing():
    v = missing_uploads("preflight", [("cf", "220"), ("diego", "0.1434.0"), ("etcd", "36")], [("cf", "220")],
                        [("stem", "latest")], [])
    assert not v.ok
    assert "release diego/0.1434.0" in v.message and "release etcd/36" in v.message
    assert "stemcell stem/latest" in v.message
    assert missing_uploads("p", [("cf", "220")], [("cf", "220")], [("stem", "latest")], [("stem", "2776")]).ok
    assert not missing_uploads("p", [], [], [("stem", "3000")], [("stem", "2776")]).ok


def test_no_existing_deployments():
    assert no_existing_deployments("p", ["cf-warden"], ["other"]).ok
    v = no_existing_deployments("p", ["cf-warden", "cf-warden-diego-cell1"], ["cf-warden-diego-cell1", "x"])
    assert not v.ok and "cf-warden-diego-cell1" in v.message and "never deletes" in v.message


NAMES = ["cf-warden", "cf-warden-diego-cell1"]
REQUIRED = [("cf", "220"), ("diego", "0.1434.0"), ("etcd", "36")]


def test_preflight_passes_then_names_every_problem_at_once():
    d = FakeDirector()
    assert all(v.ok for v in preflight(d, names=NAMES, required_releases=REQUIRED,
                                       required_stemcells=[("stem", "2776")]))
    d = FakeDirector(uploaded=[("cf", "220")], existing={"cf-warden-diego-cell1": {}})
    with pytest.raises(CheckFailed) as info:
        preflight(d, names=NAMES, required_releases=REQUIRED, required_stemcells=[("stem", "2776")])
    msg = str(info.value)
    assert "release diego/0.1434.0" in msg and "release etcd/36" in msg
    assert "cf-warden-diego-cell1 already exist" in msg and "never deletes" in msg
    assert d.calls == []  # nothing touched


def test_preflight_refuses_a_director_that_does_not_know_us():
    with pytest.raises(CheckFailed, match="did not accept the configured credentials"):
        preflight(FakeDirector(authenticated=None), names=NAMES, required_releases=[], required_stemcells=[])


def test_preflight_counts_what_this_run_owns_as_ours():
    d = FakeDirector(existing={"cf-warden": {}})
    with pytest.raises(CheckFailed, match=re.escape("cf-warden already exist")):
        preflight(d, names=NAMES, required_releases=[], required_stemcells=[])
    assert preflight(d, names=NAMES, required_releases=[], required_stemcells=[], ours=["cf-warden"])
