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
