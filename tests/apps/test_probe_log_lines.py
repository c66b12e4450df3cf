"""The probe app prints each log line whole, however many requests print at once.

`print` writes the text and the newline in two writes: two requests printing at the same
moment (two measurements emitting through A0 in the same instant) interleaved into one line
holding both nonces, and whoever looked for the second never found it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import urllib.request

from fixtures.apps import PROBE_DIR


def test_concurrent_log_requests_each_print_one_whole_line():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(PROBE_DIR / "app.py")], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PORT": str(port), "VCAP_APP_HOST": "127.0.0.1",
                                 "CF_INSTANCE_INDEX": "0"})
    try:
        assert proc.stdout is not None
        assert "listening on" in proc.stdout.readline()

        def hit(i: int) -> None:
            for j in range(150):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/log/n{i}x{j}", timeout=5).read()

        threads = [threading.Thread(target=hit, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) == 600
    assert sorted(lines) == sorted(f"nonce n{i}x{j} index 0" for i in range(4) for j in range(150))
