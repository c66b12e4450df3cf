"""Every gate refuses what it must, names its rule and what would satisfy it, and exits
non-zero: dev releases and untested candidates to staging, skipping staging, tampered
tarballs, parity violations, concurrent promotions."""

from __future__ import annotations

import threading

import pytest

from fixtures.redis import build_candidate, make_promoter
from promotion import candidate as cand
from promotion.ledger import Ledger
from promotion.lock import LockHeld

# ordered steps share one store: keep the module on one worker under `-n --dist loadgroup`
pytestmark = pytest.mark.xdist_group("redis-promotion")


@pytest.fixture
def fresh(promotion_store, redis_upstream, fresh_templates):
    """`fresh(releases, change=None)` -> the digest of a candidate no earlier test built
    (see `fresh_templates`)."""

    def build(releases: dict[str, str], change=None) -> str:
        return build_candidate(promotion_store, redis_upstream, releases, templates=fresh_templates(change))

    return build


def test_dev_release_candidate_refused_by_staging(cli, capsys, fresh):
    dev = fresh({"redis": "9+dev.1"})
    assert cli("deploy", dev, "--env", "dev1") == 0  # dev accepts dev releases
    capsys.readouterr()
    assert cli("deploy", dev, "--env", "staging") == 3
    err = capsys.readouterr().err
    assert "refused by rule 'final-releases'" in err and "redis/9+dev.1" in err and "to satisfy it" in err


def test_untested_candidate_refused_by_staging(cli, capsys, promotion_store, fresh):
    c = fresh({"redis": "9.1"})
    capsys.readouterr()
    assert cli("deploy", c, "--env", "staging") == 3
    err = capsys.readouterr().err
    assert "refused by rule 'passed-dev'" in err and f"deploy {c} --env dev1" in err
    assert not [r for r in Ledger(promotion_store).records() if r.candidate == c]


def test_candidate_that_skipped_staging_refused_by_production(cli, capsys, fresh):
    c = fresh({"redis": "9"})
    assert cli("deploy", c, "--env", "dev2") == 0
    capsys.readouterr()
    assert cli("deploy", c, "--env", "production") == 3
    assert "refused by rule 'passed-staging-after-reset'" in capsys.readouterr().err


def test_tampered_tarball_refused(cli, capsys, promotion_store, fresh):
    c = fresh({"redis": "9.1"})
    data = promotion_store.get(cand.key(c))
    promotion_store.put(cand.key(c), data[:-40])  # truncated
    capsys.readouterr()
    assert cli("deploy", c, "--env", "dev1") == 3
    assert "tampered with or truncated" in capsys.readouterr().err
    assert not [r for r in Ledger(promotion_store).records() if r.candidate == c]


def test_parity_violation_refused(cli, capsys, fresh):
    def bigger_production_disks(templates):
        scaling = templates / "scaling-production.yml"
        scaling.write_text(scaling.read_text().replace("persistent_disk: 1024", "persistent_disk: 2048"))

    c = fresh({"redis": "9.1"}, bigger_production_disks)
    assert cli("deploy", c, "--env", "dev1") == 0
    assert cli("deploy", c, "--env", "staging") == 0
    capsys.readouterr()
    assert cli("deploy", c, "--env", "production") == 3
    err = capsys.readouterr().err
    assert "refused by rule 'parity'" in err
    assert "jobs.redis_leader_z1.persistent_disk: staging=1024 production=2048" in err


def test_concurrent_promotion_refused(platform, promotion_store, fresh, cli):
    c = fresh({"redis": "9.1"})
    assert cli("deploy", c, "--env", "dev1") == 0
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def promote() -> None:
        p = make_promoter(platform, promotion_store, [])
        barrier.wait()
        try:
            p.deploy(c, "staging")
            outcomes.append("deployed")
        except LockHeld as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=promote) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert sorted(map(type, outcomes), key=str) == sorted([str, LockHeld], key=str)
    held = next(o for o in outcomes if isinstance(o, LockHeld))
    assert "one-at-a-time" in str(held) and "unlock --env staging --force" in str(held)


def test_crashed_run_lock_is_broken_explicitly(cli, capsys, promotion_store, fresh):
    from promotion.lock import EnvLock

    c = fresh({"redis": "9.1"})
    EnvLock(promotion_store, "production", "crashed-run", c).acquire()
    capsys.readouterr()
    assert cli("deploy", c, "--env", "production") == 3
    assert "crashed-run" in capsys.readouterr().err
    assert cli("unlock", "--env", "production") == 2  # needs --force
    assert cli("unlock", "--env", "production", "--force") == 0
    assert "crashed-run" in capsys.readouterr().out
