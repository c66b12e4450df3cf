"""A cf CLI user's session against the simulator in a private host: what the cf CLI oracle
tests share (`test_cf_cli.py` with the oracle cf 6.53, `test_cf_cli_era.py` with the era's
own CLI). Each command of a module is its own test; they share the CLI's state (target, org,
space, app) through one `Session`."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from simulator.launcher import REPO_ROOT
from tests.oracles.privatehost import Result

PROBE = REPO_ROOT / "fixtures" / "apps" / "probe"
API = "https://api.bosh-lite.com"
APP = "probe"
TRACE = {"CF_TRACE": "true"}


class Session:
    """The CLI session shared by the tests of this module, and what each step left behind."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.done: set[str] = set()
        self.adapter_log = env.workdir / "adapter.jsonl"

    def cf(self, *args: str, trace: bool = False, timeout: float = 300.0) -> Result:
        return self.env.cf(*args, env=TRACE if trace else None, timeout=timeout)

    def ok(self, step: str, *args: str, timeout: float = 300.0) -> Result:
        result = self.cf(*args, timeout=timeout)
        assert result.returncode == 0, result.describe()
        self.done.add(step)
        return result

    def needs(self, *steps: str) -> None:
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.fail(f"prerequisite cf step(s) {missing} did not pass earlier in this module")

    def curl(self, path: str) -> Any:
        """`cf curl` (a v2 legacy command): the CC's own answer, to check what a step did."""
        result = self.cf("curl", path)
        assert result.returncode == 0, result.describe()
        return json.loads(result.stdout)

    def app_guid(self) -> str:
        found = self.curl(f"/v2/apps?q=name:{APP}")["resources"]
        assert found, f"no app {APP} in CC"
        return str(found[0]["metadata"]["guid"])

    def wait_instances(self, n: int, timeout: float = 60.0) -> dict[str, Any]:
        guid = self.app_guid()
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = self.curl(f"/v2/apps/{guid}/instances")
            if isinstance(last, dict) and sorted(last) == [str(i) for i in range(n)] and \
                    all(v.get("state") == "RUNNING" for v in last.values()):
                return last
            time.sleep(0.5)
        raise AssertionError(f"app {APP}: expected {n} RUNNING instance(s), last saw {last}")

    def adapter_requests(self) -> list[dict[str, Any]]:
        text = self.adapter_log.read_text() if self.adapter_log.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def exchanges(trace: str) -> list[tuple[str, str, int | None, str]]:
    """(method, host + path, response status, response head+body) of each CF_TRACE exchange."""
    out = []
    for block in trace.split("REQUEST: [")[1:]:  # a progress bar may precede it on its line
        m = re.search(r"\]\n([A-Z]+) (\S+) HTTP/1\.1\nHost: (\S+)", block)
        if not m:
            continue
        resp = re.search(r"RESPONSE: \[[^\]]*\]\nHTTP/1\.1 (\d+)", block)
        out.append((m.group(1), m.group(3) + m.group(2), int(resp.group(1)) if resp else None,
                    block[resp.start():] if resp else ""))
    return out
