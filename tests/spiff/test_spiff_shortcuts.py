"""The evaluation shortcuts in manifests/spiff/flow.py (subtrees that provably flow to
themselves are not flowed again) must not change any result: every merge here is run
with and without them (flow.SHORTCUTS), pass by pass in full, and must agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifests.spiff import UnresolvedNodesError, dump_yaml, flow, load_yaml_file, load_yaml_text, merge


def _both(monkeypatch, docs: list) -> tuple[str, str]:
    out = []
    for shortcuts in (True, False):
        monkeypatch.setattr(flow, "SHORTCUTS", shortcuts)
        try:
            out.append(dump_yaml(merge(docs)))
        except UnresolvedNodesError as e:
            out.append("\n".join(sorted(e.lines())))
    return out[0], out[1]


def _files(paths: list[Path]) -> list:
    return [(str(p), load_yaml_file(p, role="template" if i == 0 else "stub")) for i, p in enumerate(paths)]


def test_cf_v220_and_redis_merges_agree(monkeypatch, shared_dir: Path) -> None:
    rel = shared_dir / "conformance" / "releases"
    cf = rel / "cf-release-v220" / "templates"
    dr = rel / "diego-release-v0.1434.0" / "stubs-for-cf-release"
    docs = _files([cf / f for f in ("cf-deployment.yml", "cf-resource-pools.yml", "cf-jobs.yml", "cf-lamb.yml",
                                    "cf-properties.yml", "cf-infrastructure-warden.yml")])
    docs.append(("director.yml", load_yaml_text("director_uuid: u\n", "director.yml", role="stub")))
    docs += [(str(p), load_yaml_file(p, role="stub"))
             for p in (dr / "enable_consul_with_cf.yml", dr / "enable_diego_ssh_in_cf.yml")]
    with_, without = _both(monkeypatch, docs)
    assert with_ == without
    assert "static_ips" in with_
    redis = shared_dir / "conformance" / "redis-2015"
    with_, without = _both(monkeypatch, _files([redis / f for f in (
        "deployment.yml", "jobs.yml", "infrastructure-warden.yml", "stub-with-uuid.yml")]))
    assert with_ == without


@pytest.mark.parametrize(("template", "stubs"), [
    ("l: (( merge ))\n", ["l:\n  - name: a\n    v: 1\n  - name: a\n    v: 2\n"]),
    ("l: ~\nm: (( l ))\n", ['l:\n  - v: 1\n  - name: "[0]"\n    v: 2\n']),
    ("d:\n  a: {v: (( w ))}\n  w: 1\nnets: (( merge || d ))\nw: 2\n", ["o: 1\n"]),
    ("d: {a: 1}\nnets: (( merge || d ))\n", ["nets: {a: 3}\n"]),
    ("m:\n  <<: (( merge ))\n  s: {x: 1}\nr: (( m ))\n", ["m: {s: {x: 2, z: 3}, o: 1}\nr: {s: {x: 4}}\n"]),
    ("a: (( b ))\nb: (( c ))\nc: (( merge ))\n", ["c: {k: [1, {name: q, v: (( k2 ))}]}\nk2: 5\n", "k2: 6\n"]),
])
def test_small_merges_agree(monkeypatch, template: str, stubs: list[str]) -> None:
    docs = [("t.yml", load_yaml_text(template, "t.yml"))]
    docs += [(f"s{i}.yml", load_yaml_text(s, f"s{i}.yml", role="stub")) for i, s in enumerate(stubs)]
    with_, without = _both(monkeypatch, docs)
    assert with_ == without
