"""End to end: the generated V0 manifests deploy on the embedded simulator's director, and
CF then accepts the admin credentials the suite injected and publishes our host key's
fingerprint (the properties the simulator reads come from what was deployed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpers.bosh import Director
from helpers.cf import CloudFoundry
from helpers.config import load_config
from helpers.net import Resolver
from manifests.generate import PIECES, generate
from manifests.sets import haproxy_certificates
from simulator.launcher import start


@pytest.mark.slow
def test_v0_deploys_and_cf_uses_the_generated_credentials(tmp_path: Path):
    sim = start(tmp_path / "state")
    try:
        config = load_config(sim.config_path)
        resolver = Resolver(config.resolve)
        director = Director(config.bosh, resolver)
        paths = generate("v0", director_uuid=director.uuid(), out=tmp_path / "v0",
                         secrets_file=tmp_path / "secrets.yml", cf_admin_user=config.cf.admin_user,
                         cf_admin_password=config.cf.admin_password)
        for piece in PIECES:
            assert director.deploy(paths[piece].read_text()).state == "done", piece
        assert sorted(director.deployment_names()) == sorted(
            ["cf-warden", "cf-warden-diego-database", "cf-warden-diego-brain-and-pals",
             "cf-warden-diego-cell1", "cf-warden-diego-cell2"])
        cf = CloudFoundry(config.with_cf_trust(haproxy_certificates([paths["cf"]])).cf, resolver)
        cf.login()
        fingerprint = yaml.safe_load(paths["cf"].read_text())["properties"]["app_ssh"]["host_key_fingerprint"]
        assert cf.info()["app_ssh_host_key_fingerprint"] == fingerprint
    finally:
        sim.stop()
