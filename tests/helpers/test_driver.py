"""The driver: the story's BOSH operations, recorded with their tasks, only on what it owns."""

from __future__ import annotations

import json

import pytest
from fakes import FakeDirector, fake_manifests

from helpers import story
from helpers.driver import Driver, StepFailed
from helpers.record import RunRecord
from helpers.steps import StepRecorder
from helpers.verdicts import CheckFailed

D3, D4 = "cf-warden-diego-cell1", "cf-warden-diego-cell2"


def make(tmp_path, director=None, cell_stop="stop", record=None):
    director = director or FakeDirector()
    record = record or RunRecord(tmp_path / "run-state.json")
    events = []
    driver = Driver(director, fake_manifests(tmp_path / "m"), record, StepRecorder(), cell_stop=cell_stop,
                    on_event=events.append)
    driver.events = events  # type: ignore[attr-defined]
    return driver, director, record


def play(driver: Driver, steps=story.STORY) -> None:
    for st in steps:
        with driver.recorder.step(st.title, st.kind, {"story": st.id}):
            driver.run(st)


def test_the_whole_story_calls_the_director_in_the_story_order(tmp_path):
    driver, d, record = make(tmp_path)
    play(driver)
    assert d.calls[:5] == [("deploy", n) for n in ("cf-warden", "cf-warden-diego-database",
                                                   "cf-warden-diego-brain-and-pals", D3, D4)]
    assert d.calls[5:] == [
        ("deploy", "cf-warden-diego-database"),
        ("deploy", D3), ("stopped", D4),
        ("deploy", "cf-warden-diego-brain-and-pals"), ("started", D4), ("stopped", D3),
        ("deploy", "cf-warden"),
        ("started", D3), ("deploy", D4)]
    assert driver.events  # live BOSH events were handed on
    assert driver.versions() == dict.fromkeys(story.DEPLOYMENTS, "V-prime")
    assert all(dep["running"] for dep in record.data["deployments"].values())


def test_each_operation_is_a_recorded_step_with_its_task_inside_the_story_step(tmp_path):
    driver, _, _ = make(tmp_path)
    play(driver, story.STORY[:3])
    d3 = driver.recorder.get("upgrade D3")
    op = driver.recorder.get(f"stop D4 ({D4})")
    assert op.kind == "diego" and op.data["task"] == 8 and op.data["deployment"] == "D4"
    assert d3.start_mono <= op.start_mono <= op.end_mono <= d3.end_mono


def test_the_run_record_says_what_the_run_owns_and_how_far_it_got(tmp_path):
    driver, _, record = make(tmp_path)
    play(driver, story.STORY[:3])
    saved = json.loads((tmp_path / "run-state.json").read_text())
    assert saved["deployments"]["D4"] == {"name": D4, "version": "V0", "running": False,
                                          "manifest": saved["deployments"]["D4"]["manifest"],
                                          "created_by": record.run_id, "invocation": 0}
    assert len(saved["deployments"]["D4"]["manifest"]) == 64  # sha256 of the manifest deployed
    assert saved["steps"]["d3"]["ops"] == [
        {"op": "deploy D3 at V-prime", "deployment": D3, "task": 7, "state": "done",
         "seconds": saved["steps"]["d3"]["ops"][0]["seconds"]},
        {"op": "stop D4", "deployment": D4, "task": 8, "state": "done",
         "seconds": saved["steps"]["d3"]["ops"][1]["seconds"]}]


def test_a_failed_task_names_step_operation_deployment_and_task_and_stops_the_step(tmp_path):
    driver, d, record = make(tmp_path)
    play(driver, story.STORY[:2])
    d.fail_on = f"stopped {D4}"
    with pytest.raises(StepFailed) as info:
        play(driver, [story.UPGRADE_D3])
    assert str(info.value).startswith(f"[upgrade D3] stop D4 of deployment {D4} failed: BOSH task 8 for "
                                      f"deployment {D4}")
    assert info.value.task_id == 8
    assert driver.recorder.get("upgrade D3").outcome == "failed"
    assert driver.recorder.get(f"stop D4 ({D4})").data["task"] == 8
    assert record.step_data("d3")["failed_op"] == {"op": "stop D4", "deployment": D4, "task": 8}


def test_a_failed_deploy_does_not_go_on_to_stop_the_other_cell(tmp_path):
    driver, d, _ = make(tmp_path)
    play(driver, story.STORY[:2])
    d.fail_on = f"deploy {D3}"
    with pytest.raises(StepFailed, match=f"deployment {D3}"):
        play(driver, [story.UPGRADE_D3])
    assert ("stopped", D4) not in d.calls


def test_never_touches_a_deployment_it_did_not_create(tmp_path):
    driver, d, _ = make(tmp_path)
    with pytest.raises(RuntimeError, match="refusing to stop deployment cf-warden-diego-cell2: this run did not "
                                           "create it"):
        driver.apply(story.Op("stop", "D4"), story.UPGRADE_D3)
    d.existing["cf-warden"] = {"cf": "220"}
    with pytest.raises(CheckFailed, match="cf-warden already exist"):
        driver.apply(story.Op("deploy", "CF", "V0"), story.DEPLOY_V0)
    assert d.calls == []


def test_ownership_holds_across_invocations_through_the_record(tmp_path):
    driver, d, record = make(tmp_path)
    play(driver, story.STORY[:1])
    again = RunRecord.load(tmp_path / "run-state.json")
    assert again.run_id == record.run_id and again.owns(D3)
    second, _, _ = make(tmp_path / "2", director=d, record=again)
    second.run(story.UPGRADE_D1)  # a deployment the first invocation created may be upgraded
    stranger, _, _ = make(tmp_path / "3", director=d)
    with pytest.raises(CheckFailed, match="already exist"):
        stranger.run(story.UPGRADE_D1)


def test_cell_stop_delete_redeploys_the_version_the_cell_had(tmp_path):
    driver, d, _ = make(tmp_path, cell_stop="delete")
    play(driver, story.STORY[:3])
    assert ("delete", D4) in d.calls and D4 not in d.existing
    play(driver, [story.UPGRADE_D2])
    assert d.existing[D4]["diego"] == "0.1434.0"  # D4 comes back at V0, from our own manifest
