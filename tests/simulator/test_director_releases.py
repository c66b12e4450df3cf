"""The director keeps release contents as a real one does (issue 14), checked against a
release tarball made by the real bosh CLI v7.1.2 (`bosh create-release --tarball`) from a
tiny release directory made here: one job, one package of a few bytes.

`GET /releases/:name?version=V` must return each job's and package's `fingerprint` and
`sha1` exactly as the tarball's release.MF has them (bosh v7 writes `sha256:` digests in the
`sha1` field; 1.3098 stores what the manifest says without checking it at upload), and
`GET /releases/:name` every version's jobs and packages, in the shape of the era's director.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.release_dir import ReleaseDir, release_mf
from helpers.bosh import BoshApiError, BoshTaskError, Director
from helpers.config import parse_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tarballs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two dev releases of `tiny-release`: the second after the job's monit file changed."""
    root = tmp_path_factory.mktemp("release")
    rel = ReleaseDir.create(root)
    first, second = root / "tiny-1.tgz", root / "tiny-2.tgz"
    rel.create_dev(first)
    rel.change_job("# changed after the first dev release\n")
    rel.create_dev(second)
    return first, second


@pytest.fixture(scope="module", params=["2015", "current"])
def uploaded(request, tarballs) -> tuple[Any, Director, list[dict[str, Any]]]:
    """Both dev releases uploaded with the suite's client to the era's director."""
    sim = request.getfixturevalue("sim" if request.param == "2015" else "sim_current")
    config = parse_config(sim.config, source="simulator")
    director = Director(config.bosh, config.resolver(), timeout=config.timeout)
    manifests = []
    for tarball in tarballs:
        assert director.upload_release(tarball).state == "done"
        manifests.append(release_mf(tarball))
    return sim, director, manifests


def test_release_version_returns_the_tarballs_fingerprints_and_sha1s(uploaded):
    sim, director, manifests = uploaded
    for mf in manifests:
        got = director.release("tiny-release", mf["version"])
        assert [(j["name"], j["fingerprint"], j["sha1"]) for j in got["jobs"]] == [
            (j["name"], j["fingerprint"], j["sha1"]) for j in mf["jobs"]]
        assert [(p["name"], p["fingerprint"], p["sha1"]) for p in got["packages"]] == [
            (p["name"], p["fingerprint"], p["sha1"]) for p in mf["packages"]]
        assert all(len(x["blobstore_id"]) == 36 for x in got["jobs"] + got["packages"])
        assert got["packages"][0]["compiled_packages"] == []  # not deployed yet
        expected_job_keys = {"name", "blobstore_id", "sha1", "fingerprint"} | (
            set() if sim.era == "2015" else {"consumes", "provides"})
        assert set(got["jobs"][0]) == expected_job_keys
    assert manifests[0]["jobs"][0]["fingerprint"] != manifests[1]["jobs"][0]["fingerprint"]  # the monit change
    assert manifests[0]["packages"] == manifests[1]["packages"]


def test_release_lists_every_version_of_its_jobs_and_packages(uploaded):
    _, director, manifests = uploaded
    got = director.release("tiny-release")
    assert got["versions"] == [mf["version"] for mf in manifests]
    assert sorted((j["name"], j["version"], j["sha1"]) for j in got["jobs"]) == sorted(
        (j["name"], j["version"], j["sha1"]) for mf in manifests for j in mf["jobs"])
    assert all(j["packages"] == ["blob"] for j in got["jobs"])
    assert [(p["name"], p["version"], p["sha1"], p["dependencies"]) for p in got["packages"]] == [
        ("blob", manifests[0]["packages"][0]["version"], manifests[0]["packages"][0]["sha1"], [])]
    listing = {r["name"]: r for r in director.releases()}["tiny-release"]["release_versions"]
    assert [(v["version"], v["job_names"], v["commit_hash"]) for v in listing] == [
        (mf["version"], ["tiny"], "non-git") for mf in manifests]


def test_unknown_release_or_version_is_a_404(uploaded):
    sim, director, _ = uploaded
    q = "`" if sim.era == "2015" else "'"
    with pytest.raises(BoshApiError) as missing:
        director.release("no-such-release")
    assert (missing.value.code, missing.value.description) == (30005, f"Release {q}no-such-release' doesn't exist")
    for wanted in ("9.9", "latest"):  # an exact version only
        with pytest.raises(BoshApiError) as version:
            director.release("tiny-release", wanted)
        assert (version.value.status, version.value.code) == (404, 30006)
        assert version.value.description == f"Release version {q}tiny-release/{wanted}' doesn't exist"


def test_deployed_release_shows_its_compiled_packages(uploaded):
    sim, director, manifests = uploaded
    name = f"tiny-{sim.era}"
    doc = {"name": name, "director_uuid": director.uuid(),
           "releases": [{"name": "tiny-release", "version": manifests[1]["version"]}],
           "networks": [{"name": "net", "subnets": [{"range": "10.244.72.0/24", "reserved": ["10.244.72.1"]}]}],
           "resource_pools": [{"name": "small", "network": "net", "stemcell": {
               "name": "bosh-warden-boshlite-ubuntu-trusty-go_agent", "version": "latest"}}],
           "update": {"canaries": 1, "max_in_flight": 1, "canary_watch_time": 1000, "update_watch_time": 1000},
           "jobs": [{"name": "tiny", "templates": [{"name": "tiny"}], "instances": 1, "resource_pool": "small",
                     "networks": [{"name": "net"}]}]}
    assert director.deploy(yaml.safe_dump(doc)).state == "done"
    try:
        compiled = director.release("tiny-release", manifests[1]["version"])["packages"][0]["compiled_packages"]
        stemcell = ("bosh-warden-boshlite-ubuntu-trusty-go_agent/2776" if sim.era == "2015"
                    else "ubuntu-trusty/2776")  # today: os/version
        assert [c["stemcell"] for c in compiled] == [stemcell]
        assert director.release("tiny-release", manifests[0]["version"])["packages"][0]["compiled_packages"] == []
    finally:
        director.delete_deployment(name)


def test_another_release_under_an_uploaded_name_and_version_is_refused(uploaded, tarballs, tmp_path):
    """Re-uploading the same release adds nothing; another one under its name and version
    fails the task, as both eras' update_release job fails it (commit first, then jobs)."""
    sim, director, manifests = uploaded
    assert director.upload_release(tarballs[0]).state == "done"
    q = (lambda s: f"`{s}'") if sim.era == "2015" else (lambda s: f"'{s}'")
    version = manifests[0]["version"]
    other_job = ReleaseDir.create(tmp_path / "job")
    other_job.change_job("# another job under the same version\n")
    other_job.create_dev(tmp_path / "job.tgz", "--version", version)
    with pytest.raises(BoshTaskError) as err:
        director.upload_release(tmp_path / "job.tgz")
    assert f"job {q('tiny')} had different fingerprint in previously uploaded release {q(f'tiny-release/{version}')}" \
        in str(err.value)
    other_commit = ReleaseDir.create(tmp_path / "git", git=True)  # same files, made from a commit
    mf = other_commit.create_dev(tmp_path / "git.tgz", "--version", version)
    with pytest.raises(BoshTaskError) as err:
        director.upload_release(tmp_path / "git.tgz")
    named = mf["commit_hash"] if sim.era == "2015" else "non-git"  # 1.3098 names the new upload's commit
    assert (f"release {q(f'tiny-release/{version}')} has already been uploaded with commit_hash as {q(named)} "
            f"and uncommitted_changes as {q('false')}") in str(err.value)
    got = director.release("tiny-release", version)
    assert [j["fingerprint"] for j in got["jobs"]] == [j["fingerprint"] for j in manifests[0]["jobs"]]
