"""The run record: saved as it changes, atomically, readable by a later invocation."""

from __future__ import annotations

import json
import threading

import pytest

from helpers.record import RunRecord


def test_every_change_is_saved_and_a_later_invocation_reads_it(tmp_path):
    path = tmp_path / "run-state.json"
    rec = RunRecord(path, run_id="abcd1234")
    rec.begin_invocation(["pytest", "suites/upgrade_stable"])
    rec.created("D3", "cf-warden-diego-cell1", "V0", "f" * 64)
    rec.set_deployment("D3", running=False)
    rec.org_space(("DUSTPY-abcd1234-ORG", "org-guid"), ("DUSTPY-abcd1234-SPACE", "space-guid"))
    rec.app("A0", "a0-abcd1234", "app-guid")
    rec.step("d3", outcome="passed", tasks=[7, 8])
    rec.end_invocation("passed")
    saved = json.loads(path.read_text())
    assert saved["deployments"]["D3"]["running"] is False and saved["apps"]["A0"]["guid"] == "app-guid"
    assert saved["invocations"][0]["outcome"] == "passed" and saved["steps"]["d3"]["tasks"] == [7, 8]
    again = RunRecord.load(path)
    again.begin_invocation()
    assert again.run_id == "abcd1234" and again.owns("cf-warden-diego-cell1") and not again.owns("other")
    assert again.invocation == 1
    again.step("d2", outcome="failed")
    assert again.step_data("d2")["invocation"] == 1 and again.step_data("d3")["invocation"] == 0
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_unknown_format_is_refused(tmp_path):
    path = tmp_path / "run-state.json"
    path.write_text(json.dumps({"format": 99, "run_id": "x"}))
    with pytest.raises(ValueError, match="run state format 99"):
        RunRecord.load(path)


def test_concurrent_changes_all_land(tmp_path):
    rec = RunRecord(tmp_path / "run-state.json")

    def work(i: int) -> None:
        for j in range(20):
            rec.step(f"s{i}", **{f"k{j}": j})

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    saved = json.loads((tmp_path / "run-state.json").read_text())
    assert all(len(saved["steps"][f"s{i}"]) == 21 for i in range(4))  # 20 keys + invocation


def test_only_the_artifacts_copy_of_the_record_is_redacted(tmp_path):
    from helpers.redaction import REDACTOR

    secret = "mirror-" + "7c" * 20
    REDACTOR.register(secret)
    record = RunRecord(tmp_path / "private" / "run-state.json", "r1", mirror=tmp_path / "artifacts" / "run-state.json")
    record.step("v0", outcome="failed", message=f"task 7 failed: {secret}")
    mirrored = json.loads((tmp_path / "artifacts" / "run-state.json").read_text())
    assert mirrored["steps"]["v0"]["message"] == "task 7 failed: [REDACTED]"
    assert mirrored["run_id"] == "r1" and mirrored["steps"]["v0"]["outcome"] == "failed"
    assert RunRecord.load(tmp_path / "private" / "run-state.json").step_data("v0")["message"].endswith(secret)
