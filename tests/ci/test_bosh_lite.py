"""Provision and destroy a BOSH-Lite against a real EC2/Route53 API (moto in server mode).

AWS's eventual consistency is injected with a botocore `before-call` hook that answers the
first calls with the error AWS gives (e.g. `DependencyViolation` while the terminated
instance's network interface lingers), then lets the calls through to moto."""

from __future__ import annotations

import base64
import datetime
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto.server import ThreadedMotoServer

from ci import bosh_lite
from ci.bosh_lite import RUN_ID_TAG, Clients, ProvisionError, Settings, destroy, provision

ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
OWNER = "123456789012"  # moto's account: the owner of the images the tests register


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


@pytest.fixture(scope="module")
def ca_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Internet Widgits Pty Ltd")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _ec2(url: str) -> Any:
    return boto3.client("ec2", region_name="us-east-1", endpoint_url=url)


@pytest.fixture(scope="module")
def images(aws: str) -> dict[str, str]:
    """Two BOSH-Lite box images (an older and a newer build) registered by our account."""
    ec2 = _ec2(aws)
    base = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    out = {}
    for name in ("boshlite-9000.69.0", "boshlite-9000.102.0"):
        out[name] = ec2.create_image(InstanceId=instance, Name=name)["ImageId"]
    ec2.terminate_instances(InstanceIds=[instance])
    return out


@pytest.fixture
def zone(aws: str) -> str:
    r53 = boto3.client("route53", region_name="us-east-1", endpoint_url=aws)
    return r53.create_hosted_zone(Name="ci.example.test", CallerReference=os.urandom(4).hex())["HostedZone"]["Id"]


def _settings(aws: str, run_id: str, ca_pem: str, **kw: Any) -> Settings:
    values: dict[str, Any] = {"run_id": run_id, "region": "us-east-1", "endpoint_url": aws, "ami_owner": OWNER,
                              "ingress_cidr": "198.51.100.7/32", "director_ca_cert": ca_pem, "wait_timeout": 30}
    values.update(kw)
    return Settings(**values)


class Waited:
    """Stands in for the wait on the real director; records the config it was given."""

    def __init__(self) -> None:
        self.configs: list[dict[str, Any]] = []

    def __call__(self, config: dict[str, Any], timeout: float) -> None:
        self.configs.append(config)


def _provision(aws: str, run_id: str, ca_pem: str, out: Path, log: list[str] | None = None, **kw: Any):
    waited = Waited()
    record = provision(_settings(aws, run_id, ca_pem, **kw), out, log=(log.append if log is not None else lambda m: None),
                       wait_for_director=waited)
    return record, waited


def test_provision_opens_the_six_ports_to_the_given_cidr_only(aws: str, ca_pem: str, images: dict,
                                                             tmp_path: Path) -> None:
    record, _ = _provision(aws, "run-ports", ca_pem, tmp_path)
    group = _ec2(aws).describe_security_groups(GroupIds=[record["security_group_id"]])["SecurityGroups"][0]
    opened = {(p["FromPort"], p["ToPort"], tuple(r["CidrIp"] for r in p["IpRanges"])) for p in group["IpPermissions"]}
    assert opened == {(port, port, ("198.51.100.7/32",)) for port in (22, 25555, 80, 443, 2222, 4443)}
    assert {"Key": RUN_ID_TAG, "Value": "run-ports"} in group["Tags"]


def test_provision_finds_the_newest_box_image_and_sizes_the_root_volume(aws: str, ca_pem: str, images: dict,
                                                                       tmp_path: Path) -> None:
    record, _ = _provision(aws, "run-ami", ca_pem, tmp_path, root_volume_gb=120)
    assert record["image_id"] == images["boshlite-9000.102.0"]
    ec2 = _ec2(aws)
    volumes = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [record["instance_id"]]}])
    root = ec2.describe_images(ImageIds=[record["image_id"]])["Images"][0]["RootDeviceName"]
    sizes = {v["Attachments"][0]["Device"]: v["Size"] for v in volumes["Volumes"]}
    assert sizes[root] == 120


def test_provision_starts_the_instance_with_the_first_boot_script(aws: str, ca_pem: str, images: dict,
                                                                   tmp_path: Path) -> None:
    record, waited = _provision(aws, "run-userdata", ca_pem, tmp_path)
    attribute = _ec2(aws).describe_instance_attribute(InstanceId=record["instance_id"], Attribute="userData")
    script = base64.b64decode(attribute["UserData"]["Value"]).decode()
    assert script.startswith("#!/bin/bash")
    for port in (80, 443, 2222, 4443):
        assert f"--dport {port} -j DNAT --to-destination 10.244.0.34:{port}" in script
    config = waited.configs[0]
    assert config["bosh"]["username"] in script and config["bosh"]["password"] in script  # what the boot sets
    assert "/users" in script and "rc.local" in script


def test_provision_writes_a_verified_config_with_fresh_credentials(aws: str, ca_pem: str, images: dict,
                                                                    tmp_path: Path) -> None:
    log: list[str] = []
    record, waited = _provision(aws, "run-config", ca_pem, tmp_path, log)
    config = yaml.safe_load((tmp_path / "config.yml").read_text())
    assert config == waited.configs[0]  # the config the director was checked with is the one written
    ip = record["public_ip"]
    assert config["bosh"]["url"] == "https://192.168.50.4:25555"  # the certificate's own SAN
    assert config["bosh"]["ca_cert"] == ca_pem and "skip_ssl_validation" not in config["bosh"]
    assert config["bosh"]["tls_allow_sha1"] is True  # the 2015 box's SHA-1 director certificate, this CA only
    assert "skip_ssl_validation" not in config["cf"]  # CF verified against the HAProxy cert the suite deploys
    assert config["resolve"] == {"192.168.50.4:25555": f"{ip}:25555", "*.bosh-lite.com:80": f"{ip}:80",
                                 "*.bosh-lite.com:443": f"{ip}:443", "*.bosh-lite.com:4443": f"{ip}:4443",
                                 "ssh.bosh-lite.com:2222": f"{ip}:2222"}
    assert config["bosh"]["username"].startswith("ci-") and config["bosh"]["username"] != "admin"
    assert len(config["bosh"]["password"]) >= 24 and config["bosh"]["password"] != "admin"
    assert len(config["cf"]["admin_password"]) >= 16
    assert (tmp_path / "config.yml").stat().st_mode & 0o077 == 0
    secrets = (config["bosh"]["password"], config["cf"]["admin_password"])
    assert not any(s in line for s in secrets for line in log)
    assert not any(s in (tmp_path / "instance.yml").read_text() for s in secrets)
    _provision(aws, "run-config-2", ca_pem, tmp_path / "other")
    assert yaml.safe_load((tmp_path / "other/config.yml").read_text())["bosh"]["password"] != config["bosh"]["password"]


def test_overlay_keys_reach_the_config_and_are_validated(aws: str, ca_pem: str, images: dict, tmp_path: Path) -> None:
    _provision(aws, "run-overlay", ca_pem, tmp_path, config_overlay={"timeout_scale": 2.5})
    assert yaml.safe_load((tmp_path / "config.yml").read_text())["timeout_scale"] == 2.5
    with pytest.raises(ProvisionError, match="no_such_key"):
        _provision(aws, "run-overlay-bad", ca_pem, tmp_path / "bad", config_overlay={"bosh": {"no_such_key": 1}})


def test_ami_choice_is_checked(aws: str, ca_pem: str, images: dict, tmp_path: Path) -> None:
    given = images["boshlite-9000.69.0"]
    record, _ = _provision(aws, "run-given", ca_pem, tmp_path, ami=given)
    assert record["image_id"] == given
    with pytest.raises(ProvisionError, match=f"owned by {OWNER}, not 999999999999"):
        _provision(aws, "run-foreign", ca_pem, tmp_path, ami=given, ami_owner="999999999999")
    with pytest.raises(ProvisionError, match="ami-12345678"):
        _provision(aws, "run-missing", ca_pem, tmp_path, ami="ami-12345678")
    with pytest.raises(ProvisionError, match=r"no available AMI named 'boshlite-9000\.\*' owned by 999999999999"):
        _provision(aws, "run-impostor", ca_pem, tmp_path, ami_owner="999999999999")
    for run in ("run-foreign", "run-missing", "run-impostor"):  # refused before anything was created
        assert not _ec2(aws).describe_security_groups(Filters=[{"Name": f"tag:{RUN_ID_TAG}", "Values": [run]}])[
            "SecurityGroups"]


def test_bad_settings_are_all_reported_and_nothing_is_created(aws: str, tmp_path: Path) -> None:
    settings = Settings(run_id="x", region="us-east-1", endpoint_url=aws, ingress_cidr="0.0.0.0/0",
                        root_volume_gb=20)
    with pytest.raises(ProvisionError) as err:
        provision(settings, tmp_path, log=lambda m: None)
    text = str(err.value)
    for expected in ("BOSH_LITE_AMI_OWNER", "opens the BOSH-Lite to everyone", "BOSH_LITE_DIRECTOR_CA_CERT",
                     "BOSH_LITE_ROOT_VOLUME_GB=20"):
        assert expected in text
    assert "is required: the CIDR" in str(bosh_lite._cidr_problems("", False))
    assert bosh_lite._cidr_problems("0.0.0.0/0", True) == []
    assert "not a CIDR" in bosh_lite._cidr_problems("10.0.0.1/8", False)[0]
    assert not _ec2(aws).describe_instances(Filters=[{"Name": f"tag:{RUN_ID_TAG}", "Values": ["x"]}])["Reservations"]


@pytest.fixture
def checkip() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"203.0.113.9\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_detected_ingress_cidr_is_used_and_named(aws: str, ca_pem: str, images: dict, tmp_path: Path,
                                                 checkip: str) -> None:
    log: list[str] = []
    record, _ = _provision(aws, "run-detect", ca_pem, tmp_path, log, ingress_cidr="detect", checkip_url=checkip)
    assert record["ingress_cidr"] == "203.0.113.9/32"
    assert any("203.0.113.9/32" in line and "detected" in line for line in log)


def test_dns_record_follows_the_instance_and_is_removed(aws: str, ca_pem: str, images: dict, zone: str,
                                                        tmp_path: Path) -> None:
    record, _ = _provision(aws, "run-dns", ca_pem, tmp_path, domain="run.ci.example.test", hosted_zone_id=zone)
    r53 = boto3.client("route53", region_name="us-east-1", endpoint_url=aws)
    a_records = [r for r in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"] if r["Type"] == "A"]
    assert [r["ResourceRecords"][0]["Value"] for r in a_records] == [record["public_ip"]]
    removed = destroy(_settings(aws, "run-dns", ca_pem, domain="run.ci.example.test", hosted_zone_id=zone),
                      log=lambda m: None, sleep=lambda s: None)
    assert removed["dns"] == ["*.run.ci.example.test."]
    assert not [r for r in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"] if r["Type"] == "A"]


class _Http:
    status_code = 400
    headers: dict[str, str] = {}


def _inject(client: Any, operation: str, code: str, times: int) -> list[int]:
    """Make the next `times` calls of `operation` fail with AWS error `code`; counts calls."""
    calls = [0]

    def handler(**kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] <= times:
            return _Http(), {"Error": {"Code": code, "Message": f"injected {code}"}}
        return None

    client.meta.events.register(f"before-call.ec2.{operation}", handler)
    return calls


def test_destroy_retries_while_the_security_group_is_still_in_use(aws: str, ca_pem: str, images: dict,
                                                                  tmp_path: Path) -> None:
    record, _ = _provision(aws, "run-dependency", ca_pem, tmp_path)
    settings = _settings(aws, "run-dependency", ca_pem)
    clients = bosh_lite.make_clients(settings)
    calls = _inject(clients.ec2, "DeleteSecurityGroup", "DependencyViolation", times=3)
    sleeps: list[float] = []
    log: list[str] = []
    removed = destroy(settings, clients=clients, sleep=sleeps.append, log=log.append)
    assert removed["security_groups"] == [record["security_group_id"]]
    assert calls[0] == 4 and len(sleeps) >= 3  # three refusals, then the real delete
    assert sum("DependencyViolation, retrying" in line for line in log) == 3
    assert not _ec2(aws).describe_security_groups(Filters=[{"Name": f"tag:{RUN_ID_TAG}",
                                                            "Values": ["run-dependency"]}])["SecurityGroups"]


def test_destroy_gives_up_after_its_bounded_wait_naming_the_group(aws: str, ca_pem: str, images: dict,
                                                                  tmp_path: Path) -> None:
    record, _ = _provision(aws, "run-stuck", ca_pem, tmp_path)
    settings = _settings(aws, "run-stuck", ca_pem)
    clients = bosh_lite.make_clients(settings)
    _inject(clients.ec2, "DeleteSecurityGroup", "DependencyViolation", times=10_000)
    with pytest.raises(ProvisionError, match=rf"{record['security_group_id']} of run run-stuck could not be "
                                             r"deleted within 1s: DependencyViolation"):
        destroy(settings, clients=clients, sleep=lambda s: None, log=lambda m: None, retry_timeout=1)
    # the next destroy (e.g. the ensure: step of a retried build) still finishes the job
    assert destroy(settings, sleep=lambda s: None, log=lambda m: None)["security_groups"] == [
        record["security_group_id"]]


def test_a_group_already_gone_counts_as_deleted(aws: str, ca_pem: str, images: dict, tmp_path: Path) -> None:
    _provision(aws, "run-gone", ca_pem, tmp_path)
    settings = _settings(aws, "run-gone", ca_pem)
    clients = bosh_lite.make_clients(settings)
    _inject(clients.ec2, "DeleteSecurityGroup", "InvalidGroup.NotFound", times=1)
    assert len(destroy(settings, clients=clients, sleep=lambda s: None, log=lambda m: None)["security_groups"]) == 1


def test_other_errors_are_not_retried(aws: str, ca_pem: str, images: dict, tmp_path: Path) -> None:
    _provision(aws, "run-denied", ca_pem, tmp_path)
    settings = _settings(aws, "run-denied", ca_pem)
    clients = bosh_lite.make_clients(settings)
    calls = _inject(clients.ec2, "DeleteSecurityGroup", "UnauthorizedOperation", times=1)
    with pytest.raises(ProvisionError, match="UnauthorizedOperation"):
        destroy(settings, clients=clients, sleep=lambda s: None, log=lambda m: None)
    assert calls[0] == 1


def test_destroy_removes_only_this_run_and_is_safe_to_repeat(aws: str, ca_pem: str, images: dict,
                                                             tmp_path: Path) -> None:
    record, _ = _provision(aws, "run-b", ca_pem, tmp_path)
    other, _ = _provision(aws, "run-other", ca_pem, tmp_path / "other")
    settings = _settings(aws, "run-b", ca_pem)
    removed = destroy(settings, log=lambda m: None, sleep=lambda s: None)
    assert removed == {"instances": [record["instance_id"]], "security_groups": [record["security_group_id"]],
                       "dns": []}
    ec2 = _ec2(aws)
    state = ec2.describe_instances(InstanceIds=[record["instance_id"]])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] == "terminated"
    other_state = ec2.describe_instances(InstanceIds=[other["instance_id"]])["Reservations"][0]["Instances"][0]
    assert other_state["State"]["Name"] == "running"  # another run's BOSH-Lite is untouched
    assert destroy(settings, log=lambda m: None) == {"instances": [], "security_groups": [], "dns": []}


def test_destroy_of_a_run_that_never_provisioned_is_a_no_op(aws: str) -> None:
    messages: list[str] = []
    assert destroy(Settings(run_id="never", endpoint_url=aws), log=messages.append) == {
        "instances": [], "security_groups": [], "dns": []}
    assert "nothing to destroy" in messages[-1]


def test_director_that_never_gets_ready_fails_provision_and_destroy_cleans_up(aws: str, ca_pem: str, images: dict,
                                                                           tmp_path: Path) -> None:
    def never(config: dict[str, Any], timeout: float) -> None:
        raise ProvisionError("director https://192.168.50.4:25555 not ready with the new credentials within 0s")

    with pytest.raises(ProvisionError, match="not ready with the new credentials"):
        provision(_settings(aws, "run-c", ca_pem), tmp_path, log=lambda m: None, wait_for_director=never)
    assert not (tmp_path / "config.yml").exists()
    assert destroy(_settings(aws, "run-c", ca_pem), log=lambda m: None, sleep=lambda s: None)["instances"]


def test_cli_reads_settings_from_the_environment(aws: str, ca_pem: str, images: dict, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(bosh_lite, "_wait_for_director", lambda config, timeout: None)
    env = {**ENV, "AWS_ENDPOINT_URL": aws, "AWS_DEFAULT_REGION": "us-east-1", "BOSH_LITE_AMI_OWNER": OWNER,
           "BOSH_LITE_INGRESS_CIDR": "198.51.100.0/24", "BOSH_LITE_DIRECTOR_CA_CERT": ca_pem,
           "BOSH_LITE_ROOT_VOLUME_GB": "90", "SUITE_CONFIG_OVERLAY": "timeout_scale: 3"}
    assert bosh_lite.main(["provision", "--run-id", "run-cli", "--out", str(tmp_path)], env=env) == 0
    config = yaml.safe_load((tmp_path / "config.yml").read_text())
    assert config["timeout_scale"] == 3
    out = capsys.readouterr()
    assert config["bosh"]["password"] not in out.out + out.err
    assert bosh_lite.main(["destroy", "--run-id", "run-cli"], env=env) == 0
    bad = {**env, "BOSH_LITE_INGRESS_CIDR": ""}
    assert bosh_lite.main(["provision", "--run-id", "run-cli-2", "--out", str(tmp_path / "2")], env=bad) == 1
    assert "BOSH_LITE_INGRESS_CIDR (--ingress-cidr) is required" in capsys.readouterr().err


def test_clients_are_injectable() -> None:
    assert {f for f in Clients.__dataclass_fields__} == {"ec2", "route53"}
