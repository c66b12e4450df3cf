"""`python -m manifests generate --director-url` against a 2015 BOSH-Lite director (SHA-1
certificate): refused with the flag that accepts it named, accepted with that flag."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator import tls
from simulator.server import WsgiListener, start_wsgi_listener

REPO = Path(__file__).resolve().parents[2]


def _info(environ, start_response):
    body = json.dumps({"name": "Bosh Lite Director", "uuid": "era-director-uuid",
                       "user_authentication": {"type": "basic", "options": {}}}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture(scope="module")
def era_director(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WsgiListener, Path]]:
    material = tls.generate(tmp_path_factory.mktemp("era-director"))
    listener = start_wsgi_listener(_info, material.director_context(), name="era-director")
    yield listener, material.ca_path
    listener.close()


def _generate(tmp_path: Path, listener: WsgiListener, ca: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "manifests", "generate", "--versions", "v0",
                           "--director-url", "https://192.168.50.4:25555", "--ca-cert", str(ca),
                           "--resolve", f"192.168.50.4:25555=127.0.0.1:{listener.address[1]}",
                           "--out", str(tmp_path / "out"), *flags],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def test_director_url_of_an_era_director_needs_tls_allow_sha1(tmp_path: Path, era_director):
    listener, ca = era_director
    refused = _generate(tmp_path, listener, ca)
    assert refused.returncode != 0
    assert "signed with SHA-1" in refused.stderr and "--tls-allow-sha1" in refused.stderr, refused.stderr
    assert "bosh.tls_allow_sha1" not in refused.stderr
    accepted = _generate(tmp_path, listener, ca, "--tls-allow-sha1")
    assert accepted.returncode == 0, accepted.stderr
    assert "director_uuid: era-director-uuid" in (tmp_path / "out" / "cf.yml").read_text()
