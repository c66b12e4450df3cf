"""helpers/resume.py: where a resumed run goes on, and every way the platform can differ from
its record (each a reason to refuse), against the one FakeDirector."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
from test_driver import make, play

from helpers import resume, story

D1, D2, D3, D4 = ("cf-warden-diego-database", "cf-warden-diego-brain-and-pals", "cf-warden-diego-cell1",
                  "cf-warden-diego-cell2")


@pytest.fixture
def played(tmp_path):
    """A run through upgrade D3, as the driver recorded it (steps marked passed)."""
    driver, director, record = make(tmp_path)
    record.bind_director(director.uuid())
    play(driver, story.STORY[:3])
    for st in story.STORY[:3]:
        record.step(st.id, outcome="passed")
    return driver, director, record


def _diff(driver, director, data):
    states = {"started": "running", "stopped": "stopped"}
    return resume.differences(data, director=director, manifests=driver.manifests,
                              job_states=lambda name: [states[director.state[name]]])


def test_the_plan_goes_on_after_the_last_passed_step():
    steps = {"v0": {"outcome": "passed", "invocation": 0}, "d1": {"outcome": "passed", "invocation": 1},
             "d3": {"outcome": "failed", "invocation": 1}, "d2": {"outcome": "passed", "invocation": 1}}
    where = resume.plan({"steps": steps})
    assert where.start is story.UPGRADE_D3 and where.done == {"v0": 0, "d1": 1}
    assert where.skip_reason("d1", "r1") == "resumed run r1: passed in invocation 2"
    assert where.skip_reason("d3", "r1") is None
    assert resume.plan({"steps": {}}).start is story.DEPLOY_V0
    assert resume.plan({"steps": {s.id: {"outcome": "passed"} for s in story.STORY}}) is None


def test_a_platform_as_the_run_left_it_has_no_difference(played):
    driver, director, record = played
    assert _diff(driver, director, record.snapshot()) == []


def test_a_deploy_begun_but_not_finished_may_have_left_either_manifest(played):
    driver, director, record = played
    record.attempting("D4", D4, "V-prime", driver.manifests.digest("D4", "V-prime"))
    assert _diff(driver, director, record.snapshot()) == []  # the director still holds V0's
    director.deploy(driver.manifests.text("D4", "V-prime"))
    assert _diff(driver, director, record.snapshot()) == []  # or the new one


@pytest.mark.parametrize("tamper,expected", [
    (lambda d: d.update(director_uuid="other"), "the run was recorded on director other, this director is "
                                                 "fake-director-uuid"),
    (lambda d: d["deployments"].update(X={"name": "x", "version": "V0"}), "a deployment 'X' that is not one of"),
    (lambda d: d["deployments"]["D3"].update(name="someone-else"),
     f"D3: the run state names deployment someone-else, but this run's manifest for D3 deploys {D3}"),
    (lambda d: d["deployments"]["D1"].update(manifest="f" * 64),
     f"D1 ({D1}): the run state records manifest sha256 ffffffffffff at V-prime"),
    (lambda d: d["deployments"]["D1"].update(version="V2"), f"D1 ({D1}): the run state records manifest"),
    (lambda d: d["deployments"]["D4"].update(running=True), f"D4 ({D4}): recorded running, its instances are stopped"),
    (lambda d: d["deployments"].pop("D2"), f"D2 ({D2}): exists on the director, but this run did not create it"),
])
def test_every_tampered_record_is_refused_naming_what_differs(played, tamper, expected):
    driver, director, record = played
    data = copy.deepcopy(record.snapshot())
    tamper(data)
    problems = _diff(driver, director, data)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("change,expected", [
    (lambda d, m: d.manifests.update({D3: m.text("D3", "V0")}), f"D3 ({D3}): the director holds another manifest"),
    (lambda d, m: d.existing[D1].update(diego="0.1434.0"), f"D1 ({D1}): runs diego 0.1434.0; its V-prime manifest "
                                                           "pins diego 0.1454.0"),
    (lambda d, m: d.delete_deployment(D2), f"D2 ({D2}): recorded as created by this run, the director has no such"),
    (lambda d, m: d.state.update({D3: "stopped"}), f"D3 ({D3}): recorded running, its instances are stopped"),
])
def test_a_platform_changed_behind_the_runs_back_is_refused(played, change, expected):
    driver, director, record = played
    change(director, driver.manifests)
    problems = _diff(driver, director, record.snapshot())
    assert any(expected in p for p in problems), problems


def test_a_redeploy_of_the_same_manifest_left_unfinished_is_still_checked(played):
    """A re-run step deploys again the manifest a deployment already has: the record then
    holds the deployment and an attempt with one digest, and the platform is still compared."""
    driver, director, record = played
    record.attempting("D3", D3, "V-prime", driver.manifests.digest("D3", "V-prime"))
    director.existing[D3].update(diego="0.1434.0")
    problems = _diff(driver, director, record.snapshot())
    assert any(p.startswith(f"D3 ({D3}): runs diego 0.1434.0") for p in problems), problems


def test_every_difference_is_listed_at_once():
    error = resume.ResumeRefused("r1", ["a", "b"])
    assert str(error) == ("cannot resume run r1: 2 difference(s) from its record; nothing was changed\n"
                          "  - a\n  - b")


class _CF:
    def __init__(self, apps, states):
        self.apps, self.states = apps, states

    def find_org(self, name):
        return "org-guid" if name == "DUSTPY-r1-ORG" else None

    def get(self, path):
        return {"entity": {"name": "DUSTPY-r1-SPACE"}}

    def app(self, guid):
        if guid not in self.apps:
            raise LookupError(f"404 app {guid}")
        return {"entity": {"name": self.apps[guid]}}

    def instances(self, guid):
        return {i: SimpleNamespace(state=s) for i, s in enumerate(self.states)}


RECORD = {"director_uuid": "fake-director-uuid", "org": {"name": "DUSTPY-r1-ORG", "guid": "org-guid"},
          "space": {"name": "DUSTPY-r1-SPACE", "guid": "space-guid"},
          "apps": {"A0": {"name": "a0-r1", "guid": "a0-guid"}}}


@pytest.mark.parametrize("cf,expected", [
    (_CF({"a0-guid": "a0-r1"}, ["RUNNING"]), None),
    (_CF({}, []), "A0 (a0-r1, a0-guid): not found in CF"),
    (_CF({"a0-guid": "a0-r1"}, ["CRASHED"]), "A0 (a0-r1): no instance is RUNNING (instances: CRASHED)"),
])
def test_a0_must_exist_and_run(tmp_path, cf, expected):
    driver, director, _ = make(tmp_path)
    problems = resume.differences(RECORD, director=director, manifests=driver.manifests, new_cf=lambda: cf)
    assert len(problems) == (0 if expected is None else 1) and (expected is None or problems[0].startswith(expected))


def test_an_org_lookup_that_fails_is_not_reported_as_a_missing_org(tmp_path):
    class Down(_CF):
        def find_org(self, name):
            raise ConnectionError("cf api: connection refused")

    driver, director, _ = make(tmp_path)
    problems = resume.differences(RECORD, director=director, manifests=driver.manifests,
                                  new_cf=lambda: Down({"a0-guid": "a0-r1"}, ["RUNNING"]))
    assert problems == ["org DUSTPY-r1-ORG (org-guid): cannot look it up in CF (cf api: connection refused)"]
