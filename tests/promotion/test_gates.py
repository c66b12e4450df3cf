"""Gates decide from the candidate and the ledger (in chain order); each refusal names rule
and remedy. Production's state is the digest of its recorded manifest (P0, P1 here)."""

import pytest

from promotion import candidate as cand
from promotion import gates
from promotion.ledger import NO_CANDIDATE, Ledger, Record, runs_of

D = "d" * 64
P0, P1 = "0" * 64, "1" * 64
STEMCELL = {"name": "bosh-warden-boshlite-ubuntu-trusty-go_agent", "version": "3147"}


def _cand(version="9.1", digest=D, stemcell_version="3147"):
    return cand.Candidate(digest=digest, files={}, meta={
        "releases": [{"name": "redis", "version": version}],
        "stemcell": {**STEMCELL, "version": stemcell_version}})


_seq = iter(range(10**6))


def _rec(*args, **kw):
    """Records numbered in the order a run appends them (the chain's order; clocks play no part)."""
    return Record(*args, seq=next(_seq), time="1999-01-01T00:00:00Z", **kw)


def _deploy(digest, env, outcome, run_id, **kw):
    intent = _rec(digest, env, "intent", "started", run_id, purpose=kw.get("purpose", "candidate"))
    return [intent, _rec(digest, env, "deploy", outcome, run_id, task={"id": intent.seq}, intent=intent.seq, **kw)]


def _run(env, digest, run_id, deploy="passed", check="passed", reset_base=None, reset=None):
    """One run's records. `reset` = (base, outcome): a reset to production's state `base`
    (a deploy of its candidate, here P0/P1 stand for both), or to empty when base is None."""
    recs = []
    if reset is not None:
        base, outcome = reset
        if base is None:
            recs.append(_rec(NO_CANDIDATE, env, "delete", outcome, run_id, purpose="reset"))
        else:
            recs += _deploy(base, env, outcome, run_id, purpose="reset", reset_base=base)
            recs.append(_rec(base, env, "check", outcome, run_id, purpose="reset", reset_base=base))
    recs += _deploy(digest, env, deploy, run_id, reset_base=reset_base)
    if check:
        recs.append(_rec(digest, env, "check", check, run_id, reset_base=reset_base))
    return recs


def _rules(refusals):
    return [r.rule for r in refusals]


def test_dev_environments_accept_anything():
    assert gates.promotion_gates(_cand("9+dev.1", stemcell_version="latest"), "dev1", []) == []
    assert gates.promotion_gates(_cand("latest"), "dev2", []) == []


def test_staging_refuses_dev_release_even_after_dev_passed():
    refusals = gates.promotion_gates(_cand("9+dev.1"), "staging", _run("dev1", D, "r1"))
    assert _rules(refusals) == ["final-releases"]
    text = str(refusals[0])
    assert "redis/9+dev.1" in text and "to satisfy it" in text and "--release redis=9.1" in text


@pytest.mark.parametrize("env", ["staging", "production"])
@pytest.mark.parametrize(("version", "stemcell"), [("latest", "3147"), ("9+dev.1", "3147"), ("9.1", "latest"),
                                                   ("9.1-rc.2", "3147"), ("9.1", "3147+dev.1")])
def test_staging_and_production_refuse_anything_but_exact_final_versions(env, version, stemcell):
    recs = _run("dev1", D, "r1") + _run("staging", D, "r2", reset_base=None, reset=(None, "passed"))
    refusals = gates.promotion_gates(_cand(version, stemcell_version=stemcell), env, recs, None)
    assert _rules(refusals) == ["final-releases"]
    assert (version if version != "9.1" else stemcell) in str(refusals[0])


def test_pinned_manifest_catches_versions_a_template_brings_in():
    ok = {"releases": [{"name": "redis", "version": "9.1"}],
          "resource_pools": [{"name": "small_z1", "stemcell": STEMCELL}]}
    assert gates.pinned_manifest(ok, "staging") == []
    latest = {**ok, "resource_pools": [{"name": "small_z1", "stemcell": {**STEMCELL, "version": "latest"}}]}
    assert "stemcell bosh-warden-boshlite-ubuntu-trusty-go_agent/latest" in str(gates.pinned_manifest(latest, "x")[0])
    dev = {**ok, "releases": [{"name": "redis", "version": "9+dev.3"}]}
    assert _rules(gates.pinned_manifest(dev, "production")) == ["final-releases"]


def test_staging_refuses_untested_candidate():
    refusals = gates.promotion_gates(_cand(), "staging", [])
    assert _rules(refusals) == ["passed-dev"]
    assert f"python -m promotion deploy {D} --env dev1" in str(refusals[0])


@pytest.mark.parametrize(("deploy", "check"), [("failed", None), ("passed", "failed"), ("passed", None)])
def test_staging_refuses_candidate_that_failed_in_dev(deploy, check):
    assert _rules(gates.promotion_gates(_cand(), "staging", _run("dev2", D, "r", deploy, check))) == ["passed-dev"]


def test_staging_accepts_final_candidate_that_passed_dev2():
    assert gates.promotion_gates(_cand(), "staging", _run("dev2", D, "r")) == []


def test_production_refuses_candidate_that_skipped_staging():
    refusals = gates.promotion_gates(_cand(), "production", _run("dev1", D, "r1"), production_state=None)
    assert _rules(refusals) == ["passed-staging-after-reset"]
    assert "skipped staging" in str(refusals[0])


def test_production_needs_the_reset_to_current_production():
    recs = _run("dev1", D, "r1") + _run("staging", D, "r2", reset_base=P0, reset=(P0, "passed"))
    assert gates.promotion_gates(_cand(), "production", recs, production_state=P0) == []
    # production moved on since that staging run: the staging change no longer matches
    refusals = gates.promotion_gates(_cand(), "production", recs, production_state=P1)
    assert _rules(refusals) == ["passed-staging-after-reset"]
    assert "not after a passing reset to production's current state 111111111111: that run reset staging to " \
           "000000000000" in str(refusals[0])


def test_reset_records_must_be_of_productions_state():
    """The run says reset_base P0, but what it deployed as the reset was another state."""
    recs = _run("staging", D, "r2", reset_base=P0, reset=(P1, "passed"))
    assert _rules(gates.promotion_gates(_cand(), "production", recs, production_state=P0)) == ["passed-staging-after-reset"]


def test_production_refuses_when_the_reset_failed():
    recs = _run("staging", D, "r2", reset_base=P0, reset=(P0, "failed"))
    assert _rules(gates.promotion_gates(_cand(), "production", recs, production_state=P0)) == ["passed-staging-after-reset"]


def test_a_staging_pass_before_a_later_reset_does_not_count():
    """D passed staging; then another run reset staging again (and deployed E there). D's
    pass no longer describes what staging runs, so production refuses D."""
    e = "e" * 64
    recs = (_run("staging", D, "r2", reset_base=P0, reset=(P0, "passed"))
            + _run("staging", e, "r3", reset_base=P0, reset=(P0, "passed")))
    refusals = gates.promotion_gates(_cand(), "production", recs, production_state=P0)
    assert _rules(refusals) == ["passed-staging-after-reset"]
    assert "staging was changed since" in str(refusals[0])
    # a later run that only got as far as the reset counts as a change too
    recs = [*_run("staging", D, "r2", reset_base=P0, reset=(P0, "passed")),
            _rec(P0, "staging", "intent", "started", "r4", purpose="reset")]  # a run that set out to reset
    assert _rules(gates.promotion_gates(_cand(), "production", recs, production_state=P0)) == ["passed-staging-after-reset"]


def test_failed_integration_test_of_staging_after_the_run_blocks_production():
    recs = _run("staging", D, "r2", reset_base=P0, reset=(P0, "passed"))
    assert gates.promotion_gates(_cand(), "production", recs, production_state=P0) == []
    recs.append(_rec(D, "staging", "test", "failed", "t1", detail="test_integration.py: 1 failed"))
    refusals = gates.promotion_gates(_cand(), "production", recs, production_state=P0)
    assert _rules(refusals) == ["passed-staging-after-reset"] and "integration tests" in str(refusals[0])


def test_first_promotion_needs_staging_reset_to_empty():
    with_reset = _run("staging", D, "r2", reset_base=None, reset=(None, "passed"))
    assert gates.promotion_gates(_cand(), "production", with_reset, production_state=None) == []
    without = _run("staging", D, "r2", reset_base=None)
    assert _rules(gates.promotion_gates(_cand(), "production", without, None)) == ["passed-staging-after-reset"]
    failed = _run("staging", D, "r2", reset_base=None, reset=(None, "failed"))
    assert _rules(gates.promotion_gates(_cand(), "production", failed, None)) == ["passed-staging-after-reset"]


def test_ledger_current_and_runs(local_store):
    ledger = Ledger(local_store)
    for r in _run("dev1", D, "r1") + _run("dev1", "e" * 64, "r2", deploy="failed", check=None):
        ledger.append(r)
    assert ledger.current("dev1") == D  # the failed deploy does not change what runs
    assert [len(run) for run in runs_of(ledger.records(), "dev1", D)] == [3]  # intent, deploy, check
    lines = ledger.lines().splitlines()
    assert len(lines) == 5 and all(line.startswith("{") for line in lines)
    ledger.append(_rec(NO_CANDIDATE, "dev1", "delete", "passed", "r3", purpose="reset"))
    assert ledger.current("dev1") is None  # deleted since


def test_a_record_the_director_does_not_confirm_fails_closed():
    """passed-dev relies on a dev run only after `verify` (the director) confirms it."""
    recs = _run("dev1", D, "r1")
    forged = gates.Refusal("director-task", "ledger record #1 ... does not match", "restore it")
    refusals = gates.promotion_gates(_cand(), "staging", recs, verify=lambda r: forged if r.kind == "deploy" else None)
    assert refusals == [forged]
    recs = _run("staging", D, "r2", reset_base=P0, reset=(P0, "passed"))
    asked = []
    assert gates.promotion_gates(_cand(), "production", recs, P0, verify=lambda r: asked.append(r.kind)) == []
    assert asked == ["deploy", "deploy"]  # the reset's and the candidate's deploy


def test_a_fresh_dev_run_counts_when_an_older_one_can_no_longer_be_confirmed():
    """The remedy for a dev run whose task the director has pruned is a fresh run; that run
    must satisfy passed-dev even though the old one is still in the ledger (and a run
    someone forged into the ledger must not block a genuine one either)."""
    old, fresh = _run("dev1", D, "old"), _run("dev2", D, "fresh")
    pruned = gates.Refusal("director-task", "ledger record #1 names task 1, which director d does not have", "rerun")
    confirmed_only_fresh = {r.seq for r in fresh}
    verify = lambda r: None if r.seq in confirmed_only_fresh else pruned  # noqa: E731
    assert gates.passed_dev(_cand(), old + fresh, verify) == []
    assert gates.passed_dev(_cand(), old, verify) == [pruned]


def test_an_unfinished_intent_is_reported_with_the_recover_command():
    recs = _deploy(D, "staging", "passed", "r1")[:1]  # the intent, and then nothing
    refusals = gates.unfinished(recs, ("staging", "production"))
    assert [r.rule for r in refusals] == ["unfinished-intent"]
    assert "recover --env staging --force" in refusals[0].remedy and "run r1" in refusals[0].reason
    assert gates.unfinished(recs, ("dev1",)) == []


@pytest.mark.parametrize(("candidate", "stemcell", "running", "down"), [
    ("9", "3147", ("9.1", "3147"), "release redis 9.1 -> 9"),
    ("9.1", "3146", ("9.1", "3147"), "stemcell bosh-warden-boshlite-ubuntu-trusty-go_agent 3147 -> 3146"),
    ("12", "3147", ("9.1", "3147"), None),
    ("9.1", "3147", ("9.1", "3147"), None),
])
def test_downgrades_are_refused(candidate, stemcell, running, down):
    production = {"releases": [{"name": "redis", "version": running[0]}],
                  "resource_pools": [{"name": "small_z1", "stemcell": {**STEMCELL, "version": running[1]}}]}
    refusals = gates.no_downgrade(_cand(candidate, stemcell_version=stemcell), production, "staging")
    if down is None:
        assert refusals == []
    else:
        assert [r.rule for r in refusals] == ["no-downgrade"] and down in refusals[0].reason
        assert "--allow-downgrade" in refusals[0].remedy
    assert gates.no_downgrade(_cand("1"), None, "staging") == []  # production empty: nothing to go back from
