"""The whole promotion flow on the platform: build, dev1, integration checks, staging (with
the reset to production's candidate), production, parity. Ordered: each step builds on the
previous one (module-scoped store and ledger)."""

from __future__ import annotations

import pytest

from fixtures.redis import REDIS_TEMPLATES, STEMCELL
from promotion import candidate as cand
from promotion.ledger import Ledger

# ordered steps share one store: keep the module on one worker under `-n --dist loadgroup`
pytestmark = pytest.mark.xdist_group("redis-promotion")

STATE: dict[str, str] = {}


def _build(cli, capsys, redis_upstream, version: str) -> str:
    assert cli("build", "--upstream", str(redis_upstream), "--templates", str(REDIS_TEMPLATES),
               "--release", f"redis={version}", "--stemcell-version", STEMCELL[1]) == 0
    digest = capsys.readouterr().out.strip().splitlines()[-1]
    return cand.check_digest(digest)


def test_build_stores_a_verified_candidate(cli, capsys, redis_upstream, promotion_store):
    digest = _build(cli, capsys, redis_upstream, "9")
    c = cand.read(promotion_store.get(cand.key(digest)), digest)
    assert c.releases == [{"name": "redis", "version": "9", "final": True}]
    STATE["v1"] = digest


def test_dev1_deploy_runs_checks_and_records_them(cli, platform, promotion_store):
    assert cli("deploy", STATE["v1"], "--env", "dev1") == 0
    records = [r for r in Ledger(promotion_store).records() if r.env == "dev1" and r.kind != "policy"]
    assert [(r.kind, r.outcome) for r in records] == [("intent", "started"), ("deploy", "passed"), ("check", "passed")]
    intent, deploy, _ = records
    assert deploy.intent == intent.seq and intent.deployment == deploy.deployment == "redis-dev1"
    # the record carries the director's own facts about its task, as the director still reports them
    task = platform.director.task(deploy.task_id)
    assert deploy.task == {k: task[k] for k in ("id", "state", "result", "timestamp", "user")}
    assert (task["state"], task["result"]) == ("done", "/deployments/redis-dev1")


def test_first_staging_and_production(cli, promotion_store):
    assert cli("deploy", STATE["v1"], "--env", "staging") == 0
    assert cli("deploy", STATE["v1"], "--env", "production") == 0
    assert Ledger(promotion_store).current("production") == STATE["v1"]


def test_staging_is_reset_to_production_before_the_candidate(cli, capsys, redis_upstream, promotion_store):
    v2 = _build(cli, capsys, redis_upstream, "9.1")
    STATE["v2"] = v2
    assert cli("deploy", v2, "--env", "dev2") == 0
    assert cli("deploy", v2, "--env", "staging") == 0
    records = Ledger(promotion_store).records()
    run = next(x for x in records if x.candidate == v2 and x.env == "staging").run_id
    staging = [r for r in records if r.env == "staging" and r.run_id == run and r.kind != "intent"]
    assert [(r.purpose, r.candidate, r.kind, r.outcome) for r in staging] == [
        ("reset", STATE["v1"], "deploy", "passed"),
        ("reset", STATE["v1"], "check", "passed"),
        ("candidate", v2, "deploy", "passed"),
        ("candidate", v2, "check", "passed"),
    ]
    production = next(r for r in reversed(records) if r.env == "production" and r.kind == "deploy")
    assert staging[2].reset_base == production.manifest_digest  # reset to production's recorded state
    # data written before the candidate's deploy was there after it, on the leader and every follower
    assert "data survived the deploy: ok (leader and 3 followers)" in staging[3].detail


def test_production_gets_the_candidate_and_parity_holds(cli, capsys, platform, promotion_store):
    assert cli("deploy", STATE["v2"], "--env", "production") == 0
    assert Ledger(promotion_store).current("production") == STATE["v2"]
    check = [r for r in Ledger(promotion_store).records() if r.env == "production" and r.kind == "check"][-1]
    assert "data survived the deploy: ok" in check.detail and check.passed
    assert "production changes: releases.redis.version: running='9' candidate='9.1'" in capsys.readouterr().out
    releases = {r["name"]: r for r in platform.director.releases()}
    deployed = {rv["version"] for rv in releases["redis"]["release_versions"] if rv.get("currently_deployed")}
    assert "9.1" in deployed
    capsys.readouterr()
    assert cli("diff", "staging", "production") == 0
    out = capsys.readouterr().out
    assert "0 outside the allowed paths" in out
    assert "name: staging='redis-staging' production='redis-production'" in out


def test_no_password_in_the_store_or_the_output(cli, capsys, platform, promotion_store):
    """The passwords the environments really run with appear nowhere in the store (candidates,
    ledger, lock) nor in what the CLI prints."""
    import yaml

    passwords = set()
    for env in ("dev1", "staging", "production"):
        manifest = yaml.safe_load(platform.director.deployment_manifest(f"redis-{env}"))
        passwords |= {j["properties"]["redis"]["password"] for j in manifest["jobs"]
                      if (j.get("properties") or {}).get("redis", {}).get("password")}
    assert len(passwords) >= 2  # each environment has its own
    capsys.readouterr()
    assert cli("ledger") == 0
    assert cli("diff", "staging", "production") == 0
    assert cli("show", STATE["v2"]) == 0
    printed = capsys.readouterr()
    import gzip

    stored = b"".join(gzip.decompress(p.read_bytes()) if p.suffix == ".tgz" else p.read_bytes()
                      for p in promotion_store.root.rglob("*") if p.is_file())
    assert b"redis-production" in stored and b'"kind":"check"' in stored  # candidates and ledger read
    for pw in passwords:
        assert pw.encode() not in stored
        assert pw not in printed.out + printed.err


def test_no_check_key_is_left_behind_production_included(platform, promotion_store):
    import redis
    import yaml

    from promotion.checks import target_from

    for env in ("dev1", "dev2", "staging", "production"):
        name = f"redis-{env}"
        target = target_from(yaml.safe_load(platform.director.deployment_manifest(name)),
                             platform.director.instances_full(name))
        for ip in (target.leader, *target.followers):
            host, port = platform.resolver.resolve(ip, target.port)
            with redis.Redis(host=host, port=port, password=target.client_password, socket_timeout=5) as client:
                assert client.keys("promotion-check-*") == [], f"{name} {ip}"
