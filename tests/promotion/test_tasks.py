"""A deploy record is trusted only when the director confirms its task: the same id,
deployment (from the 2015 `result`), state, time and user; a task claimed once; task ids
in the order the chain says the tasks were started."""

import pytest

from promotion import policy as pol
from promotion import tasks
from promotion.ledger import Record
from promotion.policy import DEFAULT

D = "d" * 64


class Director:
    def __init__(self, table):
        self.table = table

    def uuid(self):
        return "dir-1"

    def task(self, task_id):
        if task_id not in self.table:
            err = Exception("not found")
            err.status = 404
            raise err
        return dict(self.table[task_id])


def _task(task_id, deployment="redis-dev1", state="done", ts=1000):
    return {"id": task_id, "state": state, "result": f"/deployments/{deployment}", "timestamp": ts, "user": "admin",
            "description": "create deployment"}


def _run(seq, task_id, env="dev1", deployment="redis-dev1", run="r", ts=1000, **kw):
    common = dict(deployment=deployment, director_uuid="dir-1")
    intent = Record(D, env, "intent", "started", run, seq=seq, **common)
    facts = {k: v for k, v in _task(task_id, deployment, ts=ts).items() if k in tasks.FACTS}
    deploy = Record(D, env, "deploy", "passed", run, seq=seq + 1, intent=seq, task={**facts, **kw}, **common)
    return [intent, deploy]


BOUND = pol.with_change(DEFAULT, bind={env: pol.Binding(f"redis-{env}", "dir-1") for env in ("dev1", "dev2")})


def _verify(records, table, record=None):
    return tasks.verify(record or records[-1], Director(table), records, BOUND)


def test_a_record_the_director_confirms_is_trusted():
    assert _verify(_run(0, 7), {7: _task(7)}) is None


@pytest.mark.parametrize(("table", "words"), [
    ({}, "names task 7, which director dir-1 does not have"),
    ({7: _task(7, deployment="redis-dev2")}, "result '/deployments/redis-dev1' expected, director says '/deployments/redis-dev2'"),
    ({7: _task(7, state="error")}, "state 'done' expected, director says 'error'"),
    ({7: _task(7, ts=1001)}, "timestamp 1000 expected, director says 1001"),
])
def test_a_record_the_director_contradicts_fails_closed_naming_it(table, words):
    refusal = _verify(_run(0, 7), table)
    assert refusal.rule == "director-task" and words in refusal.reason
    assert refusal.reason.startswith("ledger record #1 (deploy candidate of dddddddddddd in dev1, task 7, run r)")


def test_a_record_for_another_deployment_or_director_is_not_trusted():
    records = _run(0, 7, deployment="redis-production")
    assert "says it changed deployment redis-production, but dev1 is deployment redis-dev1" in _verify(
        records, {7: _task(7, "redis-production")}).reason
    other = [r.__class__(**{**r.__dict__, "director_uuid": "dir-2"}) for r in _run(0, 7)]
    assert "was made on director dir-2, but dev1 is bound to director dir-1" in _verify(other, {7: _task(7)}).reason
    # made on the bound director, but this command's director for dev1 is another one
    assert "was made on director dir-1, but this command talks to director dir-9" in tasks.verify(
        _run(0, 7)[-1], type("D9", (Director,), {"uuid": lambda self: "dir-9"})({7: _task(7)}), _run(0, 7),
        BOUND).reason


def test_a_task_claimed_twice_is_caught():
    records = _run(0, 7) + _run(2, 7, run="forged")
    refusal = _verify(records, {7: _task(7)})
    assert "claims task 7, which record #1 claims too" in refusal.reason


def test_task_ids_must_follow_the_chain():
    """Task 5 cannot have been started after an intent written once task 7 had ended."""
    records = _run(0, 7) + _run(2, 5, run="later")
    refusal = _verify(records, {7: _task(7), 5: _task(5)})
    assert "names task 5, but record #1, written before its intent #2, already names the later task 7" in refusal.reason
    # two runs that overlap (both intents written before either outcome) may finish in any order
    a, b = _run(0, 7, run="a"), _run(10, 5, run="b")
    overlapping = [a[0], b[0].__class__(**{**b[0].__dict__, "seq": 1}),
                   b[1].__class__(**{**b[1].__dict__, "seq": 2, "intent": 1}),
                   a[1].__class__(**{**a[1].__dict__, "seq": 3})]
    table = {7: _task(7), 5: _task(5)}
    assert _verify(overlapping, table, overlapping[2]) is None and _verify(overlapping, table, overlapping[3]) is None


def test_a_record_without_an_intent_or_task_is_not_trusted():
    intent, deploy = _run(0, 7)
    assert "names no director task" in _verify([intent, deploy.__class__(**{**deploy.__dict__, "task": None})], {}).reason
    assert "completes intent #0, which is not an intent record" in _verify([deploy], {7: _task(7)}).reason


def test_a_record_from_a_director_other_than_the_bound_one_is_not_trusted():
    """Attacker: the store's credentials plus their own config. They append a run made on a
    director of their own (its tasks are real there) and point the command's dev1 director
    at it; the records and the director agree, but dev1 is bound to another director."""
    bound = pol.with_change(DEFAULT, bind={"dev1": pol.Binding("redis-dev1", "dir-real")})
    records = _run(0, 7)  # made on dir-1, the attacker's director
    refusal = tasks.verify(records[-1], Director({7: _task(7)}), records, bound)
    assert refusal is not None and refusal.rule == "director-task"
    assert "was made on director dir-1, but dev1 is bound to director dir-real" in refusal.reason
    assert "policy" in refusal.remedy


def test_a_record_in_an_environment_the_pipeline_never_bound_is_not_trusted():
    """The tool binds an environment before its first deploy: a run in an unbound one was
    written by someone else, naming whatever director their config points at."""
    records = _run(0, 7)
    refusal = tasks.verify(records[-1], Director({7: _task(7)}), records, DEFAULT)
    assert refusal is not None and refusal.rule == "director-task"
    assert "claims a run in dev1, which the pipeline's policy (version 0) binds to no director" in refusal.reason
    assert "python -m promotion deploy DIGEST --env dev1" in refusal.remedy
