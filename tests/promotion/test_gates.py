"""Gates decide from the candidate and the ledger alone; each refusal names rule and remedy."""

import pytest

from promotion import candidate as cand
from promotion import gates
from promotion.ledger import Ledger, Record

D = "d" * 64


def _cand(version="9.1", digest=D):
    return cand.Candidate(digest=digest, meta={"releases": [{"name": "redis", "version": version}]}, files={})


def _run(env, digest, run_id, deploy="passed", check="passed", reset_base=None, reset=None):
    recs = []
    if reset is not None:
        base, outcome = reset
        recs += [Record(base, env, "deploy", outcome, run_id, purpose="reset"),
                 Record(base, env, "check", outcome, run_id, purpose="reset")]
    recs.append(Record(digest, env, "deploy", deploy, run_id, task_id=7, reset_base=reset_base))
    if check:
        recs.append(Record(digest, env, "check", check, run_id, reset_base=reset_base))
    return recs


def test_dev_environments_accept_anything():
    assert gates.check(_cand("9+dev.1"), "dev1", []) == []
    assert gates.check(_cand("latest"), "dev2", []) == []


def test_staging_refuses_dev_release_even_after_dev_passed():
    refusals = gates.check(_cand("9+dev.1"), "staging", _run("dev1", D, "r1"))
    assert [r.rule for r in refusals] == ["final-releases"]
    text = str(refusals[0])
    assert "redis/9+dev.1" in text and "to satisfy it" in text and "--release redis=9.1" in text


def test_staging_refuses_latest():
    assert [r.rule for r in gates.check(_cand("latest"), "staging", _run("dev1", D, "r1"))] == ["final-releases"]


def test_staging_refuses_untested_candidate():
    refusals = gates.check(_cand(), "staging", [])
    assert [r.rule for r in refusals] == ["passed-dev"]
    assert f"python -m promotion deploy {D} --env dev1" in str(refusals[0])


@pytest.mark.parametrize(("deploy", "check"), [("failed", None), ("passed", "failed"), ("passed", None)])
def test_staging_refuses_candidate_that_failed_in_dev(deploy, check):
    assert [r.rule for r in gates.check(_cand(), "staging", _run("dev2", D, "r", deploy, check))] == ["passed-dev"]


def test_staging_accepts_final_candidate_that_passed_dev2():
    assert gates.check(_cand(), "staging", _run("dev2", D, "r")) == []


def test_production_refuses_candidate_that_skipped_staging():
    refusals = gates.check(_cand(), "production", _run("dev1", D, "r1"), production_current=None)
    assert [r.rule for r in refusals] == ["passed-staging-after-reset"]
    assert "skipped staging" in str(refusals[0])


def test_production_needs_the_reset_to_current_production():
    p0 = "0" * 64
    recs = _run("dev1", D, "r1") + _run("staging", D, "r2", reset_base=p0, reset=(p0, "passed"))
    assert gates.check(_cand(), "production", recs, production_current=p0) == []
    # production moved on since that staging run: the staging change no longer matches
    refusals = gates.check(_cand(), "production", recs, production_current="1" * 64)
    assert [r.rule for r in refusals] == ["passed-staging-after-reset"]
    assert "not after a reset" in str(refusals[0])


def test_production_refuses_when_the_reset_failed():
    p0 = "0" * 64
    recs = _run("staging", D, "r2", reset_base=p0, reset=(p0, "failed"))
    assert [r.rule for r in gates.check(_cand(), "production", recs, production_current=p0)] == [
        "passed-staging-after-reset"
    ]


def test_first_production_deploy_needs_staging_without_reset():
    recs = _run("staging", D, "r2", reset_base=None)
    assert gates.check(_cand(), "production", recs, production_current=None) == []


def test_production_refuses_dev_releases_too():
    recs = _run("staging", D, "r2")
    assert "final-releases" in [r.rule for r in gates.check(_cand("9+dev.2"), "production", recs)]


def test_ledger_current_and_runs(local_store):
    ledger = Ledger(local_store)
    for r in _run("dev1", D, "r1") + _run("dev1", "e" * 64, "r2", deploy="failed", check=None):
        ledger.append(r)
    assert ledger.current("dev1") == D  # the failed deploy does not change what runs
    assert [len(run) for run in ledger.runs("dev1", D)] == [2]
    lines = ledger.lines().splitlines()
    assert len(lines) == 3 and all(line.startswith("{") for line in lines)
