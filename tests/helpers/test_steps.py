"""Step recorder: timing with a fake clock, outcomes, data, overlap queries."""

from __future__ import annotations

import pytest

from helpers.steps import StepRecorder


class FakeClock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make() -> tuple[StepRecorder, FakeClock]:
    clock = FakeClock()
    return StepRecorder(clock=clock, wall=lambda: clock.t + 1_700_000_000), clock


def test_step_context_records_start_end_and_passed():
    rec, clock = make()
    with rec.step("upgrade D1", kind="diego") as st:
        assert st.outcome == "running"
        assert rec.active_names() == ["upgrade D1"]
        clock.t += 2.5
    assert st.outcome == "passed"
    assert st.duration == pytest.approx(2.5)
    assert st.start_wall == pytest.approx(1_700_000_100.0)
    assert rec.active_names() == []


def test_exception_marks_step_failed_and_propagates():
    rec, clock = make()
    with pytest.raises(RuntimeError, match="boom"), rec.step("upgrade CF", kind="cf"):
        clock.t += 1
        raise RuntimeError("boom")
    st = rec.get("upgrade CF")
    assert st is not None and st.outcome == "failed"
    assert "RuntimeError: boom" in (st.message or "")


def test_data_marks_story_steps_and_tasks():
    rec, _ = make()
    story = rec.begin("upgrade D3", "diego", {"story": "d3"})
    op = rec.begin("stop D4 (cf-warden-diego-cell2)", "diego", {"task": 12})
    assert story.story == "d3" and op.story is None
    assert op.to_json()["data"] == {"task": 12}


def test_unknown_kind_rejected():
    rec, _ = make()
    with pytest.raises(ValueError, match="kind"):
        rec.begin("x", "banana")


def test_active_at_and_overlapping():
    rec, clock = make()
    a = rec.begin("a", "diego")
    clock.t = 110
    rec.end(a)
    clock.t = 120
    b = rec.begin("b", "cf")
    clock.t = 130
    assert [s.name for s in rec.active_at(105)] == ["a"]
    assert [s.name for s in rec.active_at(115)] == []
    assert [s.name for s in rec.active_at(125)] == ["b"]  # open step extends to now
    assert [s.name for s in rec.overlapping(109, 121)] == ["a", "b"]
    assert b.finished is False


def test_listeners_see_start_and_end_and_broken_listener_is_ignored():
    rec, _ = make()
    events: list[tuple[str, str]] = []
    rec.subscribe(lambda ev, st: events.append((ev, st.name)))
    rec.subscribe(lambda ev, st: 1 / 0)
    with rec.step("x"):
        pass
    assert events == [("start", "x"), ("end", "x")]


def test_skipped_step_recorded_with_reason():
    rec, _ = make()
    st = rec.skipped("upgrade D2", "diego", "skipped: step 'upgrade D3' failed")
    assert st.outcome == "skipped" and "upgrade D3" in (st.message or "")
    assert st.to_json()["outcome"] == "skipped"


def test_end_is_idempotent():
    rec, clock = make()
    st = rec.begin("x")
    clock.t += 1
    rec.end(st, "failed", "first")
    clock.t += 1
    rec.end(st, "passed", "second")
    assert st.outcome == "failed" and st.duration == pytest.approx(1)
