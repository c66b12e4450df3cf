"""The gated flow end to end with a small in-process director and real redis-servers:
dev -> staging (reset to production first) -> production, and what each gate refuses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from fakes import FakeDirector

from fixtures.redis import REDIS_TEMPLATES, build_candidate
from promotion import candidate as cand
from promotion.deploy import Promoter, PromotionFailed
from promotion.gates import GateRefused
from promotion.ledger import Ledger
from promotion.lock import EnvLock, LockHeld
from promotion.manifest import render

pytestmark = pytest.mark.usefixtures("redis_server")


def _rules(exc: GateRefused) -> list[str]:
    return [r.rule for r in exc.refusals]


def test_whole_flow_with_reset(promoter, dev_tested, director, local_store, redis_upstream):
    dev_tested("9", "9.1", env="dev1")
    v1 = build_candidate(local_store, redis_upstream, {"redis": "9"})
    promoter.deploy(v1, "dev1")
    promoter.deploy(v1, "staging")  # production empty: nothing to reset to
    promoter.deploy(v1, "production")
    ledger = Ledger(local_store)
    assert ledger.current("production") == v1

    v2 = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    promoter.deploy(v2, "dev2")
    director.deploy_log.clear()
    promoter.deploy(v2, "staging")
    # staging was reset to production's candidate (redis 9) before the candidate (9.1)
    assert director.deploy_log == [("redis-staging", "9"), ("redis-staging", "9.1")]
    promoter.deploy(v2, "production")
    assert ledger.current("production") == v2
    records = ledger.records()
    assert all(r.passed for r in records if r.kind in ("deploy", "check", "delete"))
    assert {r.kind for r in records} == {"intent", "deploy", "check", "delete", "policy"}
    # every director task was announced before it started and completed after it ended
    intents = [r for r in records if r.kind == "intent"]
    assert [(r.kind, r.intent) for r in records if r.kind == "deploy"] == [("deploy", i.seq) for i in intents]
    # each environment was bound to the director it was first deployed to, as a recorded decision
    assert [r.detail.split(" at ")[0] for r in records if r.kind == "policy"] == [
        f"{env} bound to director fake-director-uuid" for env in ("dev1", "staging", "production", "dev2")]
    # the first staging run reset staging to production's state: empty (nothing to delete)
    first_reset = next(r for r in records if r.purpose == "reset")
    assert (first_reset.kind, first_reset.candidate, first_reset.detail) == (
        "delete", "none", "redis-staging was already empty")
    assert all(r.task["state"] == "done" and r.task["result"] == f"/deployments/redis-{r.env}"
               for r in records if r.kind == "deploy")
    assert [r.purpose for r in records if r.env == "staging" and r.candidate == v1 and r.reset_base == v1] == []
    resets = [r for r in records if r.purpose == "reset" and r.kind in ("deploy", "check")]
    assert [(r.env, r.candidate, r.kind) for r in resets] == [("staging", v1, "deploy"), ("staging", v1, "check")]
    # parity after promotion: production runs staging's manifest but for per-env paths
    assert promoter.diff_envs("staging", "production") != []
    from promotion.parity import violations
    assert violations(promoter.diff_envs("staging", "production"), promoter.allowed_diff_paths) == []


def test_checks_really_ran_against_redis(promoter, local_store, redis_upstream):
    v1 = build_candidate(local_store, redis_upstream, {"redis": "9+dev.1"})
    promoter.deploy(v1, "dev1")
    check = next(r for r in Ledger(local_store).records() if r.kind == "check")
    assert check.passed
    assert "replicated to followers: ok" in check.detail and "wrong password refused: ok" in check.detail


def test_dev_release_candidate_refused_by_staging(promoter, local_store, redis_upstream):
    dev = build_candidate(local_store, redis_upstream, {"redis": "9+dev.1"})
    promoter.deploy(dev, "dev1")
    with pytest.raises(GateRefused) as err:
        promoter.deploy(dev, "staging")
    assert _rules(err.value) == ["final-releases"]


def test_untested_candidate_refused_by_staging(promoter, dev_tested, local_store, redis_upstream):
    dev_tested("9.1")  # so that only the candidate is untested
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    with pytest.raises(GateRefused) as err:
        promoter.deploy(c, "staging")
    assert _rules(err.value) == ["passed-dev"]
    assert [r for r in Ledger(local_store).records() if r.candidate == c] == []  # nothing was deployed


def test_candidate_that_skipped_staging_refused_by_production(promoter, dev_tested, local_store, redis_upstream):
    dev_tested("9.1")
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    promoter.deploy(c, "dev1")
    with pytest.raises(GateRefused) as err:
        promoter.deploy(c, "production")
    assert _rules(err.value) == ["passed-staging-after-reset"]


def test_failed_checks_block_promotion(promoter, director, local_store, redis_upstream):
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    director.fail_next = 1
    with pytest.raises(PromotionFailed):
        promoter.deploy(c, "dev1")
    failed = [r for r in Ledger(local_store).records() if r.kind != "policy"]
    assert [(r.kind, r.outcome, r.task_id) for r in failed] == [("intent", "started", None), ("deploy", "failed", 1)]
    assert failed[1].task == {"id": 1, "state": "error", "result": "injected failure",
                              "timestamp": 1_700_000_010, "user": "admin"}
    with pytest.raises(GateRefused):
        promoter.deploy(c, "staging")


def test_tampered_candidate_refused_before_any_deploy(promoter, director, local_store, redis_upstream):
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    data = bytearray(local_store.get(cand.key(c)))
    data[len(data) // 2] ^= 0xFF
    local_store.put(cand.key(c), bytes(data))
    with pytest.raises(cand.CandidateError, match="tampered"):
        promoter.deploy(c, "dev1")
    assert director.deploy_log == []


def test_parity_violation_refused(promoter, dev_tested, local_store, redis_upstream, tmp_path):
    dev_tested("9.1")
    templates = tmp_path / "templates"
    shutil.copytree(REDIS_TEMPLATES, templates)
    scaling = templates / "scaling-production.yml"
    scaling.write_text(scaling.read_text().replace("slaves: 2", "slaves: 3"))
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"}, templates=templates)
    promoter.deploy(c, "dev1")
    promoter.deploy(c, "staging")
    with pytest.raises(GateRefused) as err:
        promoter.deploy(c, "production")
    assert _rules(err.value) == ["parity"]
    assert "jobs.redis_z1.instances: staging=2 production=3" in str(err.value)


def test_concurrent_promotion_refused(promoter, dev_tested, local_store, redis_upstream):
    dev_tested("9.1")
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    promoter.deploy(c, "dev1")
    other = EnvLock(local_store, "staging", "other-run", c)
    other.acquire()
    with pytest.raises(LockHeld, match="other-run"):
        promoter.deploy(c, "staging")
    other.release()
    promoter.deploy(c, "staging")


def test_manifests_of_the_four_environments_use_their_own_ranges(promoter, local_store, redis_upstream):
    c = promoter.load(build_candidate(local_store, redis_upstream, {"redis": "9.1"}))
    seen = {}
    for env in cand.ENVIRONMENTS:
        m = promoter.manifest_for(c, env)
        seen[env] = m["networks"][0]["subnets"][0]["range"]
        assert m["name"] == f"redis-{env}"
        assert m["properties"]["redis"]["hostname"] == f"redis-{env}.bosh-lite.com"
        assert m["releases"] == [{"name": "redis", "version": "9.1"}]
    assert len(set(seen.values())) == 4
    for r in seen.values():
        octet = int(r.split(".")[2])
        assert octet >= 40, "must not overlap CF (10.244.0-3.x) or Diego (10.244.16-38.x)"
    assert Path(REDIS_TEMPLATES / "networking-dev1.yml").is_file()


def test_checks_that_cannot_run_are_recorded_as_failed(promoter, director, local_store, redis_upstream, monkeypatch):
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})

    def broken(name):
        raise ConnectionError("director went away")

    monkeypatch.setattr(director, "instances_full", broken)
    with pytest.raises(PromotionFailed):
        promoter.deploy(c, "dev1")
    check = [r for r in Ledger(local_store).records() if r.kind == "check"]
    assert [(r.outcome, r.detail) for r in check] == [("failed", "checks ran: FAILED ConnectionError: director went away")]


def test_a_staging_pass_does_not_count_once_staging_moved_on(promoter, dev_tested, director, local_store, redis_upstream):
    """c passed staging; then `other` went to staging (after a reset). Staging no longer shows
    what production would become with c, so production refuses c until c is staged again."""
    dev_tested("9", "9.1")
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    other = build_candidate(local_store, redis_upstream, {"redis": "9"})
    first = build_candidate(local_store, redis_upstream, {"redis": "9"}, stemcell_version="2775")
    for digest in (c, other, first):
        promoter.deploy(digest, "dev1")
    promoter.deploy(first, "staging")
    promoter.deploy(first, "production")
    promoter.deploy(c, "staging")
    promoter.deploy(other, "staging")
    assert Ledger(local_store).current("staging") == other
    with pytest.raises(GateRefused) as err:
        promoter.deploy(c, "production")
    assert _rules(err.value) == ["passed-staging-after-reset"] and "staging was changed since" in str(err.value)
    promoter.deploy(c, "staging")
    promoter.deploy(c, "production")
    assert Ledger(local_store).current("production") == c


def test_first_promotion_resets_staging_to_empty(promoter, dev_tested, director, local_store, redis_upstream):
    """Production has no candidate: it will get a fresh create, so staging is emptied first
    and the candidate's staging deploy is that same create."""
    dev_tested("9", "9.1")
    old = build_candidate(local_store, redis_upstream, {"redis": "9"})
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    for digest in (old, c):
        promoter.deploy(digest, "dev1")
    promoter.deploy(old, "staging")  # staging runs `old`, production nothing
    director.deploy_log.clear()
    promoter.deploy(c, "staging")
    assert director.deploy_log == [("redis-staging", "deleted"), ("redis-staging", "9.1")]
    reset = [r for r in Ledger(local_store).records() if r.purpose == "reset"][-1]
    assert (reset.kind, reset.outcome, reset.task_id is not None) == ("delete", "passed", True)
    assert any("deleting redis-staging" in m for m in promoter.messages)
    promoter.deploy(c, "production")


def test_failed_reset_stops_the_run_and_blocks_production(promoter, dev_tested, director, local_store, redis_upstream):
    dev_tested("9", "9.1")
    p0 = build_candidate(local_store, redis_upstream, {"redis": "9"})
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    for digest in (p0, c):
        promoter.deploy(digest, "dev1")
    promoter.deploy(p0, "staging")
    promoter.deploy(p0, "production")
    director.deploy_log.clear()
    director.fail_next = 1  # the reset deploy fails
    with pytest.raises(PromotionFailed, match="staging reset to production's state"):
        promoter.deploy(c, "staging")
    assert director.deploy_log == []  # the candidate was never deployed
    with pytest.raises(GateRefused) as err:
        promoter.deploy(c, "production")
    assert _rules(err.value) == ["passed-staging-after-reset"]


def test_a_failing_deploy_releases_the_lock(promoter, dev_tested, director, local_store, redis_upstream):
    dev_tested("9.1")
    from promotion.lock import read_holder

    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    promoter.deploy(c, "dev1")
    director.fail_next = 1  # the reset to empty deploys nothing; the candidate's deploy fails
    with pytest.raises(PromotionFailed):
        promoter.deploy(c, "staging")
    assert read_holder(local_store, "staging") is None
    with pytest.raises(GateRefused):
        promoter.deploy(c, "production")  # refused, and the refusal releases the lock too
    assert read_holder(local_store, "production") is None
    promoter.deploy(c, "staging")


def test_stopped_follower_fails_the_checks_and_the_deploy(promoter, director, local_store, redis_upstream):
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    promoter.deploy(c, "dev1")
    manifest = yaml.safe_load(director.deployment_manifest("redis-dev1"))
    assert promoter.check("dev1", manifest).passed
    director.stop_instance("redis-dev1", "redis_z1")
    promoter.replication_wait = 0.5
    report = promoter.check("dev1", manifest)
    assert not report.passed and "replicated to followers: FAILED" in report.summary()
    assert "authenticate: ok" in report.summary()  # the others still pass: the failure is named


def test_secrets_never_reach_the_ledger_the_candidate_or_the_output(promoter, director, local_store,
                                                                    redis_upstream, monkeypatch):
    secret = "Sup3r-s3cret-redis-pw"
    promoter.passwords["dev1"] = secret
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    promoter.deploy(c, "dev1")
    assert secret in director.deployment_manifest("redis-dev1")  # the deployment really uses it

    def leaky_deploy(manifest_yaml: str):
        raise RuntimeError(f"director rejected manifest: {manifest_yaml}")

    monkeypatch.setattr(director, "deploy", leaky_deploy)
    with pytest.raises(PromotionFailed):
        promoter.deploy(c, "dev1")
    import gzip

    stored = b"".join(gzip.decompress(local_store.get(k)) if k.endswith(".tgz") else local_store.get(k)
                      for k in local_store.list(""))
    assert b"director rejected manifest" in stored  # the failure is recorded ...
    assert secret.encode() not in stored  # ... without the password: ledger, candidate, lock
    assert not [m for m in promoter.messages if secret in m]
    assert any("director rejected manifest" in m for m in promoter.messages)


def test_a_production_the_ledger_does_not_know_is_not_taken_for_empty(promoter, dev_tested, director, local_store,
                                                                      redis_upstream, tmp_path):
    dev_tested("9.1")
    from promotion.store import LocalStore

    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    promoter.deploy(c, "dev1")
    promoter.deploy(c, "staging")
    promoter.deploy(c, "production")
    fresh = Promoter(store=LocalStore(tmp_path / "other-store"), director=director, resolve=director.resolve,
                     out=lambda m: None)
    fresh.store.put(cand.key(c), local_store.get(cand.key(c)))
    dev_tested("9.1", promoter=fresh)
    fresh.deploy(c, "dev1")
    director.deploy_log.clear()
    with pytest.raises(GateRefused) as err:
        fresh.deploy(c, "staging")
    assert _rules(err.value) == ["known-production"] and "redis-production" in str(err.value)
    assert director.deploy_log == []  # staging was not deleted


def test_a_failed_first_production_deploy_can_be_retried(promoter, dev_tested, director, local_store, redis_upstream):
    dev_tested("9.1")
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    promoter.deploy(c, "dev1")
    promoter.deploy(c, "staging")
    director.fail_next = 1
    with pytest.raises(PromotionFailed):
        promoter.deploy(c, "production")
    director.manifests["redis-production"] = "name: redis-production\n"  # what the failed task left behind
    promoter.deploy(c, "production")  # the ledger knows that deployment: no known-production refusal
    assert Ledger(local_store).current("production") == c


# ---------------------------------------------------------------------- attacks (issue 10), on the fake director


def _forge(store, *records):
    """Append records as someone with the store's credentials can: computing the hashes."""
    from promotion.ledger import digest, encode, key_of

    keys = store.list("ledger/")
    seq, prev = len(keys), digest(store.get(keys[-1]))
    for r in records:
        data = encode(r.__class__(**{**r.__dict__, "seq": seq, "prev": prev}))
        store.put(key_of(seq), data)
        seq, prev = seq + 1, digest(data)


def test_forged_dev_records_are_caught_by_the_director_cross_check(promoter, dev_tested, director, local_store, redis_upstream):
    dev_tested("9")
    from promotion.ledger import Record

    other = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    promoter.deploy(other, "dev1")
    c = build_candidate(local_store, redis_upstream, {"redis": "9"})
    real = next(r for r in Ledger(local_store).records() if r.kind == "deploy" and r.candidate == other)
    seq = len(Ledger(local_store).records())
    common = dict(deployment="redis-dev1", director_uuid="fake-director-uuid")
    _forge(local_store, Record(c, "dev1", "intent", "started", "forged", **common),
           Record(c, "dev1", "deploy", "passed", "forged", task=dict(real.task), intent=seq, **common),
           Record(c, "dev1", "check", "passed", "forged", **common))
    director.deploy_log.clear()
    with pytest.raises(GateRefused) as err:
        promoter.deploy(c, "staging")
    assert _rules(err.value) == ["director-task"]
    assert f"claims task {real.task_id}, which record #{real.seq} claims too" in str(err.value)
    assert director.deploy_log == []


def test_a_crashed_staging_run_is_reported_and_recovered(promoter, dev_tested, director, local_store, redis_upstream):
    """A run announced its staging reset (intent) and died holding the lock: the next run is
    refused with the remedy, and `recover` records what the director shows and frees the lock."""
    dev_tested("9.1")
    from promotion.drift import manifest_digest
    from promotion.ledger import Record
    from promotion.lock import read_holder

    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    promoter.deploy(c, "dev1")
    intended = promoter.manifest_for(promoter.load(c), "staging")
    EnvLock(local_store, "staging", "crashed-run", c).acquire()
    Ledger(local_store).append(Record(c, "staging", "intent", "started", "crashed-run", deployment="redis-staging",
                                      director_uuid="fake-director-uuid", manifest_digest=manifest_digest(intended),
                                      extra={"action": "deploy"}))
    director.deploy(yaml.safe_dump(intended))  # the task it had started ended after the crash
    with pytest.raises(GateRefused) as err:
        promoter.deploy(c, "staging")
    assert _rules(err.value) == ["unfinished-intent"] and "recover --env staging --force" in str(err.value)
    with pytest.raises(GateRefused):
        promoter.deploy(c, "production")  # production waits for staging to be known too
    [done] = promoter.recover("staging")
    assert (done.kind, done.outcome, done.extra) == ("deploy", "passed", {"recovered": True})
    assert "the director runs the intended manifest" in done.detail
    assert read_holder(local_store, "staging") is None
    with pytest.raises(GateRefused) as err:
        promoter.deploy(c, "production")  # a recovered deploy has no checks: it never counts as a pass
    assert _rules(err.value) == ["passed-staging-after-reset"]
    promoter.deploy(c, "staging")
    promoter.deploy(c, "production")


def test_a_config_cannot_widen_parity(promoter, local_store, redis_upstream):
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    promoter.stated_allowed_diff_paths = ("**",)
    with pytest.raises(GateRefused) as err:
        promoter.deploy(c, "dev1")
    assert _rules(err.value) == ["pipeline-policy"] and Ledger(local_store).records() == []


def test_a_config_naming_another_director_for_an_environment_is_refused(promoter, director, local_store,
                                                                        redis_upstream):
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    promoter.stated_environments = {"dev1": {"director_uuid": "the-dev-director"}}
    with pytest.raises(GateRefused) as err:
        promoter.deploy(c, "dev1")
    assert _rules(err.value) == ["bound-director"]
    assert "stated by the config to director the-dev-director, but this command's director for dev1 is " \
           "fake-director-uuid" in str(err.value)
    assert director.deploy_log == []


def test_drift_refused_then_adopted_or_restored(promoter, dev_tested, director, local_store, redis_upstream):
    dev_tested("9.1", "12")
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    for env in ("dev1", "staging", "production"):
        promoter.deploy(c, env)
    running = yaml.safe_load(director.deployment_manifest("redis-production"))
    next(j for j in running["jobs"] if j["name"] == "redis_z1")["instances"] = 3
    director.deploy(yaml.safe_dump(running))  # directly through the director
    nxt = build_candidate(local_store, redis_upstream, {"redis": "12"})
    promoter.deploy(nxt, "dev1")
    director.deploy_log.clear()
    with pytest.raises(GateRefused) as err:
        promoter.deploy(nxt, "staging")
    assert _rules(err.value) == ["production-drift"] and "jobs.redis_z1.instances: recorded=2 running=3" in str(err.value)
    assert director.deploy_log == []

    promoter.restore()  # the deliberate revert
    assert sum(1 for i in director.instances_full("redis-production") if i["job_name"] == "redis_z1") == 2
    director.deploy(yaml.safe_dump(running))  # drifts again
    promoter.adopt_drift("keep three followers")
    promoter.deploy(nxt, "staging")
    reset = [m for m in promoter.messages if m.startswith("resetting staging")][-1]
    assert "carrying the adopted drift (jobs.redis_z1.instances: candidate=2 adopted=3)" in reset
    promoter.deploy(nxt, "production")
    assert any("production changes:" in m and "jobs.redis_z1.instances: running=3 candidate=2" in m
               for m in promoter.messages)


def test_drift_is_not_adopted_while_a_production_run_is_unfinished(promoter, dev_tested, director, local_store,
                                                                   redis_upstream):
    """A run died mid-deploy of production and someone freed its lock by hand (`unlock`): what
    production runs now is a half-finished task, not a drift to accept as its state."""
    dev_tested("9.1")
    from promotion.ledger import Record

    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    for env in ("dev1", "staging", "production"):
        promoter.deploy(c, env)
    running = yaml.safe_load(director.deployment_manifest("redis-production"))
    next(j for j in running["jobs"] if j["name"] == "redis_z1")["instances"] = 3
    Ledger(local_store).append(Record(c, "production", "intent", "started", "crashed-run",
                                      deployment="redis-production", director_uuid="fake-director-uuid",
                                      extra={"action": "deploy"}))
    director.deploy(yaml.safe_dump(running))  # the crashed run's task, half what it meant to do
    before = len(Ledger(local_store).records())
    with pytest.raises(GateRefused) as err:
        promoter.adopt_drift("keep three followers")
    assert _rules(err.value) == ["unfinished-intent"] and "recover --env production --force" in str(err.value)
    assert len(Ledger(local_store).records()) == before


def test_a_forged_run_on_a_director_of_the_forgers_own_is_not_trusted(promoter, dev_tested, director, local_store,
                                                                       redis_upstream, tmp_path):
    """Attacker: the store's credentials and their own config. They deploy to a director of
    their own (a real task there), forge a passing dev1 run naming it, and run the staging
    deploy with dev1 pointed at that director: records and director agree, but dev1 is
    bound to the pipeline's director."""
    dev_tested("9.1", "12")
    from promotion.ledger import Record
    from promotion.tasks import facts

    promoter.deploy(build_candidate(local_store, redis_upstream, {"redis": "12"}), "dev1")  # binds dev1
    c = build_candidate(local_store, redis_upstream, {"redis": "9.1"})
    own = FakeDirector(tmp_path / "own", uuid="the-forgers-director")
    try:
        forger = Promoter(store=local_store, director=director, resolve=director.resolve, out=lambda m: None,
                          env_directors={"dev1": own})
        manifest = render(promoter.load(c), "dev1", own.uuid(), "pw")
        task = own.deploy(yaml.safe_dump(manifest))
        common = dict(deployment="redis-dev1", director_uuid=own.uuid())
        seq = len(Ledger(local_store).records())
        _forge(local_store, Record(c, "dev1", "intent", "started", "forged", **common),
               Record(c, "dev1", "deploy", "passed", "forged", task=facts(own, task.id), intent=seq, **common),
               Record(c, "dev1", "check", "passed", "forged", **common))
        director.deploy_log.clear()
        with pytest.raises(GateRefused) as err:
            forger.deploy(c, "staging")
        assert _rules(err.value) == ["director-task"]
        assert ("was made on director the-forgers-director, but dev1 is bound to director fake-director-uuid"
                in str(err.value))
        assert director.deploy_log == []
    finally:
        own.close()
