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


def test_source_date_is_the_commit_time_unless_the_checkout_is_dirty(tmp_path):
    import os
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    f = repo / "a.yml"
    f.write_text("a: 1\n")
    env = {**os.environ, "GIT_AUTHOR_DATE": "2024-01-02T03:04:05Z", "GIT_COMMITTER_DATE": "2024-01-02T03:04:05Z",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    for argv in (["init", "-q"], ["add", "a.yml"], ["commit", "-q", "-m", "x"]):
        subprocess.run(["git", "-C", str(repo), *argv], check=True, env=env, capture_output=True)
    os.utime(f, (1_800_000_000, 1_800_000_000))  # a later mtime must not matter while clean
    assert cand.source_date([(repo, [f])], env={}) == ("2024-01-02T03:04:05Z", "commit")
    assert cand.git_revision(repo) and not cand.git_revision(repo).endswith("-dirty")
    f.write_text("a: 2\n")
    os.utime(f, (1_800_000_000, 1_800_000_000))
    assert cand.source_date([(repo, [f])], env={}) == ("2027-01-15T08:00:00Z", "commit+mtime")
    assert cand.git_revision(repo).endswith("-dirty")
    plain = tmp_path / "plain.yml"
    plain.write_text("b: 1\n")
    os.utime(plain, (1_600_000_000, 1_600_000_000))
    assert cand.source_date([(tmp_path / "nogit", [plain])], env={}) == ("2020-09-13T12:26:40Z", "mtime")


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
