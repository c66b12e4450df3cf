"""The director keeps release contents as a real one does (issue 14), checked against a
release tarball made by the real bosh CLI v7.1.2 (`bosh create-release --tarball`) from a
tiny release directory made here: one job, one package of a few bytes.

`GET /releases/:name?version=V` must return each job's and package's `fingerprint` and
`sha1` exactly as the tarball's release.MF has them (bosh v7 writes `sha256:` digests in the
`sha1` field; 1.3098 stores what the manifest says without checking it at upload), and
`GET /releases/:name` every version's jobs and packages, in the shape of the era's director.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.bosh import BoshApiError, Director
from helpers.config import parse_config
from tests.oracles import binaries

pytestmark = pytest.mark.slow


def _bosh(home: Path, *args: str, cwd: Path) -> str:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "BOSH_NON_INTERACTIVE": "true"}
    proc = subprocess.run([str(binaries.binary("bosh")), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _release_mf(tarball: Path) -> dict[str, Any]:
    with tarfile.open(tarball) as tar:
        fh = tar.extractfile("release.MF")
        assert fh is not None
        return yaml.safe_load(fh.read())


@pytest.fixture(scope="module")
def tarballs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two dev releases of `tiny-release`: the second after the job's monit file changed."""
    root = tmp_path_factory.mktemp("release")
    home = root / "home"
    home.mkdir()
    _bosh(home, "init-release", "--dir", "tiny", cwd=root)
    rel = root / "tiny"
    _bosh(home, "generate-job", "tiny", cwd=rel)
    _bosh(home, "generate-package", "blob", cwd=rel)
    (rel / "src" / "blob").mkdir(parents=True)
    (rel / "src" / "blob" / "data.txt").write_text("abc\n")
    (rel / "packages" / "blob" / "spec").write_text("---\nname: blob\ndependencies: []\nfiles:\n- blob/data.txt\n")
    (rel / "packages" / "blob" / "packaging").write_text("cp blob/data.txt ${BOSH_INSTALL_TARGET}/\n")
    (rel / "jobs" / "tiny" / "spec").write_text("---\nname: tiny\ntemplates: {}\npackages: [blob]\nproperties: {}\n")
    first = root / "tiny-1.tgz"
    _bosh(home, "create-release", "--force", "--name", "tiny-release", "--tarball", str(first), cwd=rel)
    (rel / "jobs" / "tiny" / "monit").write_text("# changed after the first dev release\n")
    second = root / "tiny-2.tgz"
    _bosh(home, "create-release", "--force", "--name", "tiny-release", "--tarball", str(second), cwd=rel)
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
        manifests.append(_release_mf(tarball))
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
