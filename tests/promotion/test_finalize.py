"""Final releases are cut from what dev tested, and staging takes no other (issue 14), on the
small in-process director with the real bosh CLI v7.1.2 building a tiny release repository:
dev release -> dev1 passes -> finalize -> staging accepts; and every way around it refused:
a final whose job changed after the dev run, one nobody tested, one whose dev run's checks
failed, a forged dev record, a release of the same name and version that differs on the
staging director."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import FakeDirector

from fixtures.redis import build_candidate
from fixtures.release_dir import ReleaseDir
from promotion.deploy import Promoter
from promotion.finalize import Finalizer, Request, input_problems
from promotion.ledger import Ledger, Record, digest, encode, key_of
from promotion.refusal import GateRefused

pytestmark = [pytest.mark.usefixtures("redis_server"), pytest.mark.slow]


@pytest.fixture
def bosh(bosh_cli) -> str:
    return bosh_cli


@pytest.fixture
def release(tmp_path: Path) -> ReleaseDir:
    return ReleaseDir.create(tmp_path / "repo", git=True)


def _finalizer(promoter: Promoter, bosh: str, release: ReleaseDir) -> Finalizer:
    """Runs the CLI as the release directory's own runs did (same HOME: same blob cache)."""
    return Finalizer(promoter, bosh, out=lambda m: None, environ=release.environ)


def _rules(exc: GateRefused) -> list[str]:
    return [r.rule for r in exc.refusals]


def _dev_run(promoter: Promoter, director: FakeDirector, store, upstream, release: ReleaseDir, tmp_path: Path,
             env: str = "dev1") -> tuple[str, dict]:
    """Create a dev release of the checkout, upload it, deploy a candidate that uses it to
    `env` (its checks pass); returns (candidate digest, the dev release's release.MF)."""
    tarball = tmp_path / f"dev-{len(list(tmp_path.glob('dev-*.tgz')))}.tgz"
    mf = release.create_dev(tarball)
    director.upload_release(tarball)
    c = build_candidate(store, upstream, {"redis": "9.1", release.name: mf["version"]})
    promoter.deploy(c, env)
    return c, mf


def _final_candidate(promoter: Promoter, store, upstream, name: str, version: str) -> str:
    c = build_candidate(store, upstream, {"redis": "9.1", name: version})
    promoter.deploy(c, "dev1")  # passed-dev: the candidate itself went through dev
    return c


def _cut_by_hand(rel: ReleaseDir, director, promoter: Promoter, store, upstream, tarball: Path) -> tuple[dict, str]:
    """A final release cut and uploaded around `finalize`, and a candidate that uses it."""
    final = rel.create_final(tarball)
    director.upload_release(tarball)
    return final, _final_candidate(promoter, store, upstream, rel.name, final["version"])


def _refused_at_staging(promoter: Promoter, c: str) -> str:
    """The staging deploy of `c` is refused by final-from-tested-dev alone; its message."""
    with pytest.raises(GateRefused) as err:
        promoter.deploy(c, "staging")
    assert _rules(err.value) == ["final-from-tested-dev"]
    return str(err.value)


def test_finalize_cuts_from_the_tested_commit_and_staging_accepts_it(
        promoter, director, dev_tested, local_store, redis_upstream, release, bosh, tmp_path):
    dev_tested("9.1")
    _, dev = _dev_run(promoter, director, local_store, redis_upstream, release, tmp_path)
    tested_commit = release.git("rev-parse", "HEAD")
    release.change_job("# work after the dev run\n")
    release.commit("more work")  # the checkout moved on since the dev run

    req = Request(release.path, f"{release.name}/{dev['version']}", tarball=tmp_path / "final.tgz")
    with pytest.raises(GateRefused) as err:
        _finalizer(promoter, bosh, release).finalize(req)
    assert _rules(err.value) == ["final-from-tested-dev"]
    assert f"was created at {dev['commit_hash']}" in str(err.value) and "--checkout" in str(err.value)

    record = _finalizer(promoter, bosh, release).finalize(
        Request(release.path, release.name, checkout=True, tarball=tmp_path / "final.tgz"))
    assert release.git("rev-parse", "HEAD") == tested_commit
    final = record.extra["release"]
    assert (record.kind, record.outcome, final["name"], final["version"]) == ("finalize", "passed", release.name, "1")
    assert record.extra["cut_from"]["version"] == dev["version"] and record.extra["commit"] == tested_commit
    assert record.extra["cut_from"]["commit_hash"] == dev["commit_hash"] == final["commit_hash"]
    assert final["jobs"] == {j["name"]: j["fingerprint"] for j in dev["jobs"]}
    assert final["packages"] == {p["name"]: p["fingerprint"] for p in dev["packages"]}
    assert [(u["envs"], u["already_there"]) for u in record.extra["uploads"]] == [
        (["dev1", "dev2", "staging", "production"], False)]
    assert director.release(release.name, "1")["jobs"][0]["fingerprint"] == dev["jobs"][0]["fingerprint"]
    assert (tmp_path / "final.tgz").is_file()

    c = _final_candidate(promoter, local_store, redis_upstream, release.name, "1")
    promoter.deploy(c, "staging")
    assert Ledger(local_store).current("staging") == c


def test_a_final_whose_job_changed_after_the_dev_run_is_refused(
        promoter, director, dev_tested, local_store, redis_upstream, release, tmp_path):
    dev_tested("9.1")
    _, dev = _dev_run(promoter, director, local_store, redis_upstream, release, tmp_path)
    release.change_job("# changed after the dev run\n")
    release.commit("changed after the dev run")
    # by hand, around `finalize`
    final, c = _cut_by_hand(release, director, promoter, local_store, redis_upstream, tmp_path / "final.tgz")
    text = _refused_at_staging(promoter, c)
    job = f"job tiny: final {final['jobs'][0]['fingerprint']}, tested dev {dev['jobs'][0]['fingerprint']}"
    assert job in text and f"closest, dev release {release.name}/{dev['version']}" in text
    assert "package blob" not in text  # only what differs is named
    assert final["packages"] == dev["packages"]


def test_a_final_nobody_tested_is_refused(promoter, director, dev_tested, local_store, redis_upstream, tmp_path):
    dev_tested("9.1")
    other = ReleaseDir.create(tmp_path / "untested", name="untested-release", git=True)
    other.change_job("# a job nobody ran\n")
    other.commit("a job nobody ran")
    _, c = _cut_by_hand(other, director, promoter, local_store, redis_upstream, tmp_path / "untested.tgz")
    assert "no dev release of untested-release passed dev1 or dev2" in _refused_at_staging(promoter, c)


def test_the_final_of_a_dev_run_whose_checks_failed_is_refused(
        promoter, director, dev_tested, local_store, redis_upstream, release, bosh, tmp_path, monkeypatch):
    dev_tested("9.1")

    def no_instances(name):
        raise ConnectionError("director went away")

    monkeypatch.setattr(director, "instances_full", no_instances)
    with pytest.raises(Exception, match="failed in dev1"):
        _dev_run(promoter, director, local_store, redis_upstream, release, tmp_path)
    monkeypatch.undo()
    deploy = [r for r in Ledger(local_store).records() if r.kind == "deploy"][-1]
    assert deploy.passed and deploy.extra["releases"]  # deployed, and what ran is recorded ...
    with pytest.raises(GateRefused) as err:  # ... but its checks failed: nothing tested to cut from
        _finalizer(promoter, bosh, release).finalize(Request(release.path, release.name))
    assert "no dev release of tiny-release has a passing run" in str(err.value)
    # same commit, same fingerprints, by hand
    _, c = _cut_by_hand(release, director, promoter, local_store, redis_upstream, tmp_path / "final.tgz")
    assert "no dev release of tiny-release passed dev1 or dev2" in _refused_at_staging(promoter, c)


def _rewrite_from(store, seq: int, change) -> None:
    """Rewrite record `seq` and re-chain every later one, as someone with the store's
    credentials can (only the director cross-checks can tell)."""
    keys = store.list("ledger/")
    prev = json.loads(store.get(keys[seq]))["prev"]
    for i, key in enumerate(keys[seq:], start=seq):
        raw = json.loads(store.get(key))
        if i == seq:
            raw = change(raw)
        data = encode(Record(**{**raw, "prev": prev}))
        store.delete(key)
        store.put(key_of(i), data)
        prev = digest(data)


def test_a_forged_dev_record_does_not_make_an_untested_final_tested(
        promoter, director, dev_tested, local_store, redis_upstream, release, tmp_path):
    """The store's writer rewrites the genuine dev run's record (the chain re-hashed) so that
    it claims the fingerprints of a final cut from changed sources: the dev director holds
    the dev release with its real fingerprints, and says so."""
    dev_tested("9.1")
    _dev_run(promoter, director, local_store, redis_upstream, release, tmp_path)
    release.change_job("# untested\n")
    release.commit("untested change")
    final, c = _cut_by_hand(release, director, promoter, local_store, redis_upstream, tmp_path / "final.tgz")
    records = Ledger(local_store).records()
    dev_record = next(r for r in records if r.kind == "deploy" and r.env == "dev1"
                      and any(x["name"] == release.name for x in r.extra.get("releases", [])))

    def claim_final(raw: dict) -> dict:
        for entry in raw["extra"]["releases"]:
            if entry["name"] == release.name:
                entry["jobs"] = {j["name"]: j["fingerprint"] for j in final["jobs"]}
        return raw

    _rewrite_from(local_store, dev_record.seq, claim_final)
    with pytest.raises(GateRefused) as err:
        Promoter(store=local_store, director=director, resolve=director.resolve, out=lambda m: None).deploy(
            c, "staging")
    assert _rules(err.value) == ["director-task"]
    text = str(err.value)
    assert f"#{dev_record.seq} (deploy candidate" in text and "holds another one under that name and version" in text
    assert f"job tiny: recorded {final['jobs'][0]['fingerprint']}" in text


def test_a_release_that_differs_on_the_staging_director_is_refused(
        local_store, redis_upstream, release, bosh, tmp_path, dev_tested):
    """Dev and staging on two directors: the final cut from the tested dev release is on the
    dev director; the staging director was given another `tiny-release/1` (same name and
    version, other jobs). The gate reads the staging director's copy."""
    dev_d, prod_d = FakeDirector(tmp_path / "dev-sim"), FakeDirector(tmp_path / "prod-sim")
    prod_d.director_uuid = "fake-prod-director"
    try:
        promoter = Promoter(store=local_store, director=dev_d, resolve=dev_d.resolve, out=lambda m: None,
                            env_directors={"staging": prod_d, "production": prod_d}, replication_wait=5.0)
        dev_tested("9.1", promoter=promoter)
        _dev_run(promoter, dev_d, local_store, redis_upstream, release, tmp_path)
        _finalizer(promoter, bosh, release).finalize(
            Request(release.path, release.name, upload_to=("dev1",), tarball=tmp_path / "final.tgz"))
        impostor = ReleaseDir.create(tmp_path / "impostor", name=release.name, git=True)
        impostor.change_job("# not what dev tested\n")
        impostor.commit("impostor")
        impostor.create_final(tmp_path / "impostor.tgz", "--version", "1")
        prod_d.upload_release(tmp_path / "impostor.tgz")
        c = _final_candidate(promoter, local_store, redis_upstream, release.name, "1")
        with pytest.raises(GateRefused) as err:
            promoter.deploy(c, "staging")
        assert _rules(err.value) == ["final-from-tested-dev"]
        assert "final release tiny-release/1 on staging's director fake-prod-director has fingerprints" in str(err.value)
        assert prod_d.deploy_log == []
    finally:
        dev_d.close()
        prod_d.close()


def test_finalize_refuses_a_dev_release_made_from_uncommitted_changes(
        promoter, director, local_store, redis_upstream, release, bosh, tmp_path):
    """No commit holds what such a dev release tested."""
    release.change_job("# only in the work tree\n")
    mf = release.create_dev(tmp_path / "dev.tgz", "--force")
    assert mf["uncommitted_changes"] is True
    director.upload_release(tmp_path / "dev.tgz")
    release.git("clean", "-fdq", "jobs")
    promoter.deploy(build_candidate(local_store, redis_upstream, {"redis": "9.1", release.name: mf["version"]}),
                    "dev1")
    with pytest.raises(GateRefused) as err:
        _finalizer(promoter, bosh, release).finalize(Request(release.path, release.name))
    assert "was created from a checkout with uncommitted changes" in str(err.value)
    assert (release.name, "1") not in director.release_mfs


def test_finalize_refuses_a_final_that_is_not_the_dev_release(
        promoter, director, local_store, redis_upstream, release, bosh, tmp_path):
    """The checkout is at the tested commit and clean, yet the final would differ: the dev
    release took in a file git ignores (`*~` matched by the package's glob), gone since.
    Nothing is uploaded or recorded."""
    spec = release.path / "packages" / "blob" / "spec"
    spec.write_text(spec.read_text().replace("- blob/data.txt", "- blob/*"))
    release.commit("package every file of src/blob")
    (release.path / "src" / "blob" / "notes~").write_text("an editor's backup\n")
    assert release.git("status", "--short") == ""
    dev = release.create_dev(tmp_path / "dev.tgz")
    director.upload_release(tmp_path / "dev.tgz")
    promoter.deploy(build_candidate(local_store, redis_upstream, {"redis": "9.1", release.name: dev["version"]}),
                    "dev1")
    (release.path / "src" / "blob" / "notes~").unlink()
    with pytest.raises(GateRefused) as err:
        _finalizer(promoter, bosh, release).finalize(
            Request(release.path, f"{release.name}/{dev['version']}"))
    text = str(err.value)
    assert "package blob: final " in text and f"tested dev {dev['packages'][0]['fingerprint']}" in text
    assert "nothing was uploaded" in text and "job tiny" not in text
    assert (release.name, "1") not in director.release_mfs
    assert [r.kind for r in Ledger(local_store).records() if r.kind == "finalize"] == []


def test_bad_input_is_one_message_listing_every_problem(tmp_path):
    req = Request(tmp_path / "nowhere", "tiny-release/3", version="latest", tarball=tmp_path / "no" / "x.tgz")
    problems = input_problems(req, str(tmp_path / "no-bosh"))
    assert len(problems) == 5
    joined = "\n".join(problems)
    for part in ("is not a directory", "3 is a final version", "--version 'latest' is not a final version",
                 "directory", "is not an executable file"):
        assert part in joined
