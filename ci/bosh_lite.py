"""Provision and destroy a throw-away BOSH-Lite on AWS for one upgrade-from-stable run.

    python -m ci.bosh_lite new-run-id
    python -m ci.bosh_lite provision --run-id ID --out DIR
    python -m ci.bosh_lite destroy --run-id ID

Everything created is tagged with the run id, so `destroy` finds it again from nothing but
that id: safe to run twice, after a failed provision, or when provision never started.
Settings come from the environment (Concourse task params, `ENV` below) so that credentials
never appear on a command line; flags override them.

What `provision` does, and why (sources in docs/ci.md):
* finds the BOSH-Lite AMI by name and owner (`boshlite-<box version>`, as the box's packer
  template names it), or checks the one it is given; the owner is required for a search by
  name, because anyone can publish a public image with that name;
* opens 22, 25555, 80, 443, 2222 and 4443 to one CIDR that must be given (or `detect`ed
  and then named in the log); 0.0.0.0/0 only with `BOSH_LITE_ALLOW_ANY_SOURCE=true`;
* gives the root volume `BOSH_LITE_ROOT_VOLUME_GB` (default 100; the box's default is 80 and
  two CF and two Diego releases with their compiled packages use most of it);
* starts it with user data (ci/bosh_lite_user_data.py) that forwards 80/443/2222/4443 to
  HAProxy across reboots and replaces the director's admin/admin with credentials generated
  here, which go only into `DIR/config.yml` (mode 0600) and are never printed;
* waits until the director answers with the new credentials and refuses admin/admin, then
  writes the suite config: the director at its certificate's own address (192.168.50.4)
  sent to the instance by the resolve map, so its certificate is verified against the CA.

`destroy` retries AWS's eventual consistency (a security group still "in use" by an
instance that is already terminated, a Route53 change still pending) for a bounded time.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from ci.bosh_lite_user_data import DEFAULT_FORWARDS, DIRECTOR_ADDRESS, render
from ci.suite_config import ConfigInputError, merge, parse_overlay, validated, write_private

RUN_ID_TAG = "bosh-lite-run-id"
DIRECTOR_PORT = 25555
# ssh (the operator, and the Redis checks' gateway), the director, CF through HAProxy
# (80, 443), the Diego ssh proxy through HAProxy (2222), doppler websockets (4443)
INGRESS_PORTS = (22, DIRECTOR_PORT, 80, 443, 2222, 4443)
AMI_NAME = "boshlite-9000.*"  # cloudfoundry/bosh-lite@295b76d:packer/templates/aws.json ami_name
CF_DOMAIN = "bosh-lite.com"  # the system domain of the bosh-lite manifests (era-facts §5)

ENV = {
    "AWS_DEFAULT_REGION": "region (or AWS_REGION; default us-east-1)",
    "BOSH_LITE_AMI": "an AMI id to use (checked to exist, be available and, with an owner, be the owner's)",
    "BOSH_LITE_AMI_NAME": f"AMI name pattern to search (default {AMI_NAME})",
    "BOSH_LITE_AMI_OWNER": "owner account id of the BOSH-Lite AMIs (required to search by name)",
    "BOSH_LITE_INSTANCE_TYPE": "instance type (default m4.2xlarge)",
    "BOSH_LITE_ROOT_VOLUME_GB": "root volume size in GB (default 100)",
    "BOSH_LITE_SUBNET_ID": "VPC subnet (must assign public IPs)",
    "BOSH_LITE_KEY_NAME": "EC2 key pair for ssh (port 22)",
    "BOSH_LITE_INGRESS_CIDR": "who may connect: a CIDR, or `detect` (this machine's public address)",
    "BOSH_LITE_ALLOW_ANY_SOURCE": "true to accept a /0 ingress CIDR",
    "BOSH_LITE_CHECKIP_URL": "where `detect` asks for this machine's address (default checkip.amazonaws.com)",
    "BOSH_LITE_DIRECTOR_CA_CERT": "the BOSH-Lite director's CA (PEM); or BOSH_LITE_SKIP_SSL_VALIDATION=true",
    "BOSH_LITE_DOMAIN": f"CF system domain (default {CF_DOMAIN})",
    "BOSH_LITE_HOSTED_ZONE_ID": "Route53 zone for a *.<domain> record (optional)",
    "BOSH_LITE_WAIT_TIMEOUT": "seconds to wait for the instance and the director (default 1800)",
    "SUITE_CONFIG_OVERLAY": "YAML merged into the written suite config (e.g. TLS options)",
    "AWS_ENDPOINT_URL": "an EC2/Route53-compatible endpoint (tests)",
}


class ProvisionError(RuntimeError):
    """A provisioning step failed; the message says which and what was seen."""


@dataclass(frozen=True)
class Settings:
    run_id: str
    region: str = "us-east-1"
    ami: str = ""
    ami_name: str = AMI_NAME
    ami_owner: str = ""
    instance_type: str = "m4.2xlarge"
    root_volume_gb: int = 100
    subnet_id: str | None = None
    key_name: str | None = None
    ingress_cidr: str = ""
    allow_any_source: bool = False
    checkip_url: str = "https://checkip.amazonaws.com"
    domain: str = CF_DOMAIN
    hosted_zone_id: str | None = None
    endpoint_url: str | None = None  # a non-AWS EC2/Route53 API (tests: moto server)
    director_ca_cert: str | None = field(default=None, repr=False)
    skip_ssl_validation: bool = False
    director_username: str = ""  # generated when empty
    director_password: str = field(default="", repr=False)  # generated when empty
    cf_admin_password: str = field(default="", repr=False)  # generated when empty
    wait_timeout: float = 1800.0
    resolve: Mapping[str, str] = field(default_factory=dict)
    config_overlay: Mapping[str, Any] = field(default_factory=dict)
    forwards: Mapping[int, tuple[str, int]] = field(default_factory=lambda: dict(DEFAULT_FORWARDS))

    @classmethod
    def from_env(cls, run_id: str, env: Mapping[str, str], **overrides: Any) -> Settings:
        def get(name: str) -> str | None:
            return env.get(name) or None

        values: dict[str, Any] = {"run_id": run_id,
                                  "region": get("AWS_DEFAULT_REGION") or get("AWS_REGION") or "us-east-1"}
        text = {"ami": "BOSH_LITE_AMI", "ami_name": "BOSH_LITE_AMI_NAME", "ami_owner": "BOSH_LITE_AMI_OWNER",
                "instance_type": "BOSH_LITE_INSTANCE_TYPE", "subnet_id": "BOSH_LITE_SUBNET_ID",
                "key_name": "BOSH_LITE_KEY_NAME", "ingress_cidr": "BOSH_LITE_INGRESS_CIDR",
                "checkip_url": "BOSH_LITE_CHECKIP_URL", "domain": "BOSH_LITE_DOMAIN",
                "hosted_zone_id": "BOSH_LITE_HOSTED_ZONE_ID", "endpoint_url": "AWS_ENDPOINT_URL",
                "director_ca_cert": "BOSH_LITE_DIRECTOR_CA_CERT"}
        for key, name in text.items():
            if get(name):
                values[key] = get(name)
        for key, name in (("root_volume_gb", "BOSH_LITE_ROOT_VOLUME_GB"), ("wait_timeout", "BOSH_LITE_WAIT_TIMEOUT")):
            if get(name):
                try:
                    values[key] = int(get(name) or "") if key == "root_volume_gb" else float(get(name) or "")
                except ValueError:
                    raise ProvisionError(f"{name}: not a number: {get(name)!r}")
        for key, name in (("allow_any_source", "BOSH_LITE_ALLOW_ANY_SOURCE"),
                          ("skip_ssl_validation", "BOSH_LITE_SKIP_SSL_VALIDATION")):
            values[key] = (get(name) or "").lower() in ("1", "true", "yes")
        if get("SUITE_CONFIG_OVERLAY"):
            try:
                values["config_overlay"] = parse_overlay(env["SUITE_CONFIG_OVERLAY"], "SUITE_CONFIG_OVERLAY")
            except ConfigInputError as exc:
                raise ProvisionError(str(exc))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def problems_for_provision(self) -> list[str]:
        problems = []
        if not self.ami and not self.ami_owner:
            problems.append("BOSH_LITE_AMI_OWNER (--ami-owner) is required to find the AMI by name "
                            "(anyone can publish an image called boshlite-*), or give BOSH_LITE_AMI")
        problems += _cidr_problems(self.ingress_cidr, self.allow_any_source)
        if not self.director_ca_cert and not self.skip_ssl_validation:
            problems.append("BOSH_LITE_DIRECTOR_CA_CERT is required: the CA of the BOSH-Lite director's "
                            "certificate (or BOSH_LITE_SKIP_SSL_VALIDATION=true to not verify it)")
        if self.root_volume_gb < 50:
            problems.append(f"BOSH_LITE_ROOT_VOLUME_GB={self.root_volume_gb}: two CF and two Diego releases "
                            "need about 80 GB; give at least 50")
        return problems


def _cidr_problems(cidr: str, allow_any: bool) -> list[str]:
    if not cidr:
        return ["BOSH_LITE_INGRESS_CIDR (--ingress-cidr) is required: the CIDR allowed to reach the "
                "BOSH-Lite (e.g. your CI workers' egress address/32), or `detect`"]
    if cidr == "detect":
        return []
    try:
        network = ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        return [f"BOSH_LITE_INGRESS_CIDR={cidr!r} is not a CIDR ({exc})"]
    if network.prefixlen == 0 and not allow_any:
        return [f"BOSH_LITE_INGRESS_CIDR={cidr} opens the BOSH-Lite to everyone; set "
                "BOSH_LITE_ALLOW_ANY_SOURCE=true if that is really meant"]
    return []


def detect_ingress_cidr(url: str, *, timeout: float = 10.0) -> str:
    """This machine's public IPv4 address as a /32, asked of a what-is-my-IP service."""
    import requests

    try:
        r = requests.get(url, timeout=timeout)
        r.raise_for_status()
        address = ipaddress.ip_address(r.text.strip())
    except (requests.RequestException, ValueError) as exc:
        raise ProvisionError(f"cannot detect this machine's public address from {url}: {exc}")
    if address.version != 4:
        raise ProvisionError(f"{url} answered {address}, not an IPv4 address")
    return f"{address}/32"


# ---------------------------------------------------------------------------------------
# AWS plumbing


@dataclass
class Clients:
    ec2: Any
    route53: Any


def make_clients(settings: Settings) -> Clients:
    import boto3  # imported late: `new-run-id` must not pay for it

    kwargs: dict[str, Any] = {"region_name": settings.region}
    if settings.endpoint_url:
        kwargs["endpoint_url"] = settings.endpoint_url
    return Clients(boto3.client("ec2", **kwargs), boto3.client("route53", **kwargs))


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    return (response or {}).get("Error", {}).get("Code") if isinstance(response, dict) else None


def retry_aws(call: Callable[[], Any], *, retry_codes: set[str], what: str, timeout: float,
              sleep: Callable[[float], None] = time.sleep, log: Callable[[str], None] = print) -> Any:
    """Run `call`, retrying AWS errors whose code is in `retry_codes` (eventual consistency)
    with backoff for at most `timeout` seconds; any other error, or the last one, is raised."""
    import tenacity

    def retryable(exc: BaseException) -> bool:
        if _error_code(exc) in retry_codes:
            log(f"{what}: {_error_code(exc)}, retrying")
            return True
        return False

    def stop(state: tenacity.RetryCallState) -> bool:  # waited or ran for `timeout`, whichever first
        return state.idle_for >= timeout or (state.seconds_since_start or 0.0) >= timeout

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(retryable), stop=stop,
        wait=tenacity.wait_exponential(multiplier=1, min=2, max=30), sleep=sleep, reraise=True)
    return retrying(call)


def _tags(settings: Settings, name: str) -> list[dict[str, str]]:
    return [{"Key": RUN_ID_TAG, "Value": settings.run_id}, {"Key": "Name", "Value": name}]


def _run_filter(settings: Settings) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{RUN_ID_TAG}", "Values": [settings.run_id]}]


def new_run_id() -> str:
    return f"upgrade-stable-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


def find_ami(ec2: Any, settings: Settings) -> dict[str, Any]:
    """The image to launch: the given id (checked), or the newest available one called
    `ami_name` owned by `ami_owner`."""
    if settings.ami:
        try:
            images = ec2.describe_images(ImageIds=[settings.ami])["Images"]
        except Exception as exc:  # botocore ClientError: InvalidAMIID.NotFound / .Malformed
            raise ProvisionError(f"AMI {settings.ami} cannot be used in {settings.region}: {_error_code(exc) or exc}")
        if not images:
            raise ProvisionError(f"AMI {settings.ami} does not exist in {settings.region}")
        image = images[0]
        problems = []
        if image.get("State") != "available":
            problems.append(f"its state is {image.get('State')!r}, not 'available'")
        if settings.ami_owner and image.get("OwnerId") != settings.ami_owner:
            problems.append(f"it is owned by {image.get('OwnerId')}, not {settings.ami_owner}")
        if problems:
            raise ProvisionError(f"AMI {settings.ami} ({image.get('Name')}) cannot be used: " + "; ".join(problems))
        return image
    images = ec2.describe_images(Owners=[settings.ami_owner], Filters=[
        {"Name": "name", "Values": [settings.ami_name]}, {"Name": "state", "Values": ["available"]}])["Images"]
    if not images:
        raise ProvisionError(f"no available AMI named {settings.ami_name!r} owned by {settings.ami_owner} "
                             f"in {settings.region}")
    # the newest box: the highest build number in the name (boshlite-9000.102.0 > ...69.0)
    return max(images, key=lambda i: (_build_number(i.get("Name", "")), i.get("CreationDate", "")))


def _build_number(name: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", name))


# ---------------------------------------------------------------------------------------
# provision


@dataclass(frozen=True)
class Credentials:
    director_username: str
    director_password: str = field(repr=False)
    cf_admin_password: str = field(repr=False)


def _credentials(settings: Settings) -> Credentials:
    from helpers.net import REDACTOR

    creds = Credentials(settings.director_username or f"ci-{secrets.token_hex(4)}",
                        settings.director_password or secrets.token_urlsafe(24),
                        settings.cf_admin_password or secrets.token_urlsafe(18))
    REDACTOR.register(creds.director_password, creds.cf_admin_password)
    return creds


def provision(settings: Settings, out: Path, *, log: Callable[[str], None] = print,
              clients: Clients | None = None,
              wait_for_director: Callable[[dict[str, Any], float], None] | None = None) -> dict[str, Any]:
    """Launch the BOSH-Lite and write `out/config.yml` (the suite config, 0600) and
    `out/instance.yml` (ids and addresses, no secrets). Raises ProvisionError naming the step."""
    problems = settings.problems_for_provision()
    if problems:
        raise ProvisionError("cannot provision a BOSH-Lite:\n  - " + "\n  - ".join(problems))
    if settings.ingress_cidr == "detect":
        settings = replace(settings, ingress_cidr=detect_ingress_cidr(settings.checkip_url))
        log(f"ingress CIDR detected from {settings.checkip_url}: {settings.ingress_cidr}")
    clients = clients or make_clients(settings)
    ec2 = clients.ec2
    creds = _credentials(settings)
    image = find_ami(ec2, settings)
    name = f"bosh-lite-{settings.run_id}"

    group_kwargs: dict[str, Any] = {"GroupName": name, "Description": f"BOSH-Lite for run {settings.run_id}",
                                    "TagSpecifications": [{"ResourceType": "security-group",
                                                           "Tags": _tags(settings, name)}]}
    if settings.subnet_id:
        group_kwargs["VpcId"] = ec2.describe_subnets(SubnetIds=[settings.subnet_id])["Subnets"][0]["VpcId"]
    group_id = ec2.create_security_group(**group_kwargs)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
         "IpRanges": [{"CidrIp": settings.ingress_cidr, "Description": f"run {settings.run_id}"}]}
        for port in INGRESS_PORTS])
    log(f"security group {group_id} opens tcp {', '.join(map(str, INGRESS_PORTS))} to {settings.ingress_cidr}")

    user_data = render(director_username=creds.director_username, director_password=creds.director_password,
                       director_ca_pem=None if settings.skip_ssl_validation else settings.director_ca_cert,
                       forwards=settings.forwards)
    run_kwargs: dict[str, Any] = {
        "ImageId": image["ImageId"], "InstanceType": settings.instance_type, "MinCount": 1, "MaxCount": 1,
        "SecurityGroupIds": [group_id], "UserData": user_data,
        "BlockDeviceMappings": [{"DeviceName": image.get("RootDeviceName") or "/dev/sda1",
                                 "Ebs": {"VolumeSize": settings.root_volume_gb, "VolumeType": "gp3",
                                         "DeleteOnTermination": True}}],
        "TagSpecifications": [{"ResourceType": "instance", "Tags": _tags(settings, name)},
                              {"ResourceType": "volume", "Tags": _tags(settings, name)}],
    }
    if settings.subnet_id:
        run_kwargs["SubnetId"] = settings.subnet_id
    if settings.key_name:
        run_kwargs["KeyName"] = settings.key_name
    instance_id = ec2.run_instances(**run_kwargs)["Instances"][0]["InstanceId"]
    log(f"instance {instance_id} ({settings.instance_type}, {image['ImageId']} {image.get('Name', '')}, "
        f"{settings.root_volume_gb} GB root) launched")

    instance = _wait_running(ec2, instance_id, settings.wait_timeout)
    public_ip = instance.get("PublicIpAddress") or ""
    if not public_ip:
        raise ProvisionError(f"instance {instance_id} is running but has no public IP address; "
                             "use a subnet that assigns public IPs")
    log(f"instance {instance_id} running at {public_ip}")
    if settings.hosted_zone_id:
        _change_wildcard(clients.route53, settings, public_ip, "UPSERT")
        log(f"DNS *.{settings.domain} -> {public_ip}")

    config = suite_config(settings, creds, public_ip)
    (wait_for_director or _wait_for_director)(config, settings.wait_timeout)
    log(f"director at {public_ip}:{DIRECTOR_PORT} accepts the new credentials and refuses admin/admin")

    write_private(out / "config.yml", yaml.safe_dump(config, sort_keys=False))
    record = {"run_id": settings.run_id, "instance_id": instance_id, "security_group_id": group_id,
              "image_id": image["ImageId"], "public_ip": public_ip, "domain": settings.domain,
              "director_url": config["bosh"]["url"], "ingress_cidr": settings.ingress_cidr}
    (out / "instance.yml").write_text(yaml.safe_dump(record, sort_keys=False))
    return record


def suite_config(settings: Settings, creds: Credentials, public_ip: str) -> dict[str, Any]:
    """The suite config for a provisioned BOSH-Lite (docs/configuration.md), validated by
    the suite's own loader. The director keeps the address its certificate names."""
    bosh: dict[str, Any] = {"url": f"https://{DIRECTOR_ADDRESS}:{DIRECTOR_PORT}",
                            "username": creds.director_username, "password": creds.director_password}
    if settings.skip_ssl_validation:
        bosh["skip_ssl_validation"] = True
    else:
        bosh["ca_cert"] = settings.director_ca_cert
        # BOSH-Lite boxes of 2015-16 sign the director's certificate with SHA-1
        # (../shared/docs/era-facts.md §6): accepted only in a chain that ends at this CA
        bosh["tls_allow_sha1"] = True
    domain = settings.domain
    config: dict[str, Any] = {
        "bosh": bosh,
        "cf": {"api": f"https://api.{domain}", "apps_domain": domain, "system_domain": domain,
               # verified: the suite deploys its own HAProxy certificate (ha_proxy.ssl_pem of the
               # manifests it generates) and trusts exactly that (docs/manifests.md)
               "admin_user": "admin", "admin_password": creds.cf_admin_password},
        "resolve": {f"{DIRECTOR_ADDRESS}:{DIRECTOR_PORT}": f"{public_ip}:{DIRECTOR_PORT}",
                    **{f"*.{domain}:{port}": f"{public_ip}:{port}" for port in (80, 443, 4443)},
                    f"ssh.{domain}:2222": f"{public_ip}:2222", **settings.resolve},
    }
    config = merge(config, settings.config_overlay)
    try:
        return validated(config, "the provisioned BOSH-Lite's config")
    except ConfigInputError as exc:
        raise ProvisionError(str(exc))


def _wait_running(ec2: Any, instance_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    state = "unknown"
    while time.monotonic() < deadline:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        instance = reservations[0]["Instances"][0]
        state = instance["State"]["Name"]
        if state == "running":
            return instance
        if state in ("terminated", "shutting-down", "stopped"):
            raise ProvisionError(f"instance {instance_id} went to state {state!r} instead of running")
        time.sleep(2)
    raise ProvisionError(f"instance {instance_id} not running after {timeout:.0f}s (last state {state!r})")


def _change_wildcard(route53: Any, settings: Settings, ip: str, action: str) -> None:
    route53.change_resource_record_sets(HostedZoneId=settings.hosted_zone_id, ChangeBatch={
        "Comment": f"BOSH-Lite run {settings.run_id}",
        "Changes": [{"Action": action, "ResourceRecordSet": {
            "Name": f"*.{settings.domain}.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": ip}]}}]})


def _wait_for_director(config: dict[str, Any], timeout: float) -> None:
    """Until the director answers /info (TLS verified as configured) and knows the new user,
    while admin/admin is refused: the first boot has replaced the credentials."""
    from helpers.bosh import Director
    from helpers.config import parse_config

    cfg = parse_config(config, source="the provisioned BOSH-Lite")
    default = parse_config(merge(config, {"bosh": {"username": "admin", "password": "admin"}}),
                           source="the BOSH-Lite image's default credentials")
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while True:
        try:
            user = Director(cfg.bosh, cfg.resolver()).authenticated_user()
            if user == cfg.bosh.username:
                if Director(default.bosh, default.resolver()).authenticated_user() is None:
                    return
                last = "the director still accepts admin/admin"
            else:
                last = f"the director does not accept the new credentials yet (user {user!r})"
        except Exception as exc:  # any failure means "not up yet"; the last one is reported
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise ProvisionError(f"director {cfg.bosh.url} (at {cfg.resolver().resolve(DIRECTOR_ADDRESS, DIRECTOR_PORT)}) "
                                 f"not ready with the new credentials within {timeout:.0f}s; last: {last}")
        time.sleep(min(10.0, max(0.0, deadline - time.monotonic())))


# ---------------------------------------------------------------------------------------
# destroy

SG_RETRY = {"DependencyViolation"}  # the terminated instance's network interface lingers
SG_GONE = {"InvalidGroup.NotFound"}
INSTANCE_GONE = {"InvalidInstanceID.NotFound"}
ROUTE53_RETRY = {"PriorRequestNotComplete", "Throttling"}


def destroy(settings: Settings, *, log: Callable[[str], None] = print, clients: Clients | None = None,
            sleep: Callable[[float], None] = time.sleep, retry_timeout: float = 600.0) -> dict[str, list[str]]:
    """Remove everything tagged with the run id; finding nothing is not an error."""
    clients = clients or make_clients(settings)
    ec2 = clients.ec2
    removed: dict[str, list[str]] = {"instances": [], "security_groups": [], "dns": []}

    instances = [i for r in ec2.describe_instances(Filters=_run_filter(settings))["Reservations"]
                 for i in r["Instances"] if i["State"]["Name"] != "terminated"]
    ips = {i["PublicIpAddress"] for i in instances if i.get("PublicIpAddress")}
    if instances:
        ids = [i["InstanceId"] for i in instances]
        try:
            ec2.terminate_instances(InstanceIds=ids)
        except Exception as exc:
            if _error_code(exc) not in INSTANCE_GONE:
                raise
        _wait_terminated(ec2, ids, settings.wait_timeout, sleep)
        removed["instances"] = ids
        log(f"terminated {', '.join(ids)}")

    if settings.hosted_zone_id and ips:
        removed["dns"] = _delete_wildcard(clients.route53, settings, ips, log, sleep, retry_timeout)

    for group in ec2.describe_security_groups(Filters=_run_filter(settings))["SecurityGroups"]:
        group_id = group["GroupId"]

        def delete(group_id: str = group_id) -> None:
            try:
                ec2.delete_security_group(GroupId=group_id)
            except Exception as exc:
                if _error_code(exc) not in SG_GONE:
                    raise

        try:
            retry_aws(delete, retry_codes=SG_RETRY, what=f"delete security group {group_id}",
                      timeout=retry_timeout, sleep=sleep, log=log)
        except Exception as exc:
            raise ProvisionError(f"security group {group_id} of run {settings.run_id} could not be deleted "
                                 f"within {retry_timeout:.0f}s: {_error_code(exc) or exc}")
        removed["security_groups"].append(group_id)
        log(f"deleted security group {group_id}")
    if not any(removed.values()):
        log(f"nothing tagged {RUN_ID_TAG}={settings.run_id} was found; nothing to destroy")
    return removed


def _delete_wildcard(route53: Any, settings: Settings, ips: set[str], log: Callable[[str], None],
                     sleep: Callable[[float], None], timeout: float) -> list[str]:
    name = f"*.{settings.domain}."
    records = route53.list_resource_record_sets(HostedZoneId=settings.hosted_zone_id, StartRecordName=name,
                                                StartRecordType="A")["ResourceRecordSets"]
    removed = []
    for record in records:
        values = {r["Value"] for r in record.get("ResourceRecords", [])}
        # only the record that points at this run's instance: never someone else's
        if record["Name"].replace("\\052", "*") != name or record["Type"] != "A" or not values & ips:
            continue
        retry_aws(lambda record=record: route53.change_resource_record_sets(
            HostedZoneId=settings.hosted_zone_id,
            ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]}),
            retry_codes=ROUTE53_RETRY, what=f"delete DNS record {name}", timeout=timeout, sleep=sleep, log=log)
        removed.append(name)
        log(f"deleted DNS record {name}")
    return removed


def _wait_terminated(ec2: Any, ids: list[str], timeout: float, sleep: Callable[[float], None]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {i["State"]["Name"] for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
                  for i in r["Instances"]}
        if states <= {"terminated"}:
            return
        sleep(2)
    raise ProvisionError(f"instances {', '.join(ids)} not terminated after {timeout:.0f}s")


# ---------------------------------------------------------------------------------------
# command line


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(
        prog="python -m ci.bosh_lite", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="environment:\n" + "\n".join(f"  {k:<28} {v}" for k, v in ENV.items()))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("new-run-id", help="print a new run id")
    for name in ("provision", "destroy"):
        p = sub.add_parser(name)
        p.add_argument("--run-id", required=True)
        p.add_argument("--region")
        p.add_argument("--endpoint-url", help="EC2/Route53 API endpoint (default: AWS)")
        p.add_argument("--domain")
        p.add_argument("--hosted-zone-id")
        p.add_argument("--wait-timeout", type=float)
        if name == "provision":
            p.add_argument("--ami")
            p.add_argument("--ami-name")
            p.add_argument("--ami-owner")
            p.add_argument("--instance-type")
            p.add_argument("--root-volume-gb", type=int)
            p.add_argument("--subnet-id")
            p.add_argument("--key-name")
            p.add_argument("--ingress-cidr", help="a CIDR, or `detect`")
            p.add_argument("--resolve", action="append", default=[], metavar="HOST:PORT=ADDR:PORT",
                           help="connect HOST:PORT at ADDR:PORT (repeatable; written to the config)")
            p.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "new-run-id":
        print(new_run_id())
        return 0
    if not args.run_id.strip():
        print(f"{args.command} needs a run id (--run-id)", file=sys.stderr)
        return 2
    overrides = {k: getattr(args, k, None) for k in (
        "region", "endpoint_url", "domain", "hosted_zone_id", "wait_timeout", "ami", "ami_name", "ami_owner",
        "instance_type", "root_volume_gb", "subnet_id", "key_name", "ingress_cidr")}
    if getattr(args, "resolve", None):
        overrides["resolve"] = dict(item.split("=", 1) for item in args.resolve)
    try:
        settings = Settings.from_env(args.run_id, env, **overrides)
        if args.command == "provision":
            provision(settings, args.out)
        else:
            destroy(settings)
    except ProvisionError as exc:
        print(f"{args.command} failed for run {args.run_id}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
