"""The Diego pipeline's own tooling against a director over its HTTP API: the ketchup
environment deployed piecewise (creation order, then the stories' upgrade order), and the
CATs/DATs configs made from the same suite config and the deployed manifests.

This module starts its own simulator: it deploys a whole CF + Diego, which a shared one
must not carry for the other modules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci import cats_config, dats_config, deploy_pieces, generate_manifests
from ci.acceptance_config import AcceptanceConfigError
from ci.acceptance_config import cats_config as make_cats
from ci.acceptance_config import dats_config as make_dats
from ci.deploy_pieces import PIECES
from helpers.bosh import Director
from helpers.config import parse_config
from simulator import launcher


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("ketchup")
    proc = launcher.start(tmp / "sim", profile="fast")
    try:
        raw = proc.config()
        config = parse_config(raw, source="simulator")
        config_file = tmp / "config.yml"
        config_file.write_text(yaml.safe_dump(raw))
        sets = generate_manifests.generate_sets(config, "v_prime", tmp / "manifests")
        director = Director(config.bosh, config.resolver(), timeout=config.timeout)
        log: list[str] = []
        tasks_v0 = deploy_pieces.deploy_all(director, deploy_pieces.read_manifests(tmp / "manifests/v0"), log.append)
        after_v0 = {"log": list(log), "tasks": tasks_v0,
                    "cats": make_cats(config, manifest_of=director.deployment_manifest),
                    "dats": make_dats(config, manifest_of=director.deployment_manifest)}
        log.clear()
        tasks_prime = deploy_pieces.deploy_all(director, deploy_pieces.read_manifests(tmp / "manifests/v_prime"),
                                               log.append)
        yield {"tmp": tmp, "raw": raw, "config": config, "config_file": config_file, "director": director,
               "sets": sets, "after_v0": after_v0, "after_prime": {"log": list(log), "tasks": tasks_prime}}
    finally:
        proc.stop()


def _order(log: list[str]) -> list[str]:
    return [line.split()[1] for line in log if line.startswith("deploying ")]


def test_a_fresh_environment_is_created_cf_first(env: dict) -> None:
    assert _order(env["after_v0"]["log"]) == list(PIECES)
    assert len(set(env["after_v0"]["tasks"])) == 5
    assert any("cf-warden-diego-cell2:" in line for line in env["after_v0"]["log"])  # live task events shown


def test_an_existing_environment_is_updated_in_the_stories_order(env: dict) -> None:
    assert _order(env["after_prime"]["log"]) == ["database", "cell1", "brain-and-pals", "cf", "cell2"]
    cf = yaml.safe_load(env["director"].deployment_manifest("cf-warden"))
    assert {r["name"]: str(r["version"]) for r in cf["releases"]}["cf"] == "231"


def test_manifests_for_another_director_or_missing_pieces_are_refused(env: dict, tmp_path: Path) -> None:
    manifests = deploy_pieces.read_manifests(env["tmp"] / "manifests/v0")
    manifests["cell2"] = manifests["cell2"].replace(env["director"].uuid(), "00000000-0000-0000-0000-000000000000")
    with pytest.raises(deploy_pieces.PiecesError, match=r"another director.*cell2"):
        deploy_pieces.deploy_all(env["director"], manifests, lambda m: None)
    (tmp_path / "cf.yml").write_text("name: x\n")
    with pytest.raises(deploy_pieces.PiecesError, match=r"lacks database\.yml, brain-and-pals\.yml"):
        deploy_pieces.read_manifests(tmp_path)


def test_dats_config_targets_the_piecewise_deployment(env: dict) -> None:
    dats = env["after_v0"]["dats"]
    raw = env["raw"]["cf"]
    assert dats == {"api": raw["api"].split("://", 1)[1], "apps_domain": env["config"].cf.apps_domain,
                    "admin_user": raw["admin_user"], "admin_password": raw["admin_password"],
                    "skip_ssl_validation": bool(raw.get("skip_ssl_validation", False)),
                    "secure_address": "10.244.0.42:4001"}  # CF's etcd, from the deployed manifest


def test_cats_config_follows_the_deployed_cf_version(env: dict) -> None:
    assert env["after_v0"]["cats"]["use_diego"] is True and "backend" not in env["after_v0"]["cats"]
    now = make_cats(env["config"], manifest_of=env["director"].deployment_manifest)
    assert now["backend"] == "diego" and "use_diego" not in now
    assert now["system_domain"] == env["config"].cf.system_domain
    with pytest.raises(AcceptanceConfigError, match="no CATs field list for cf v999"):
        make_cats(env["config"], cf_version="999")


def test_the_commands_write_private_files_and_print_no_secret(env: dict, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dats.json"
    assert dats_config.main(["--config", str(env["config_file"]), "--out", str(out), "--timeout-scale", "2"]) == 0
    written = json.loads(out.read_text())
    assert written["timeout_scale"] == 2 and written["secure_address"] == "10.244.0.42:4001"
    assert out.stat().st_mode & 0o077 == 0
    assert cats_config.main(["--config", str(env["config_file"]), "--out", str(tmp_path / "cats.json")]) == 0
    printed = capsys.readouterr()
    assert env["raw"]["cf"]["admin_password"] not in printed.out + printed.err
    assert "admin_password" in printed.out  # the field names are listed
    cf_only = tmp_path / "cf-only.yml"
    cf_only.write_text(yaml.safe_dump({"cf": env["raw"]["cf"], "resolve": env["raw"]["resolve"]}))
    assert dats_config.main(["--config", str(cf_only), "--out", str(tmp_path / "x.json")]) == 1
    assert "give --secure-address" in capsys.readouterr().err
    assert dats_config.main(["--config", str(cf_only), "--out", str(tmp_path / "y.json"),
                             "--secure-address", "10.244.0.42:4001"]) == 0
