"""A config that names only a CF: the smoke suite runs against it; the suites that drive BOSH
refuse it with one clear message and touch nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from harness import SHORT_TIMEOUTS, run_suite

from helpers.bosh import Director
from helpers.config import load_config
from manifests.generate import generate

pytestmark = pytest.mark.slow

V0_ORDER = ("cf", "database", "brain-and-pals", "cell1", "cell2")


def _deploy_v0(config_path: Path, out: Path) -> None:
    """Stand in for an existing CF: V0 deployed directly through the director API."""
    cfg = load_config(config_path)
    director = Director(cfg.bosh, cfg.resolver(), timeout=cfg.timeout)
    paths = generate("v0", director_uuid=director.uuid(), out=out, secrets_file=out.parent / "secrets.yml",
                     cf_admin_user=cfg.cf.admin_user, cf_admin_password=cfg.cf.admin_password)
    for piece in V0_ORDER:
        director.deploy(paths[piece].read_text())


def test_smoke_runs_on_a_cf_only_config_and_the_upgrade_suite_refuses_it(sim_factory, tmp_path: Path) -> None:
    _sim, full = sim_factory(preload=("v0",))
    _deploy_v0(full, tmp_path / "v0")
    data = yaml.safe_load(full.read_text())
    cf_only = tmp_path / "cf-only.yml"
    # the user of an existing CF names the CA of its HAProxy certificate
    haproxy_ca = yaml.safe_load((tmp_path / "secrets.yml").read_text())["ha_proxy_ca_cert"]
    cf_only.write_text(yaml.safe_dump({"cf": {**data["cf"], "ca_cert": haproxy_ca}, "resolve": data["resolve"],
                                       "loopback_only": True, "timeouts": SHORT_TIMEOUTS}))

    smoke = run_suite(["suites/smoke"], config=cf_only, artifacts=tmp_path / "smoke")
    assert smoke.returncode == 0, smoke.output[-3000:]
    assert "no BOSH director configured, CF only" in smoke.output

    upgrade = run_suite(["suites/upgrade_stable"], config=cf_only, artifacts=tmp_path / "upgrade")
    assert upgrade.returncode == 4, upgrade.output[-3000:]
    assert "the upgrade-from-stable suite needs a BOSH director: set bosh.url" in upgrade.output
    assert upgrade.report["outcome"] == "config error" and upgrade.report["results"] == []  # no test ran
    assert "upgrade run summary" not in smoke.output
    listed = next(line for line in smoke.output.splitlines() if line.startswith("artifacts: "))
    assert "samples.jsonl" not in listed and "report.json" in listed  # only what exists is listed
