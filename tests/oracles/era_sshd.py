"""Run the era-sshd oracle: the Diego ssh proxy's 2015-16 Go SSH transport as a loopback server.

`era_sshd("c57d4a7" | "c8b9e63", user=..., password=...)` starts the real binary built against
the x/crypto commit that diego-release 0.1434.0 / 0.1454.0 pinned (../shared/oracles/README.md
"era-sshd"), waits for its `listening` line and yields an `EraSshd` with the address and the
host key it printed. It listens on 127.0.0.1 only; no namespace is needed. The password is a
test value, never a real secret (it is on the server's command line).
"""

from __future__ import annotations

import select
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fixtures import oracles as binaries

COMMIT_OF_DIEGO = {"0.1434.0": "c57d4a7", "0.1454.0": "c8b9e63"}
START_TIMEOUT = 15.0


@dataclass(frozen=True)
class EraSshd:
    commit: str
    host: str
    port: int
    host_key: str  # "ssh-rsa AAAA..."
    fingerprint_md5: str  # aa:bb:... (47 characters, CC's app_ssh_host_key_fingerprint format)
    fingerprint_sha256: str  # base64 without padding (43 characters)
    user: str
    password: str

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"


@contextmanager
def era_sshd(commit: str, *, user: str, password: str, host_key_pem: str | None = None,
             max_seconds: int = 600) -> Iterator[EraSshd]:
    binary = binaries.binary(f"era-sshd-{commit}")
    with tempfile.TemporaryDirectory(prefix="era-sshd-") as tmp:
        argv = [str(binary), "--listen", "127.0.0.1:0", "--user", user, "--password", password,
                "--max-seconds", str(max_seconds)]
        if host_key_pem is not None:
            key_file = Path(tmp) / "host_key.pem"
            key_file.write_text(host_key_pem)
            argv += ["--host-key", str(key_file)]
        log = Path(tmp) / "stderr.log"
        with log.open("wb") as err:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        try:
            fields = _startup_lines(proc, log)
            host, _, port = fields["listening"].rpartition(":")
            yield EraSshd(commit, host, int(port), fields["host-key"], fields["fingerprint-md5"],
                          fields["fingerprint-sha256"].removeprefix("SHA256:"), user, password)
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def _startup_lines(proc: subprocess.Popen[bytes], log: Path) -> dict[str, str]:
    """`key value` lines up to and including `listening ADDR` (the last start-up line)."""
    assert proc.stdout is not None
    fields: dict[str, str] = {}
    buffer = b""
    deadline = time.monotonic() + START_TIMEOUT
    while "listening" not in fields:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, remaining))
        chunk = proc.stdout.read1(4096) if ready else b""  # type: ignore[attr-defined]
        if not chunk:
            raise RuntimeError(f"era-sshd {' '.join(map(str, proc.args[:1]))} did not report `listening` "
                               f"(exit {proc.poll()}); stdout so far {buffer!r}; stderr: "
                               f"{log.read_text(errors='replace')[-400:]}")
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            key, _, value = line.decode().strip().partition(" ")
            fields[key] = value
    return fields
