"""The probe app answers with its instance identity and logs nonces to stdout."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path

import requests

from simulator import processes
from simulator.diego.staging import web_command

PROBE = Path(__file__).resolve().parents[2] / "fixtures" / "apps" / "probe"


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def test_procfile_runs_app_py() -> None:
    assert web_command((PROBE / "Procfile").read_text()) == "python app.py"


def test_probe_endpoints(tmp_path: Path) -> None:
    port = free_port("127.0.0.1")
    env = {"PATH": "/usr/bin:/bin", "PORT": str(port), "VCAP_APP_HOST": "127.0.0.1",
           "CF_INSTANCE_INDEX": "2", "CF_INSTANCE_GUID": "guid-2",
           "VCAP_APPLICATION": json.dumps({"application_name": "demo"})}
    lines: list[str] = []
    got_nonce = threading.Event()

    def on_line(stream: str, text: str) -> None:
        lines.append(text)
        if "nonce abc123" in text:
            got_nonce.set()

    proc = processes.spawn([sys.executable, "app.py"], PROBE, env, on_line)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                root = requests.get(base + "/", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert root.text == "probe demo instance 2\n"
        assert requests.get(base + "/id", timeout=1).text == "guid-2"
        assert requests.get(base + "/index", timeout=1).text == "2"
        assert requests.get(base + "/health", timeout=1).status_code == 200
        assert requests.get(base + "/env", timeout=1).json()["CF_INSTANCE_GUID"] == "guid-2"
        assert requests.get(base + "/nope", timeout=1).status_code == 404
        assert requests.get(base + "/log/abc123", timeout=1).status_code == 200
        assert got_nonce.wait(5)
        assert "nonce abc123 index 2" in lines
    finally:
        assert proc.stop(2) == 0  # SIGTERM is a clean exit
