"""Release-checkout mode on the conformance copies of cf-release and diego-release (both
manifest-generation eras), release pins from checkout index files, and its errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from manifest_facts import RELEASES_DIR, UUID, job, running, templates

from manifests.generate import GenerationError
from manifests.release_checkout import build_from_checkouts, inspect_diego, last_created_versions

REPO = Path(__file__).resolve().parents[2]
V0 = (RELEASES_DIR / "cf-release-v220", RELEASES_DIR / "diego-release-v0.1434.0")
VP = (RELEASES_DIR / "cf-release-v231", RELEASES_DIR / "diego-release-v0.1454.0")
PIECE_RUNNING = {
    "database": {"database_z1"},
    "brain-and-pals": {"brain_z1", "cc_bridge_z1", "route_emitter_z1", "access_z1"},
    "cell1": {"cell_z1"},
    "cell2": {"cell_z2"},
}
DIEGO1 = {"database": "10.244.34", "brain-and-pals": "10.244.16", "cell1": "10.244.22", "cell2": "10.244.28"}


@pytest.fixture(scope="module", params=["v0", "v_prime"])
def checkout(request):
    cf, diego = V0 if request.param == "v0" else VP
    return request.param, build_from_checkouts(cf, diego, versions=request.param, director_uuid=UUID)


def test_eras_are_detected():
    problems: list[str] = []
    assert inspect_diego(V0[1], problems).era == "positional"
    assert inspect_diego(VP[1], problems).era == "flags"
    assert problems == []


def test_names_instances_and_pins(checkout, catalog):
    name, manifests = checkout
    sets = catalog["version_sets"][name]
    assert manifests["cf"]["name"] == "cf-warden"
    assert {"runner_z1", "hm9000_z1"}.isdisjoint(running(manifests["cf"]))
    assert manifests["cf"]["properties"]["cc"]["default_to_diego_backend"] is True
    for piece, m in manifests.items():
        assert m["director_uuid"] == UUID
        assert m["compilation"]["reuse_compilation_vms"] is False
        versions = {r["name"]: r["version"] for r in m["releases"]}
        assert all(str(v) == str(sets[r]) for r, v in versions.items()), (piece, versions)
        for pool in m["resource_pools"]:
            assert str(pool["stemcell"]["version"]) == "2776", (piece, pool["name"])
        for j in m["jobs"]:
            for t in j["templates"]:
                assert t["name"] in catalog["releases"][t["release"]][versions[t["release"]]], (piece, j["name"], t)
        if piece != "cf":
            assert m["name"] == f"cf-warden-diego-{piece}"
            assert set(running(m)) == PIECE_RUNNING[piece]
            assert ("etcd" in versions) == (name == "v_prime")


def test_database_etcd_comes_from_the_right_release(checkout):
    name, manifests = checkout
    expected = "etcd:diego" if name == "v0" else "etcd:etcd"
    assert expected in templates(manifests["database"], "database_z1")


def test_piece_networks(checkout):
    name, manifests = checkout
    for piece, prefix in DIEGO1.items():
        m = manifests[piece]
        nets = {n["name"]: n["subnets"] for n in m["networks"]}
        assert nets["diego1"][0]["range"] == f"{prefix}.0/30" and len(nets["diego1"]) == 31
    assert {n["name"]: n for n in manifests["cell2"]["networks"]}["diego2"]["subnets"][0]["range"] == "10.244.30.0/30"
    pools = {p["name"]: p["network"] for p in manifests["cell2"]["resource_pools"]}
    assert pools[job(manifests["cell2"], "cell_z2")["resource_pool"]] == "diego2"
    if name == "v0":
        assert job(manifests["brain-and-pals"], "access_z1")["networks"][0]["static_ips"] == ["10.244.16.6"]


def _fake_checkout(tmp: Path, source: Path, name: str, release: str, versions: list[str]) -> Path:
    """A checkout that links the conformance files and has created dev releases."""
    root = tmp / name
    root.mkdir()
    for entry in source.iterdir():
        (root / entry.name).symlink_to(entry)
    rel = root / "dev_releases" / release
    rel.mkdir(parents=True)
    for i, version in enumerate(versions):
        path = rel / f"{release}-{version}.yml"
        path.write_text(yaml.safe_dump({"name": release, "version": version}))
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
    return root


def test_pins_follow_the_last_created_release(tmp_path: Path):
    cf = _fake_checkout(tmp_path, V0[0], "cf-release", "cf", ["220+dev.1", "220+dev.2"])
    diego = _fake_checkout(tmp_path, V0[1], "diego-release", "diego", ["0.1434.0+dev.7"])
    garden = tmp_path / "garden-linux-release"
    (garden / "releases" / "garden-linux").mkdir(parents=True)
    (garden / "releases" / "garden-linux" / "index.yml").write_text(yaml.safe_dump(
        {"builds": {"a": {"version": "0.305.0"}, "b": {"version": "0.307.0"}, "c": {"version": "0.99.0"}}}))
    assert last_created_versions(cf) == {"cf": "220+dev.2"}
    assert last_created_versions(garden) == {"garden-linux": "0.307.0"}
    manifests = build_from_checkouts(cf, diego, garden_release=garden, director_uuid=UUID)
    assert {r["name"]: r["version"] for r in manifests["cell1"]["releases"]} == {
        "diego": "0.1434.0+dev.7", "cf": "220+dev.2", "garden-linux": "0.307.0"}


def test_missing_versions_are_all_reported(tmp_path: Path):
    with pytest.raises(GenerationError) as err:
        build_from_checkouts(*V0, director_uuid=UUID)
    assert err.value.problems == ["cf.yml: no version for release 'cf': give --versions FILE or --cf-release DIR "
                                  "with a releases/ or dev_releases/ index"]
    versions = tmp_path / "v.yml"
    versions.write_text(yaml.safe_dump({"cf": "220"}))
    with pytest.raises(GenerationError) as err:
        build_from_checkouts(*V0, director_uuid=UUID, versions=versions)
    text = str(err.value)
    for piece in ("database", "brain-and-pals", "cell1", "cell2"):
        assert f"{piece}.yml: no version for release 'diego'" in text
        assert f"{piece}.yml: no version for release 'garden-linux'" in text


def test_not_a_checkout(tmp_path: Path):
    with pytest.raises(GenerationError) as err:
        build_from_checkouts(tmp_path, tmp_path, director_uuid=UUID, versions="v0")
    assert len(err.value.problems) == 2
    assert "not a cf-release checkout" in err.value.problems[0]
    assert "not a diego-release checkout" in err.value.problems[1]


def test_cli_checkout_mode(tmp_path: Path):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "manifests", "generate", "--cf-release", str(VP[0]), "--diego-release", str(VP[1]),
         "--versions", "v_prime", "--target", "bosh-lite", "--director-uuid", UUID, "--out", str(out),
         "--prefix", "vp"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    db = yaml.safe_load((out / "database.yml").read_text())
    assert db["name"] == "vp-diego-database"
    assert {r["name"] for r in db["releases"]} == {"diego", "garden-linux", "etcd", "cf"}


def test_admin_credentials_in_checkout_mode():
    manifests = build_from_checkouts(*V0, versions="v0", director_uuid=UUID, cf_admin_user="ops",
                                     cf_admin_password="from-config")
    users = manifests["cf"]["properties"]["uaa"]["scim"]["users"]
    name, password, groups = users[0].split("|")
    assert (name, password) == ("ops", "from-config") and "cloud_controller.admin" in groups.split(",")


def test_unresolved_node_in_checkout_mode_names_the_manifest(tmp_path: Path):
    stub = tmp_path / "stub.yml"
    stub.write_text("properties:\n  cc:\n    external_host: (( no.such.value ))\n")
    with pytest.raises(GenerationError) as err:
        build_from_checkouts(*V0, versions="v0", director_uuid=UUID, stubs=[stub])
    text = str(err.value)
    assert text.startswith("cf.yml: unresolved nodes:") and "(( no.such.value ))" in text


def test_a_missing_checkout_path_is_one_clear_message_each(tmp_path: Path):
    """Issue 12: a missing --cf-release said both "not a cf-release checkout (missing ...)" and
    "not a directory"."""
    with pytest.raises(GenerationError) as err:
        build_from_checkouts(tmp_path / "no-cf", tmp_path / "no-diego", director_uuid=UUID, versions="v0")
    assert err.value.problems == [f"--cf-release {tmp_path / 'no-cf'}: no such directory",
                                  f"--diego-release {tmp_path / 'no-diego'}: no such directory"]
