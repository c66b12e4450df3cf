"""Pytest plugin for the reliability tests: injects faults when suite steps start or end.

Loaded into an *inner* pytest run of a suite (`-p faultplugin`, with this directory on
PYTHONPATH). `SUITE_FAULTS` holds a JSON list of faults, of two sorts:

* inside the simulator: `{"at": "upgrade D3", "when": "start"|"end", "kind": ..., "target":
  ..., "duration": s, "count": n, "params": {...}, "delay": s}`. Targets may name `{a0}` or
  `{smoke:<step id>}`, replaced by this run's app names. They go to the director's
  `/_simulator/faults` admin endpoint with the config's director credentials, as any test
  client would;
* outside it: `{"at": ..., "when": ..., "proxy": "127.0.0.1:<control port>", "action":
  "break"|"restore"}` tells a FaultProxy (faultproxy.py) the test put in front of an endpoint.

Both are sent synchronously from the step's start/end event, so a fault at "start" is in
place before the step's first operation (and before the measurements' first sample of it).
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import pytest
from faultproxy import send

INJECTED: list[dict[str, Any]] = []


def _post(config: pytest.Config, fault: dict[str, Any]) -> None:
    from helpers.config import load_config
    from helpers.net import http_session

    cfg = load_config(config.getoption("--config"))
    session = http_session(cfg.bosh.tls, cfg.resolver(), timeout=(5, 10), retries=0)
    r = session.post(cfg.bosh.url.rstrip("/") + "/_simulator/faults", json=fault,
                     auth=(cfg.bosh.username, cfg.bosh.password))
    INJECTED.append({"fault": fault, "status": r.status_code, "body": r.text[:300]})


def pytest_configure(config: pytest.Config) -> None:
    specs = json.loads(os.environ.get("SUITE_FAULTS", "[]"))
    if not specs:
        return
    from fixtures.run import get_run  # late: keep assertion rewriting of fixtures.run intact

    run = get_run(config)

    def on_step(event: str, step: Any) -> None:
        for spec in specs:
            if spec.get("at") != step.name or spec.get("when", "start") != event or spec.get("done"):
                continue
            spec["done"] = True
            if spec.get("proxy"):
                answer = send(spec["proxy"], spec["action"])
                INJECTED.append({"proxy": spec["proxy"], "action": spec["action"], "at": spec["at"],
                                 "when": spec.get("when", "start"), "answer": answer})
                continue
            run_id = run.meta.get("run_id", "")
            target = spec.get("target")
            if isinstance(target, str):
                target = target.replace("{a0}", f"a0-{run_id}")
                if target.startswith("{smoke:"):
                    target = f"smoke-{run_id}-{target[7:-1]}"
            fault = {k: spec[k] for k in ("kind", "duration", "count", "params") if spec.get(k) is not None}
            fault["target"] = target

            def fire(fault: dict[str, Any] = fault, delay: float = float(spec.get("delay", 0))) -> None:
                time.sleep(delay)
                _post(config, fault)

            if spec.get("delay"):
                threading.Thread(target=fire, daemon=True).start()
            else:
                fire()

    run.recorder.subscribe(on_step)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for item in INJECTED:
        terminalreporter.write_line(f"injected fault: {json.dumps(item)}")
