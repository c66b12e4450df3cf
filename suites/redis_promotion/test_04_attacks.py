"""The gates tried as an attacker would (issue 10), on the platform's director through the
CLI: each attack is reproduced and refused with exit 3 and its rule's name, and the
director's task list shows that no task was started (so none against the wrong
deployment). After the attacks, the legitimate ways out still work: an adopted drift
promotes, a recorded policy change lets a per-environment difference through, a crashed
run is recovered.

Ordered steps on the session's store, after test_00..03 (production runs a candidate by
then); the ledger forgeries work on copies of the store."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fixtures.redis import REPO, STEMCELL, build_candidate
from promotion import candidate as cand
from promotion.__main__ import main
from promotion.ledger import Ledger, Record, digest, encode, key_of
from promotion.store import LocalStore

pytestmark = pytest.mark.xdist_group("redis-promotion")


# --------------------------------------------------------------------------- helpers


def _last_task(director) -> int:
    return max((t["id"] for t in director.tasks(limit=200, all_types=True)), default=0)


def _tasks_since(director, last: int) -> list[dict]:
    return [t for t in director.tasks(limit=200, all_types=True) if t["id"] > last]


def _manifest(platform, name: str) -> dict:
    return yaml.safe_load(platform.director.deployment_manifest(name))


def _followers(platform, name: str) -> int:
    return sum(1 for i in platform.director.instances_full(name) if i.get("job_name", i.get("job")) == "redis_z1")


@pytest.fixture
def templates(fresh_templates):
    return fresh_templates


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


@pytest.fixture
def refused(cli, capsys, platform):
    """`refused(rule, *argv)`: the command exits 3 naming `rule`, and the director started
    no task while it ran. Returns the command's stderr."""

    def run(rule: str, *argv: str, runner=None) -> str:
        before = _last_task(platform.director)
        capsys.readouterr()
        status = (runner or cli)(*argv)
        err = capsys.readouterr().err
        assert status == 3, err
        assert f"refused by rule '{rule}'" in err and "to satisfy it:" in err, err
        started = _tasks_since(platform.director, before)
        assert started == [], f"tasks started by a refused command: {started}"
        return err

    return run


@pytest.fixture
def passed_dev(cli, promotion_store, redis_upstream):
    def make(templates: Path, releases: dict[str, str] | None = None) -> str:
        digest = build_candidate(promotion_store, redis_upstream, releases or {"redis": "9.1"}, templates=templates)
        assert cli("deploy", digest, "--env", "dev1") == 0
        return digest

    return make


# --------------------------------------------------------------------------- 1. deployment-name hijack


def test_a_dev1_candidate_naming_production_is_refused_at_build_and_at_deploy(
        cli, capsys, refused, platform, promotion_store, redis_upstream, templates):
    """Attack 1a: dev1's networking names redis-production; dev release, `latest` stemcell,
    `--env dev1` (no gates). Refused at build; smuggled into the store, refused at deploy."""
    hijack = templates(lambda t: _replace(t / "networking-dev1.yml", "environment: redis-dev1",
                                          "environment: redis-production"))
    production_before = _manifest(platform, "redis-production")
    err = refused("bound-deployment", "build", "--upstream", str(redis_upstream), "--templates", str(hijack),
                  "--release", "redis=9+dev.1")
    assert "dev1 manifest names deployment redis-production, which is production's" in err
    assert "one deployment twice" in err

    digest, data = cand.build(redis_upstream, hijack, cand.parse_releases(["redis=9+dev.1"]),
                              stemcell={"name": STEMCELL[0], "version": "latest"})
    promotion_store.put(cand.key(digest), data)  # as someone with the store's write credentials would
    err = refused("bound-deployment", "deploy", digest, "--env", "dev1")
    assert "redis-production, which is production's" in err and "networking-dev1.yml" in err
    assert _manifest(platform, "redis-production") == production_before


def test_a_staging_candidate_naming_production_is_refused(refused, platform, promotion_store, redis_upstream,
                                                          templates, cli):
    """Attack 1b: a final candidate whose staging networking names redis-production and
    whose staging scaling has one follower; it passed dev1."""

    def hijack(t: Path) -> None:
        _replace(t / "networking-staging.yml", "environment: redis-staging", "environment: redis-production")
        _replace(t / "scaling-staging.yml", "slaves: 2", "slaves: 1")

    digest, data = cand.build(redis_upstream, templates(hijack), cand.parse_releases(["redis=12"]),
                              stemcell={"name": STEMCELL[0], "version": STEMCELL[1]})
    promotion_store.put(cand.key(digest), data)
    assert cli("deploy", digest, "--env", "dev1") == 3  # refused everywhere: its staging render is bad
    followers = _followers(platform, "redis-production")
    err = refused("bound-deployment", "deploy", digest, "--env", "staging")
    assert "staging manifest names deployment redis-production" in err
    assert _followers(platform, "redis-production") == followers == 2


def test_a_command_aimed_at_another_director_is_refused(platform, refused, promotion_store, redis_upstream,
                                                        templates, tmp_path, capsys):
    """An environment is bound to the director it was first deployed to: a pipeline job whose
    config points at another director (say production's job at the dev director) is refused.
    Shown with a copy of the store whose dev2 is bound elsewhere. (A candidate cannot aim at
    another director through its templates: the director stub the tool merges last wins.)"""
    shutil.copytree(promotion_store.root, tmp_path / "elsewhere")
    store = LocalStore(tmp_path / "elsewhere")

    def cli_elsewhere(*argv: str) -> int:
        return main(["--config", str(platform.config.source), "--store", str(store.root), *argv])

    assert cli_elsewhere("policy", "bind", "--env", "dev2", "--director-uuid", "2f8c-the-dev-director",
                         "--reason", "dev2 moves to the dev director") == 0
    c = build_candidate(store, redis_upstream, {"redis": "12"}, templates=templates())
    err = refused("bound-director", "deploy", c, "--env", "dev2", runner=cli_elsewhere)
    assert f"dev2 is bound by the pipeline's policy to director 2f8c-the-dev-director, but this command's " \
           f"director for dev2 is {platform.director.uuid()}" in err


# --------------------------------------------------------------------------- 2. drift silently reverted


def test_drift_is_refused_shown_and_passes_once_adopted(cli, capsys, refused, platform, promotion_store, templates,
                                                         passed_dev):
    """Attack 2: three followers and a bigger disk, made directly through the director."""
    production = _manifest(platform, "redis-production")
    disk = next(j for j in production["jobs"] if j["name"] == "redis_leader_z1")["persistent_disk"]
    for job in production["jobs"]:
        if job["name"] == "redis_z1":
            job["instances"] = 3
        if job["name"] == "redis_leader_z1":
            job["persistent_disk"] = 4096
    production["resource_pools"][0]["size"] += 1  # room for the third follower
    platform.director.deploy(yaml.safe_dump(production))  # someone with director access
    assert _followers(platform, "redis-production") == 3

    capsys.readouterr()
    assert cli("diff-production") == 1
    out = capsys.readouterr().out
    assert "! jobs.redis_z1.instances: recorded=2 running=3" in out

    c = passed_dev(templates(), {"redis": "12"})
    err = refused("production-drift", "deploy", c, "--env", "staging")
    assert "jobs.redis_z1.instances: recorded=2 running=3" in err
    assert f"jobs.redis_leader_z1.persistent_disk: recorded={disk} running=4096" in err
    assert "adopt-drift --reason" in err and "restore --force" in err
    refused("production-drift", "deploy", c, "--env", "production")
    assert _followers(platform, "redis-production") == 3  # nothing reverted

    assert cli("adopt-drift", "--reason", "scaled out for the sale") == 0
    capsys.readouterr()
    assert cli("deploy", c, "--env", "staging") == 0
    out = capsys.readouterr().out
    # staging was reset to what production runs, drift included, before the candidate
    assert "carrying the adopted drift (" in out
    for change in (f"jobs.redis_leader_z1.persistent_disk: candidate={disk} adopted=4096",
                   "jobs.redis_z1.instances: candidate=2 adopted=3", "resource_pools.small_z1.size: candidate=5 adopted=6"):
        assert change in out
    reset = [r for r in Ledger(promotion_store).records() if r.env == "staging" and r.purpose == "reset"
             and r.kind == "check"][-1]
    assert reset.passed and "replicated to followers: ok (4 followers)" in reset.detail  # 3 + the test follower
    adopt = [r for r in Ledger(promotion_store).records() if r.kind == "adopt"][-1]
    assert adopt.detail.startswith("scaled out for the sale: ")
    # the adopted drift is recorded without production's credentials: no ledger object holds them
    (password,) = {str(j["properties"]["redis"]["password"]) for j in _manifest(platform, "redis-production")["jobs"]
                   if (j.get("properties") or {}).get("redis", {}).get("password")}
    assert len(password) >= 8
    leaks = [p for p in promotion_store.root.rglob("*") if p.is_file() and password.encode() in p.read_bytes()]
    assert leaks == [], f"production's redis password is stored in {leaks}"
    assert cli("deploy", c, "--env", "production") == 0
    out = capsys.readouterr().out
    assert "jobs.redis_z1.instances: running=3 candidate=2" in out  # the change is said, not silent
    assert _followers(platform, "redis-production") == 2
    assert cli("diff-production") == 0


def test_drift_can_be_restored_deliberately(cli, capsys, platform, promotion_store):
    production = _manifest(platform, "redis-production")
    next(j for j in production["jobs"] if j["name"] == "redis_z1")["instances"] = 1
    platform.director.deploy(yaml.safe_dump(production))
    assert cli("restore") == 2  # needs --force
    capsys.readouterr()
    assert cli("restore", "--force") == 0
    assert _followers(platform, "redis-production") == 2
    assert cli("diff-production") == 0
    restore = [r for r in Ledger(promotion_store).records() if r.purpose == "restore" and r.kind == "check"][-1]
    assert restore.passed and "data survived the deploy: ok" in restore.detail


# --------------------------------------------------------------------------- 4. parity switched off by the caller


def test_a_config_cannot_switch_parity_off_but_a_recorded_decision_can_widen_it(
        cli, capsys, refused, platform, promotion_store, templates, passed_dev, tmp_path):
    def bigger_production_disks(t: Path) -> None:
        _replace(t / "scaling-production.yml", "persistent_disk: 1024", "persistent_disk: 2048")

    c = passed_dev(templates(bigger_production_disks), {"redis": "12"})
    assert cli("deploy", c, "--env", "staging") == 0
    config = yaml.safe_load(Path(platform.config.source).read_text())
    config.setdefault("promotion", {})["allowed_diff_paths"] = ["**"]
    path = tmp_path / "config.yml"
    path.touch(mode=0o600)  # it carries the simulator's credentials
    path.write_text(yaml.safe_dump(config))

    def with_wide_config(*argv: str) -> int:
        return main(["--config", str(path), "--store", str(promotion_store.root), *argv])

    err = refused("pipeline-policy", "deploy", c, "--env", "production", runner=with_wide_config)
    assert "the config would widen parity by **" in err and "policy allow-diff" in err
    err = refused("parity", "deploy", c, "--env", "production")  # without the config: parity holds
    assert "jobs.redis_leader_z1.persistent_disk: staging=1024 production=2048" in err

    capsys.readouterr()
    assert cli("policy", "allow-diff", "jobs.*.persistent_disk", "--reason", "production keeps bigger disks") == 0
    assert cli("deploy", c, "--env", "production") == 0
    policy = [r for r in Ledger(promotion_store).records() if r.kind == "policy"][-1]
    assert "parity now allows differences at jobs.*.persistent_disk (widened)" in policy.detail
    assert "production keeps bigger disks" in policy.detail
    assert cli("policy", "disallow-diff", "jobs.*.persistent_disk", "--reason", "back to one size") == 0


# --------------------------------------------------------------------------- 3. forged ledger records


@pytest.fixture
def forged_store(promotion_store, tmp_path):
    """A copy of the session's store (ledger and candidates), for a forger to write into."""
    shutil.copytree(promotion_store.root, tmp_path / "forged")
    return LocalStore(tmp_path / "forged")


def _chain(store: LocalStore, *records: Record) -> None:
    """Append as an attacker with the store's credentials can: computing each hash."""
    keys = store.list("ledger/")
    seq, prev = len(keys), digest(store.get(keys[-1]))
    for r in records:
        r = Record(**{**r.__dict__, "seq": seq, "prev": prev})
        data = encode(r)
        store.put(key_of(seq), data)
        seq, prev = seq + 1, digest(data)


def test_forged_dev_records_do_not_get_a_candidate_into_staging(platform, refused, forged_store, redis_upstream,
                                                                templates):
    """Attack 3: two JSON objects claiming that a candidate passed dev1."""
    store = forged_store
    c = build_candidate(store, redis_upstream, {"redis": "12"}, templates=templates())

    def cli_forged(*argv: str) -> int:
        return main(["--config", str(platform.config.source), "--store", str(store.root), *argv])

    assert Ledger(store).records()  # the copy verifies before the forger writes
    # a) naive: two objects under new keys
    naive = {"candidate": c, "env": "dev1", "kind": "deploy", "outcome": "passed", "run_id": "forged"}
    store.put("ledger/forged-1.json", json.dumps(naive).encode())
    store.put("ledger/forged-2.json", json.dumps({**naive, "kind": "check"}).encode())
    err = refused("ledger-chain", "deploy", c, "--env", "staging", runner=cli_forged)
    assert "ledger/forged-1.json" in err and "not a chained record" in err
    store.delete("ledger/forged-1.json")
    store.delete("ledger/forged-2.json")

    # b) chained properly, naming a task the director does not have
    records = Ledger(store).records()
    uuid = platform.director.uuid()
    common = dict(deployment="redis-dev1", director_uuid=uuid, time="2016-01-01T00:00:00Z")
    seq = len(records)
    fake_task = {"id": 99999, "state": "done", "result": "/deployments/redis-dev1", "timestamp": 1, "user": "admin"}
    _chain(store, Record(c, "dev1", "intent", "started", "forged", **common),
           Record(c, "dev1", "deploy", "passed", "forged", task=fake_task, intent=seq, **common),
           Record(c, "dev1", "check", "passed", "forged", **common))
    err = refused("director-task", "deploy", c, "--env", "staging", runner=cli_forged)
    assert f"#{seq + 1} (deploy candidate of {c[:12]} in dev1, task 99999" in err
    assert "which director" in err and "does not have" in err


def test_forged_records_naming_real_tasks_are_caught(platform, refused, forged_store, redis_upstream, templates):
    store = forged_store
    c = build_candidate(store, redis_upstream, {"redis": "12"}, templates=templates())
    records = Ledger(store).records()

    def cli_forged(*argv: str) -> int:
        return main(["--config", str(platform.config.source), "--store", str(store.root), *argv])

    real = next(r for r in reversed(records) if r.env == "dev1" and r.kind == "deploy" and r.passed)
    dev2 = next(r for r in reversed(records) if r.env == "dev2" and r.kind == "deploy" and r.passed)
    seq = len(records)
    common = dict(deployment="redis-dev1", director_uuid=real.director_uuid, time="2016-01-01T00:00:00Z")
    _chain(store, Record(c, "dev1", "intent", "started", "forged", **common),
           Record(c, "dev1", "deploy", "passed", "forged", task=dict(real.task), intent=seq, **common),
           Record(c, "dev1", "check", "passed", "forged", **common))
    err = refused("director-task", "deploy", c, "--env", "staging", runner=cli_forged)
    assert f"claims task {real.task_id}, which record #{real.seq} claims too" in err

    # the task of another deployment: its result names redis-dev2
    for key in store.list("ledger/")[seq:]:
        store.delete(key)
    _chain(store, Record(c, "dev1", "intent", "started", "forged", **common),
           Record(c, "dev1", "deploy", "passed", "forged", task={**dev2.task, "result": "/deployments/redis-dev1"},
                  intent=seq, **common),
           Record(c, "dev1", "check", "passed", "forged", **common))
    err = refused("director-task", "deploy", c, "--env", "staging", runner=cli_forged)
    assert "'/deployments/redis-dev1' expected, director says '/deployments/redis-dev2'" in err


def test_an_edited_or_removed_record_stops_every_gate(platform, refused, forged_store):
    store = forged_store
    production = Ledger(store).current("production")

    def cli_forged(*argv: str) -> int:
        return main(["--config", str(platform.config.source), "--store", str(store.root), *argv])

    keys = store.list("ledger/")
    victim = next(k for k in keys if json.loads(store.get(k))["kind"] == "check"
                  and json.loads(store.get(k))["outcome"] == "passed")
    raw = json.loads(store.get(victim))
    store.put(victim, json.dumps({**raw, "detail": raw["detail"] + " (edited)"}, sort_keys=True).encode())
    err = refused("ledger-chain", "deploy", production, "--env", "production", runner=cli_forged)
    assert f"{victim} " in err and "was changed or replaced" in err
    store.delete(victim)
    err = refused("ledger-chain", "deploy", production, "--env", "production", runner=cli_forged)
    assert "(a gap in the chain)" in err


# --------------------------------------------------------------------------- 5. the rest


def test_downgrades_are_refused_unless_asked_for(cli, capsys, refused, platform, promotion_store, templates,
                                                 passed_dev):
    """Production runs redis 12 by now (the drift and parity steps promoted it); a candidate
    with redis 9.1 is a downgrade."""
    assert _manifest(platform, "redis-production")["releases"] == [{"name": "redis", "version": "12"}]
    older = passed_dev(templates(), {"redis": "9.1"})
    err = refused("no-downgrade", "deploy", older, "--env", "staging")
    assert "release redis 12 -> 9.1" in err and "--allow-downgrade" in err
    assert cli("deploy", older, "--env", "staging", "--allow-downgrade") == 0
    intent = [r for r in Ledger(promotion_store).records() if r.kind == "intent" and r.candidate == older
              and r.env == "staging"][-1]
    assert intent.extra["allowed_by"] == "--allow-downgrade" and "redis 12 -> 9.1" in intent.extra["downgrade"][0]


def test_staging_takes_any_candidate_that_passed_dev_not_only_the_newest(cli, templates, passed_dev):
    older = passed_dev(templates(), {"redis": "12"})
    newer = passed_dev(templates(), {"redis": "12"})
    assert older != newer
    assert cli("deploy", older, "--env", "staging") == 0


def test_a_crash_between_intent_and_outcome_is_reported_and_recovered(cli, capsys, refused, platform,
                                                                      promotion_store, templates, passed_dev):
    """The deploy process is killed while its director task runs: the intent is in the
    ledger, the outcome is not. The next command says so and names the remedy."""
    c = passed_dev(templates(), {"redis": "12"})
    argv = [sys.executable, "-m", "promotion", "--config", str(platform.config.source), "--store",
            str(promotion_store.root), "deploy", c, "--env", "dev2"]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 120
        while not any("redis-dev2" in (lk.get("resource") or []) for lk in platform.director.locks()):
            assert proc.poll() is None and time.monotonic() < deadline, "the deploy never started its task"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)  # between the intent and its outcome
    finally:
        proc.wait(30)
    while any("redis-dev2" in (lk.get("resource") or []) for lk in platform.director.locks()):
        time.sleep(0.1)  # the director finishes the task on its own
    intent = [r for r in Ledger(promotion_store).records() if r.kind == "intent"][-1]
    assert (intent.env, intent.candidate) == ("dev2", c)

    err = refused("unfinished-intent", "deploy", c, "--env", "dev2")
    assert f"run {intent.run_id} recorded at ledger #{intent.seq}" in err
    assert "recover --env dev2 --force" in err
    capsys.readouterr()
    assert cli("recover", "--env", "dev2") == 2  # needs --force
    assert cli("recover", "--env", "dev2", "--force") == 0
    assert "the director runs the intended manifest" in capsys.readouterr().out
    done = Ledger(promotion_store).records()[-1]
    assert (done.kind, done.outcome, done.intent, done.extra) == ("deploy", "passed", intent.seq, {"recovered": True})
    assert cli("deploy", c, "--env", "dev2") == 0  # and the environment is usable again
