"""The command line end to end: V0 then V-prime with one secrets file, a version file,
and the director UUID read from a (loopback) director's /info through --resolve."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from manifest_facts import UUID

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "manifests", "generate", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def director():
    class Info(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"name": "Bosh Lite Director", "uuid": "dir-uuid-from-info",
                               "user_authentication": {"type": "basic"}}).encode()
            self.send_response(200 if self.path == "/info" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Info)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_v0_then_v_prime_share_the_secrets_file(tmp_path: Path):
    secrets = tmp_path / "secrets.yml"
    first = _cli("--versions", "v0", "--director-uuid", UUID, "--out", str(tmp_path / "v0"),
                 "--secrets", str(secrets), "--cf-admin-password", "given-pw")
    assert first.returncode == 0, first.stderr
    assert "given-pw" not in first.stdout + first.stderr
    second = _cli("--versions", "v_prime", "--director-uuid", UUID, "--out", str(tmp_path / "vp"),
                  "--secrets", str(secrets), "--cf-admin-password", "given-pw")
    assert second.returncode == 0, second.stderr
    names = ["cf.yml", "database.yml", "brain-and-pals.yml", "cell1.yml", "cell2.yml"]
    assert sorted(p.name for p in (tmp_path / "v0").iterdir()) == sorted(names)
    v0 = yaml.safe_load((tmp_path / "v0" / "cf.yml").read_text())
    vp = yaml.safe_load((tmp_path / "vp" / "cf.yml").read_text())
    assert v0["properties"]["app_ssh"] == vp["properties"]["app_ssh"]
    assert v0["properties"]["uaa"]["scim"]["users"] == vp["properties"]["uaa"]["scim"]["users"]
    assert v0["properties"]["uaa"]["scim"]["users"][0].split("|")[1] == "given-pw"
    assert "given-pw" not in secrets.read_text()  # given credentials are not stored
    assert [r["version"] for r in v0["releases"]] == ["220"] and [r["version"] for r in vp["releases"]] == ["231"]


def test_version_file_and_director_url_with_resolve(tmp_path: Path, director: int):
    versions = tmp_path / "versions.yml"
    versions.write_text(yaml.safe_dump({"cf": "220", "diego": "0.1434.0", "garden-linux": "0.307.0",
                                        "stemcell": {"name": "bosh-warden-boshlite-ubuntu-trusty-go_agent",
                                                     "version": "3000"}}))
    piece_stub = tmp_path / "cell1.yml"
    piece_stub.write_text(yaml.safe_dump({"jobs": [{"name": "cell_z1", "instances": 3}]}))
    result = _cli("--versions", str(versions), "--director-url", "http://192.168.50.4:25555",
                  "--resolve", f"192.168.50.4:25555=127.0.0.1:{director}", "--out", str(tmp_path / "out"),
                  "--prefix", "acc", "--piece-stub", f"cell1={piece_stub}")
    assert result.returncode == 0, result.stderr
    cell1 = yaml.safe_load((tmp_path / "out" / "cell1.yml").read_text())
    cell2 = yaml.safe_load((tmp_path / "out" / "cell2.yml").read_text())
    assert cell1["name"] == "acc-diego-cell1"
    assert [j["instances"] for j in cell1["jobs"] if j["name"] == "cell_z1"] == [3]
    assert [j["instances"] for j in cell2["jobs"] if j["name"] == "cell_z1"] == [0]
    assert cell1["director_uuid"] == "dir-uuid-from-info"
    assert {p["stemcell"]["version"] for p in cell1["resource_pools"]} == {"3000"}


@pytest.mark.parametrize("value", ["UUID", "ignore", "<your director's uuid>", "1234", UUID + "x"])
def test_director_uuid_must_be_a_uuid(tmp_path: Path, value: str):
    """Issue 12: the README's placeholder `UUID` was accepted and written into every manifest."""
    result = _cli("--versions", "v0", "--director-uuid", value, "--out", str(tmp_path / "v0"))
    assert result.returncode == 1
    assert f"--director-uuid {value!r} is not a director uuid" in result.stderr
    assert not (tmp_path / "v0").exists()


def test_never_into_the_packages_own_manifests_directory(tmp_path: Path):
    """Issue 12: the README's example wrote into manifests/v0, beside the package's templates."""
    result = _cli("--versions", "v0", "--director-uuid", UUID, "--out", "manifests/v0")
    assert result.returncode == 1
    assert "--out manifests/v0 is inside the suite's own manifests/ package" in result.stderr
    assert not (REPO / "manifests" / "v0").exists()
