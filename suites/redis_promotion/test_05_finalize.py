"""Final releases cut from what dev1/dev2 tested, and staging takes no other (issue 14), on the
platform's director through the CLI, with a small release repository the test makes (one
job, one package of a few bytes) and the real bosh CLI v7.1.2 building it:

    dev release -> dev1 passes -> `python -m promotion finalize` -> staging accepts;
    a final whose job changed after the dev run -> refused; a final nobody tested -> refused.

Each candidate pins redis 12 (its dev build passed dev2: `tested_dev_releases`) and the
release under test; the gate applies to both. Ordered steps on the session's store, after
test_04 (production runs redis 12 by then, so 12 is no downgrade)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from fixtures.redis import REDIS_TEMPLATES, STEMCELL
from fixtures.release_dir import ReleaseDir
from promotion import candidate as cand
from promotion.ledger import Ledger

pytestmark = pytest.mark.xdist_group("redis-promotion")

STATE: dict[str, object] = {}


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> ReleaseDir:
    """A release repository whose name no earlier run uploaded (directors keep releases)."""
    return ReleaseDir.create(tmp_path_factory.mktemp("release-repo"), name=f"tiny-{secrets.token_hex(4)}", git=True)


def _build(cli, capsys, redis_upstream, name: str, version: str) -> str:
    capsys.readouterr()
    assert cli("build", "--upstream", str(redis_upstream), "--templates", str(REDIS_TEMPLATES),
               "--release", "redis=12", "--release", f"{name}={version}", "--stemcell-version", STEMCELL[1]) == 0
    return cand.check_digest(capsys.readouterr().out.strip().splitlines()[-1])


def _tested(cli, capsys, redis_upstream, name: str, version: str) -> str:
    """A candidate with the release, built and passed through dev1 (rule passed-dev)."""
    digest = _build(cli, capsys, redis_upstream, name, version)
    assert cli("deploy", digest, "--env", "dev1") == 0, capsys.readouterr().err
    return digest


def _refused_by_staging(cli, capsys, platform, digest: str) -> str:
    before = max(t["id"] for t in platform.director.tasks(limit=50, all_types=True))
    capsys.readouterr()
    assert cli("deploy", digest, "--env", "staging") == 3
    err = capsys.readouterr().err
    assert "refused by rule 'final-from-tested-dev'" in err and "to satisfy it:" in err, err
    assert [t for t in platform.director.tasks(limit=50, all_types=True) if t["id"] > before] == []
    return err


def test_a_dev_release_passes_dev1(cli, capsys, platform, promotion_store, redis_upstream, release, tmp_path):
    dev = release.create_dev(tmp_path / "dev.tgz")
    assert platform.director.upload_release(tmp_path / "dev.tgz").state == "done"
    _tested(cli, capsys, redis_upstream, release.name, dev["version"])
    deploy = [r for r in Ledger(promotion_store).records() if r.kind == "deploy" and r.env == "dev1"][-1]
    recorded = next(x for x in deploy.extra["releases"] if x["name"] == release.name)
    # what the director ran, read back from it: the fingerprints and commit the CLI wrote
    assert recorded == {"name": release.name, "version": dev["version"], "commit_hash": dev["commit_hash"],
                        "uncommitted_changes": False, "jobs": {"tiny": dev["jobs"][0]["fingerprint"]},
                        "packages": {"blob": dev["packages"][0]["fingerprint"]}}
    STATE["dev"] = dev


def test_finalize_cuts_the_tested_commit_and_staging_accepts_the_final(
        cli, capsys, platform, promotion_store, redis_upstream, release, bosh_cli, tmp_path, monkeypatch):
    dev = STATE["dev"]
    tested = release.git("rev-parse", "HEAD")
    release.change_job("# work after the dev run\n")
    release.commit("work after the dev run")
    monkeypatch.setenv("HOME", str(release.home))  # the developer's bosh cache: the dev build's blobs
    argv = ["finalize", "--release-dir", str(release.path), "--dev-release", f"{release.name}/{dev['version']}",
            "--bosh-cli", bosh_cli, "--tarball", str(tmp_path / "final.tgz")]
    capsys.readouterr()
    assert cli(*argv) == 3  # the checkout moved on since the dev run
    err = capsys.readouterr().err
    assert "refused by rule 'final-from-tested-dev'" in err and f"was created at {dev['commit_hash']}" in err
    assert cli(*argv, "--checkout") == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"cut final release {release.name}/1 from dev release {release.name}/{dev['version']}" in out
    assert release.git("rev-parse", "HEAD") == tested
    [record] = [r for r in Ledger(promotion_store).records() if r.kind == "finalize"
                and r.extra["release"]["name"] == release.name]
    assert record.extra["cut_from"]["version"] == dev["version"] and record.extra["commit"] == tested
    on_director = platform.director.release(release.name, "1")
    assert [j["fingerprint"] for j in on_director["jobs"]] == [j["fingerprint"] for j in dev["jobs"]]
    assert [p["fingerprint"] for p in on_director["packages"]] == [p["fingerprint"] for p in dev["packages"]]

    final = _tested(cli, capsys, redis_upstream, release.name, "1")
    assert cli("deploy", final, "--env", "staging") == 0, capsys.readouterr().err
    assert Ledger(promotion_store).current("staging") == final
    STATE["release"] = release


def test_a_final_whose_job_changed_after_the_dev_run_is_refused_by_staging(
        cli, capsys, platform, redis_upstream, release, tmp_path):
    dev = STATE["dev"]
    release.commit("Final release 1")  # as finalize says: releases/ and .final_builds/ into the repository
    release.change_job("# changed after the dev run\n")
    release.commit("changed after the dev run")
    final = release.create_final(tmp_path / "changed.tgz")  # cut by hand, around `finalize`
    assert final["version"] == "2" and platform.director.upload_release(tmp_path / "changed.tgz").state == "done"
    digest = _tested(cli, capsys, redis_upstream, release.name, "2")
    err = _refused_by_staging(cli, capsys, platform, digest)
    assert (f"final release {release.name}/2 on staging's director {platform.director.uuid()} has fingerprints no "
            "dev release that passed dev1 or dev2 has") in err
    assert f"job tiny: final {final['jobs'][0]['fingerprint']}, tested dev {dev['jobs'][0]['fingerprint']}" in err
    assert "package blob" not in err  # the package did not change


def test_a_final_nobody_tested_is_refused_by_staging(cli, capsys, platform, redis_upstream, tmp_path: Path):
    untested = ReleaseDir.create(tmp_path, name=f"untested-{secrets.token_hex(4)}", git=True)
    untested.change_job("# a job nobody ran\n")
    untested.commit("a job nobody ran")
    untested.create_final(tmp_path / "untested.tgz")
    assert platform.director.upload_release(tmp_path / "untested.tgz").state == "done"
    digest = _tested(cli, capsys, redis_upstream, untested.name, "1")  # it even ran in dev1, as a final
    err = _refused_by_staging(cli, capsys, platform, digest)
    assert f"no dev release of {untested.name} passed dev1 or dev2" in err
