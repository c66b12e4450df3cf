"""Provision and destroy a BOSH-Lite against a real EC2/Route53 API (moto in server mode)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

from ci import bosh_lite
from ci.bosh_lite import RUN_ID_TAG, Settings, destroy, provision

ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="module")
def aws() -> Iterator[str]:
    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _ec2(url: str):
    return boto3.client("ec2", region_name="us-east-1", endpoint_url=url)


@pytest.fixture
def zone(aws: str) -> str:
    r53 = boto3.client("route53", region_name="us-east-1", endpoint_url=aws)
    return r53.create_hosted_zone(Name="ci.example.test", CallerReference=os.urandom(4).hex())["HostedZone"]["Id"]


def _settings(aws: str, run_id: str, zone: str | None = None, **kw) -> Settings:
    ami = _ec2(aws).describe_images()["Images"][0]["ImageId"]
    return Settings(run_id=run_id, region="us-east-1", endpoint_url=aws, ami=ami, director_password="pw",
                    cf_admin_password="cfpw", domain="run.ci.example.test" if zone else None,
                    hosted_zone_id=zone, wait_timeout=30, **kw)


def test_provision_tags_everything_and_writes_the_config(aws: str, zone: str, tmp_path: Path) -> None:
    waited = []
    record = provision(_settings(aws, "run-a", zone), tmp_path, log=lambda m: None,
                       wait_for_director=lambda s, url: waited.append(url))
    ec2 = _ec2(aws)
    inst = ec2.describe_instances(InstanceIds=[record["instance_id"]])["Reservations"][0]["Instances"][0]
    assert {"Key": RUN_ID_TAG, "Value": "run-a"} in inst["Tags"]
    group = ec2.describe_security_groups(GroupIds=[record["security_group_id"]])["SecurityGroups"][0]
    assert sorted(p["FromPort"] for p in group["IpPermissions"]) == [80, 443, 2222, 25555]
    assert waited == [f"https://{record['public_ip']}:25555"]
    config = yaml.safe_load((tmp_path / "config.yml").read_text())
    assert config["bosh"]["url"] == waited[0]
    assert config["cf"]["api"] == "https://api.run.ci.example.test"
    ip = record["public_ip"]
    assert config["resolve"] == {"*.run.ci.example.test:443": f"{ip}:443", "*.run.ci.example.test:80": f"{ip}:80",
                                 "ssh.run.ci.example.test:2222": f"{ip}:2222"}
    assert (tmp_path / "config.yml").stat().st_mode & 0o077 == 0  # credentials: owner only
    r53 = boto3.client("route53", region_name="us-east-1", endpoint_url=aws)
    records = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    assert any(r["Type"] == "A" and r["ResourceRecords"][0]["Value"] == record["public_ip"] for r in records)


def test_without_dns_the_resolve_map_sends_the_cf_domain_to_the_instance(aws: str, tmp_path: Path) -> None:
    record = provision(_settings(aws, "run-nodns"), tmp_path, log=lambda m: None,
                       wait_for_director=lambda s, url: None)
    config = yaml.safe_load((tmp_path / "config.yml").read_text())
    assert config["cf"]["api"] == "https://api.bosh-lite.com"
    assert config["resolve"]["*.bosh-lite.com:443"] == f"{record['public_ip']}:443"
    destroy(_settings(aws, "run-nodns"), log=lambda m: None)


def test_destroy_removes_everything_and_is_safe_to_repeat(aws: str, zone: str, tmp_path: Path) -> None:
    settings = _settings(aws, "run-b", zone)
    record = provision(settings, tmp_path, log=lambda m: None, wait_for_director=lambda s, u: None)
    other = provision(_settings(aws, "run-other"), tmp_path / "other", log=lambda m: None,
                      wait_for_director=lambda s, u: None)
    removed = destroy(settings, log=lambda m: None)
    assert removed["instances"] == [record["instance_id"]]
    assert removed["security_groups"] == [record["security_group_id"]]
    assert removed["dns"] == ["*.run.ci.example.test."]
    ec2 = _ec2(aws)
    state = ec2.describe_instances(InstanceIds=[record["instance_id"]])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] == "terminated"
    other_state = ec2.describe_instances(InstanceIds=[other["instance_id"]])["Reservations"][0]["Instances"][0]
    assert other_state["State"]["Name"] == "running"  # another run's BOSH-Lite is untouched
    assert destroy(settings, log=lambda m: None) == {"instances": [], "security_groups": [], "dns": []}


def test_destroy_of_a_run_that_never_provisioned_is_a_no_op(aws: str) -> None:
    messages = []
    assert destroy(_settings(aws, "never"), log=messages.append) == {
        "instances": [], "security_groups": [], "dns": []}
    assert "nothing to destroy" in messages[-1]


def test_provision_refuses_missing_settings_with_every_problem(aws: str, tmp_path: Path) -> None:
    settings = Settings(run_id="x", region="us-east-1", endpoint_url=aws)
    with pytest.raises(bosh_lite.ProvisionError) as err:
        provision(settings, tmp_path, log=lambda m: None)
    text = str(err.value)
    assert "BOSH_LITE_AMI" in text and "BOSH_DIRECTOR_PASSWORD" in text and "CF_ADMIN_PASSWORD" in text
    assert not _ec2(aws).describe_instances(Filters=[{"Name": f"tag:{RUN_ID_TAG}", "Values": ["x"]}])[
        "Reservations"]


def test_director_that_never_answers_fails_provision_naming_it(aws: str, tmp_path: Path) -> None:
    def never(settings, url):
        raise bosh_lite.ProvisionError(f"director {url} did not answer /info within 0s")
    with pytest.raises(bosh_lite.ProvisionError, match="did not answer /info"):
        provision(_settings(aws, "run-c"), tmp_path, log=lambda m: None, wait_for_director=never)
    # the half-made BOSH-Lite is still found by its tag, so ensure: destroy cleans it up
    assert destroy(_settings(aws, "run-c"), log=lambda m: None)["instances"]


def test_cli_reads_settings_from_the_environment(aws: str, tmp_path: Path) -> None:
    env = {**ENV, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": aws}
    assert bosh_lite.main(["destroy", "--run-id", "cli-none"], env=env) == 0
    assert bosh_lite.main(["provision", "--run-id", "cli", "--out", str(tmp_path)], env=env) == 1
