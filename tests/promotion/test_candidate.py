"""Candidate tarballs: deterministic, named by digest, verified when read."""

import gzip
import io
import tarfile

import pytest
import yaml

from fixtures.redis import REDIS_TEMPLATES
from promotion import candidate as cand


def _build(upstream, version="9.1", created="2026-01-01T00:00:00Z"):
    return cand.build(upstream, REDIS_TEMPLATES, cand.parse_releases([f"redis={version}"]), created=created)


@pytest.mark.parametrize(
    ("version", "final"),
    [("9", True), ("9.1", True), ("0.1434.0", True), ("9+dev.1", False), ("latest", False), ("9.1-rc", False)],
)
def test_final_versions(version, final):
    assert cand.is_final(version) is final


def test_build_is_deterministic_and_named_by_its_digest(redis_upstream):
    d1, data1 = _build(redis_upstream)
    d2, data2 = _build(redis_upstream)
    assert d1 == d2 == cand.sha256(data1)
    assert data1 == data2
    d3, _ = _build(redis_upstream, created="2026-01-02T00:00:00Z")
    assert d3 != d1


def test_tarball_members_are_sorted_with_fixed_mtimes(redis_upstream):
    _, data = _build(redis_upstream)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert {m.mtime for m in members} == {0}
    assert "upstream/deployment.yml" in names
    assert "environments/production/scaling.yml" in names


def test_candidate_yml_records_sources_releases_and_digest(redis_upstream):
    digest, data = _build(redis_upstream, version="9+dev.1")
    c = cand.read(data, digest)
    assert c.releases == [{"name": "redis", "version": "9+dev.1", "final": False}]
    assert c.meta["created"] == "2026-01-01T00:00:00Z"
    assert c.meta["content_digest"] == cand.content_digest(c.files)
    assert set(c.meta["sources"]) == {"project", "upstream"}
    assert c.meta["sources"]["project"]["revision"]  # the project is a git checkout
    assert c.non_final_releases() == ["redis/9+dev.1"]


def test_tampered_tarball_is_refused(redis_upstream):
    digest, data = _build(redis_upstream)
    raw = gzip.decompress(data)
    tampered_raw = raw.replace(b"redis-production", b"redis-pwned!!!!!")
    assert tampered_raw != raw
    tampered = gzip.compress(tampered_raw, mtime=0)
    with pytest.raises(cand.CandidateError, match="tampered with or truncated"):
        cand.read(tampered, digest)


def test_truncated_tarball_is_refused(redis_upstream):
    digest, data = _build(redis_upstream)
    with pytest.raises(cand.CandidateError, match=r"refused.*truncated"):
        cand.read(data[: len(data) // 2], digest)


def test_content_must_match_candidate_yml_even_when_renamed(redis_upstream):
    """Someone rebuilds a tarball with changed templates and names it by its new digest:
    the content digest inside candidate.yml no longer matches."""
    _, data = _build(redis_upstream)
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for m in tar.getmembers():
            files[m.name] = tar.extractfile(m).read()
    files["environments/production/scaling.yml"] += b"\n# changed\n"
    forged = cand._tar_bytes(files)
    with pytest.raises(cand.CandidateError, match="content digest does not match"):
        cand.read(forged, cand.sha256(forged))


def test_upstream_checkout_layout_or_templates_dir(tmp_path, redis_upstream):
    assert cand.upstream_templates_dir(redis_upstream) == redis_upstream
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "deployment.yml").write_text("name: x\n")
    assert cand.upstream_templates_dir(tmp_path) == tmp_path / "templates"
    with pytest.raises(cand.CandidateError, match="not a redis-boshrelease checkout"):
        cand.upstream_templates_dir(tmp_path / "templates" / "nothing")


def test_release_spec_errors():
    with pytest.raises(cand.CandidateError, match=r"NAME=VERSION, e\.g\."):
        cand.parse_releases(["redis"])
    with pytest.raises(cand.CandidateError, match="needs its release versions"):
        cand.build(REDIS_TEMPLATES, REDIS_TEMPLATES, [])


def test_digest_syntax():
    with pytest.raises(cand.CandidateError, match="not a candidate digest"):
        cand.check_digest("../../etc/passwd")
    assert cand.check_digest("a" * 64) == "a" * 64


def test_candidate_yml_is_yaml(redis_upstream):
    _, data = _build(redis_upstream)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        meta = yaml.safe_load(tar.extractfile("candidate.yml").read())
    assert meta["environments"] == ["dev1", "dev2", "staging", "production"]


def test_default_build_is_reproducible_and_dated_by_its_sources(redis_upstream, monkeypatch):
    """No wall clock inside: two builds of the same inputs are the same candidate."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    releases = cand.parse_releases(["redis=9.1"])
    d1, data1 = cand.build(redis_upstream, REDIS_TEMPLATES, releases)
    d2, data2 = cand.build(redis_upstream, REDIS_TEMPLATES, releases)
    assert (d1, data1) == (d2, data2)
    meta = cand.read(data1, d1).meta
    assert meta["created"] != "1970-01-01T00:00:00Z" and meta["created_from"]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    d3, data3 = cand.build(redis_upstream, REDIS_TEMPLATES, releases)
    assert cand.read(data3, d3).meta["created"] == "2023-11-14T22:13:20Z"
    assert cand.read(data3, d3).meta["created_from"] == "SOURCE_DATE_EPOCH"


GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}


def _git(cwd, *argv, date="2024-01-02T03:04:05Z"):
    import os
    import subprocess

    env = {**os.environ, **GIT_ENV, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    return subprocess.run(["git", *argv], cwd=cwd, check=True, env=env, capture_output=True, text=True).stdout


def _touch_all(root, stamp):
    import os

    for path in [root, *root.rglob("*")]:
        if ".git" not in path.parts:
            os.utime(path, (stamp, stamp))


def test_source_date_is_heads_commit_date_and_never_a_file_time(tmp_path):
    import os

    repo = tmp_path / "repo"
    repo.mkdir()
    f = repo / "a.yml"
    f.write_text("a: 1\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "a.yml")
    _git(repo, "commit", "-q", "-m", "x")
    os.utime(f, (1_800_000_000, 1_800_000_000))  # file times never matter
    assert cand.source_date([repo], env={}) == ("2024-01-02T03:04:05Z", "commit")
    assert cand.git_revision(repo) and not cand.git_revision(repo).endswith("-dirty")
    f.write_text("a: 2\n")  # dirty: the content names it, the revision says -dirty, the date stays HEAD's
    assert cand.source_date([repo], env={}) == ("2024-01-02T03:04:05Z", "commit")
    assert cand.git_revision(repo).endswith("-dirty")
    assert cand.source_date([tmp_path / "nogit"], env={}) == (None, "none")
    assert cand.source_date([tmp_path / "nogit"], env={"SOURCE_DATE_EPOCH": "1700000000"}) == (
        "2023-11-14T22:13:20Z", "SOURCE_DATE_EPOCH")


def test_two_clean_clones_with_different_file_times_build_the_same_digest(tmp_path, redis_upstream, monkeypatch):
    """What the pipeline does: clone the project at one commit (any depth, any file times)
    and build. The digest depends on the commit, never on the checkout."""
    import shutil

    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    origin = tmp_path / "origin"
    shutil.copytree(REDIS_TEMPLATES, origin / "manifests" / "redis")
    _git(origin, "init", "-q")
    _git(origin, "add", ".")
    _git(origin, "commit", "-q", "-m", "templates")
    (origin / "README").write_text("a later commit\n")
    _git(origin, "add", "README")
    _git(origin, "commit", "-q", "-m", "readme", date="2024-02-03T04:05:06Z")
    head = _git(origin, "rev-parse", "HEAD").strip()
    full, shallow = tmp_path / "clone-full", tmp_path / "clone-shallow"
    _git(tmp_path, "clone", "-q", str(origin), str(full))
    _git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin}", str(shallow))
    _touch_all(full, 1_600_000_000)
    _touch_all(shallow, 1_900_000_000)
    releases = cand.parse_releases(["redis=9.1"])
    built = [cand.build(redis_upstream, clone / "manifests" / "redis", releases) for clone in (full, shallow)]
    assert built[0] == built[1]
    meta = cand.read(built[0][1], built[0][0]).meta
    assert meta["sources"]["project"]["revision"] == head
    assert (meta["created"], meta["created_from"]) == ("2024-02-03T04:05:06Z", "commit")
    with tarfile.open(fileobj=io.BytesIO(built[0][1]), mode="r:gz") as tar:
        assert {(m.mtime, m.mode, m.uid, m.gid) for m in tar.getmembers()} == {(0, 0o644, 0, 0)}


def test_refusals_name_the_rule_and_the_remedy(redis_upstream):
    digest, data = _build(redis_upstream)
    with pytest.raises(cand.CandidateError) as err:
        cand.read(data[:100], digest)
    assert str(err.value).startswith("refused by rule 'verified-candidate': candidate ")
    assert "to satisfy it: rebuild it with `python -m promotion build`" in str(err.value)


def test_candidate_yml_records_exact_release_finality_and_stemcell(redis_upstream):
    digest, data = cand.build(redis_upstream, REDIS_TEMPLATES, cand.parse_releases(["redis=9.1", "other=2+dev.3"]),
                              stemcell={"name": "s", "version": "3147"}, created="2026-01-01T00:00:00Z")
    meta = cand.read(data, digest).meta
    assert meta["releases"] == [{"name": "redis", "version": "9.1", "final": True},
                                {"name": "other", "version": "2+dev.3", "final": False}]
    assert meta["stemcell"] == {"name": "s", "version": "3147"}
    assert set(meta["files"]) == {n for n in cand.read(data, digest).files}
