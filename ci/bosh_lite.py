"""Provision and destroy a throw-away BOSH-Lite on AWS for one upgrade-from-stable run.

Everything created is tagged with the run id, so `destroy` can find it again from nothing
but that id: it is safe to run twice, after a failed provision, or when provision never
started. Settings come from the environment (Concourse task params) so that credentials
never appear on a command line; flags override them.

    python -m ci.bosh_lite new-run-id
    python -m ci.bosh_lite provision --run-id ID --out DIR
    python -m ci.bosh_lite destroy --run-id ID
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RUN_ID_TAG = "bosh-lite-run-id"
DIRECTOR_PORT = 25555
# director API, HTTP and HTTPS through HAProxy, and the Diego ssh proxy behind HAProxy
INGRESS_PORTS = (DIRECTOR_PORT, 80, 443, 2222)


class ProvisionError(RuntimeError):
    """A provisioning step failed; the message says which and what was seen."""


@dataclass(frozen=True)
class Settings:
    run_id: str
    region: str
    ami: str = ""
    instance_type: str = "c3.4xlarge"
    subnet_id: str | None = None
    key_name: str | None = None
    ingress_cidr: str = "0.0.0.0/0"
    domain: str | None = None
    hosted_zone_id: str | None = None
    endpoint_url: str | None = None  # a non-AWS EC2/Route53 API (tests: moto server)
    director_username: str = "admin"
    director_password: str = ""
    director_ca_cert: str | None = None
    director_url: str | None = None  # default https://<public ip>:25555
    cf_admin_password: str = ""
    wait_timeout: float = 900.0
    resolve: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, run_id: str, env: Mapping[str, str], **overrides: Any) -> Settings:
        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value else None

        values: dict[str, Any] = {
            "run_id": run_id,
            "region": get("AWS_DEFAULT_REGION") or get("AWS_REGION") or "us-east-1",
            "ami": get("BOSH_LITE_AMI") or "",
            "instance_type": get("BOSH_LITE_INSTANCE_TYPE") or "c3.4xlarge",
            "subnet_id": get("BOSH_LITE_SUBNET_ID"),
            "key_name": get("BOSH_LITE_KEY_NAME"),
            "ingress_cidr": get("BOSH_LITE_INGRESS_CIDR") or "0.0.0.0/0",
            "domain": get("BOSH_LITE_DOMAIN"),
            "hosted_zone_id": get("BOSH_LITE_HOSTED_ZONE_ID"),
            "endpoint_url": get("AWS_ENDPOINT_URL"),
            "director_username": get("BOSH_DIRECTOR_USERNAME") or "admin",
            "director_password": get("BOSH_DIRECTOR_PASSWORD") or "",
            "director_ca_cert": get("BOSH_DIRECTOR_CA_CERT"),
            "cf_admin_password": get("CF_ADMIN_PASSWORD") or "",
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def problems_for_provision(self) -> list[str]:
        problems = []
        if not self.ami:
            problems.append("BOSH_LITE_AMI (--ami) is required: the BOSH-Lite image to launch")
        if not self.director_password:
            problems.append("BOSH_DIRECTOR_PASSWORD is required: the director's admin password")
        if not self.cf_admin_password:
            problems.append("CF_ADMIN_PASSWORD is required: the CF admin password the manifests will set")
        if bool(self.domain) != bool(self.hosted_zone_id) and self.hosted_zone_id:
            problems.append("BOSH_LITE_HOSTED_ZONE_ID needs BOSH_LITE_DOMAIN (the wildcard record's domain)")
        return problems


def _clients(settings: Settings) -> tuple[Any, Any]:
    import boto3  # imported late: `new-run-id` must not pay for it

    kwargs: dict[str, Any] = {"region_name": settings.region}
    if settings.endpoint_url:
        kwargs["endpoint_url"] = settings.endpoint_url
    return boto3.client("ec2", **kwargs), boto3.client("route53", **kwargs)


def _tags(settings: Settings, name: str) -> list[dict[str, str]]:
    return [{"Key": RUN_ID_TAG, "Value": settings.run_id}, {"Key": "Name", "Value": name}]


def _run_filter(settings: Settings) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{RUN_ID_TAG}", "Values": [settings.run_id]}]


def new_run_id() -> str:
    return f"upgrade-stable-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


# ---------------------------------------------------------------------------------------
# provision


def provision(settings: Settings, out: Path, *, log: Callable[[str], None] = print,
              wait_for_director: Callable[[Settings, str], None] | None = None) -> dict[str, Any]:
    """Launch the instance and its security group, point DNS at it, wait for the director,
    and write `out/config.yml` (the suite config) and `out/instance.yml` (ids, addresses)."""
    problems = settings.problems_for_provision()
    if problems:
        raise ProvisionError("cannot provision a BOSH-Lite:\n  - " + "\n  - ".join(problems))
    ec2, route53 = _clients(settings)
    name = f"bosh-lite-{settings.run_id}"

    group_kwargs: dict[str, Any] = {"GroupName": name, "Description": f"BOSH-Lite for run {settings.run_id}",
                                    "TagSpecifications": [{"ResourceType": "security-group",
                                                           "Tags": _tags(settings, name)}]}
    if settings.subnet_id:
        subnet = ec2.describe_subnets(SubnetIds=[settings.subnet_id])["Subnets"][0]
        group_kwargs["VpcId"] = subnet["VpcId"]
    group_id = ec2.create_security_group(**group_kwargs)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
         "IpRanges": [{"CidrIp": settings.ingress_cidr, "Description": f"run {settings.run_id}"}]}
        for port in INGRESS_PORTS])
    log(f"security group {group_id} opens tcp {', '.join(map(str, INGRESS_PORTS))} to {settings.ingress_cidr}")

    run_kwargs: dict[str, Any] = {
        "ImageId": settings.ami, "InstanceType": settings.instance_type, "MinCount": 1, "MaxCount": 1,
        "SecurityGroupIds": [group_id],
        "TagSpecifications": [{"ResourceType": "instance", "Tags": _tags(settings, name)}],
    }
    if settings.subnet_id:
        run_kwargs["SubnetId"] = settings.subnet_id
    if settings.key_name:
        run_kwargs["KeyName"] = settings.key_name
    instance_id = ec2.run_instances(**run_kwargs)["Instances"][0]["InstanceId"]
    log(f"instance {instance_id} ({settings.instance_type}, {settings.ami}) launched")

    instance = _wait_running(ec2, instance_id, settings.wait_timeout)
    public_ip = instance.get("PublicIpAddress") or ""
    if not public_ip:
        raise ProvisionError(f"instance {instance_id} is running but has no public IP address; "
                             "use a subnet that assigns public IPs")
    log(f"instance {instance_id} running at {public_ip}")

    # Without a hosted zone no DNS is needed: the config's resolve map sends the CF domain
    # to the instance (HAProxy answers 80/443/2222 on the public address).
    domain = settings.domain or "bosh-lite.com"
    if settings.hosted_zone_id:
        _upsert_wildcard(route53, settings, domain, public_ip)
        log(f"DNS *.{domain} -> {public_ip}")

    director_url = settings.director_url or f"https://{public_ip}:{DIRECTOR_PORT}"
    (wait_for_director or _wait_for_director)(settings, director_url)
    log(f"director at {director_url} answers /info")

    out.mkdir(parents=True, exist_ok=True)
    config = suite_config(settings, director_url, domain, public_ip)
    _write_private(out / "config.yml", yaml.safe_dump(config, sort_keys=False))
    record = {"run_id": settings.run_id, "instance_id": instance_id, "security_group_id": group_id,
              "public_ip": public_ip, "domain": domain, "director_url": director_url}
    (out / "instance.yml").write_text(yaml.safe_dump(record, sort_keys=False))
    return record


def suite_config(settings: Settings, director_url: str, domain: str, public_ip: str | None = None) -> dict[str, Any]:
    """The suite config for a provisioned BOSH-Lite (format: docs/configuration.md)."""
    bosh: dict[str, Any] = {"url": director_url, "username": settings.director_username,
                            "password": settings.director_password}
    if settings.director_ca_cert:
        bosh["ca_cert"] = settings.director_ca_cert
        # BOSH-Lite boxes of 2015-16 sign the director's certificate with SHA-1
        # (../shared/docs/era-facts.md §6): accepted only in a chain that ends at this CA
        bosh["tls_allow_sha1"] = True
    else:
        bosh["skip_ssl_validation"] = True
    config: dict[str, Any] = {
        "bosh": bosh,
        "cf": {"api": f"https://api.{domain}", "apps_domain": domain, "system_domain": domain,
               "admin_user": "admin", "admin_password": settings.cf_admin_password,
               # BOSH-Lite's HAProxy serves a self-signed development certificate
               "skip_ssl_validation": True},
    }
    resolve: dict[str, str] = {}
    if public_ip:
        resolve.update({f"*.{domain}:443": f"{public_ip}:443", f"*.{domain}:80": f"{public_ip}:80",
                        f"ssh.{domain}:2222": f"{public_ip}:2222"})
    resolve.update(settings.resolve)
    if resolve:
        config["resolve"] = resolve
    return config


def _write_private(path: Path, text: str) -> None:
    """Write a file that holds credentials, readable only by its owner."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


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


def _upsert_wildcard(route53: Any, settings: Settings, domain: str, ip: str, action: str = "UPSERT") -> None:
    route53.change_resource_record_sets(HostedZoneId=settings.hosted_zone_id, ChangeBatch={
        "Comment": f"BOSH-Lite run {settings.run_id}",
        "Changes": [{"Action": action, "ResourceRecordSet": {
            "Name": f"*.{domain}.", "Type": "A", "TTL": 1, "ResourceRecords": [{"Value": ip}]}}]})


def _wait_for_director(settings: Settings, director_url: str) -> None:
    """Poll the director's /info (through the resolve map, TLS verified when a CA is given)."""
    from helpers.bosh import Director
    from helpers.config import parse_config

    config = parse_config(suite_config(settings, director_url, settings.domain or "invalid"),
                          source="provisioned BOSH-Lite")
    director = Director(config.bosh, config.resolver())
    deadline = time.monotonic() + settings.wait_timeout
    last_error = "no attempt"
    while time.monotonic() < deadline:
        try:
            director.info()
            return
        except Exception as exc:  # any failure means "not up yet"; the last one is reported
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
    raise ProvisionError(f"director {director_url} did not answer /info within "
                         f"{settings.wait_timeout:.0f}s; last error: {last_error}")


# ---------------------------------------------------------------------------------------
# destroy


def destroy(settings: Settings, *, log: Callable[[str], None] = print) -> dict[str, list[str]]:
    """Remove everything tagged with the run id. Returns what was removed; finding nothing
    is not an error."""
    ec2, route53 = _clients(settings)
    removed: dict[str, list[str]] = {"instances": [], "security_groups": [], "dns": []}

    instances = [i for r in ec2.describe_instances(Filters=_run_filter(settings))["Reservations"]
                 for i in r["Instances"] if i["State"]["Name"] not in ("terminated",)]
    ips = [i["PublicIpAddress"] for i in instances if i.get("PublicIpAddress")]
    if instances:
        ids = [i["InstanceId"] for i in instances]
        ec2.terminate_instances(InstanceIds=ids)
        _wait_terminated(ec2, ids, settings.wait_timeout)
        removed["instances"] = ids
        log(f"terminated {', '.join(ids)}")

    for group in ec2.describe_security_groups(Filters=_run_filter(settings))["SecurityGroups"]:
        ec2.delete_security_group(GroupId=group["GroupId"])
        removed["security_groups"].append(group["GroupId"])
        log(f"deleted security group {group['GroupId']}")

    if settings.hosted_zone_id and settings.domain:
        name = f"*.{settings.domain}."
        records = route53.list_resource_record_sets(HostedZoneId=settings.hosted_zone_id,
                                                    StartRecordName=name, StartRecordType="A")
        for record in records["ResourceRecordSets"]:
            values = {r["Value"] for r in record.get("ResourceRecords", [])}
            # only the record that points at this run's instance: never someone else's
            if record["Name"].replace("\\052", "*") == name and record["Type"] == "A" and values & set(ips):
                route53.change_resource_record_sets(HostedZoneId=settings.hosted_zone_id, ChangeBatch={
                    "Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]})
                removed["dns"].append(name)
                log(f"deleted DNS record {name}")
    if not any(removed.values()):
        log(f"nothing tagged {RUN_ID_TAG}={settings.run_id} was found; nothing to destroy")
    return removed


def _wait_terminated(ec2: Any, ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {i["State"]["Name"] for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
                  for i in r["Instances"]}
        if states <= {"terminated"}:
            return
        time.sleep(2)
    raise ProvisionError(f"instances {', '.join(ids)} not terminated after {timeout:.0f}s")


# ---------------------------------------------------------------------------------------
# command line


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(prog="python -m ci.bosh_lite", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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
            p.add_argument("--instance-type")
            p.add_argument("--subnet-id")
            p.add_argument("--key-name")
            p.add_argument("--ingress-cidr")
            p.add_argument("--director-url", help="default: https://<public ip>:25555")
            p.add_argument("--resolve", action="append", default=[], metavar="HOST:PORT=ADDR:PORT",
                           help="connect HOST:PORT at ADDR:PORT (repeatable; written to the config)")
            p.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "new-run-id":
        print(new_run_id())
        return 0
    overrides = {k: getattr(args, k, None) for k in (
        "region", "endpoint_url", "domain", "hosted_zone_id", "wait_timeout", "ami", "instance_type",
        "subnet_id", "key_name", "ingress_cidr", "director_url")}
    if getattr(args, "resolve", None):
        overrides["resolve"] = dict(item.split("=", 1) for item in args.resolve)
    settings = Settings.from_env(args.run_id, env, **overrides)
    try:
        if args.command == "provision":
            provision(settings, args.out)
        else:
            destroy(settings)
    except ProvisionError as exc:
        print(f"{args.command} failed for run {settings.run_id}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
