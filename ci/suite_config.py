"""Write the config a CI task hands to a suite, and refuse one the suite would refuse.

    python -m ci.suite_config --from-env [--overlay F] [--set K=V]... --out FILE
    python -m ci.suite_config --config bosh-lite/config.yml --manifests DIR --out FILE

`--from-env` builds the config from the task's params (see `ENV` below for every name).
`--overlay FILE` (or the task param `SUITE_CONFIG_OVERLAY`, YAML text) and `--set
section.key=value` merge any further keys, so a task can carry keys this module does not
know by name (per-endpoint TLS options, timeouts, `upgrade.*`): the tool stays generic, and
the result is checked by the suite's own loader (`helpers.config.parse_config`) before it is
written, so a typo fails here, in the task that made it, with every problem listed.
`--manifests` points the upgrade suite at manifests generated earlier in the job.

The output holds credentials: it is written to `--out` with mode 0600 (or to stdout when
no `--out` is given, for a shell redirect into a file); nothing is echoed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

# task param -> (section, key); "bool" marks flags that take true/false
ENV: dict[str, tuple[str, str]] = {
    "CF_API": ("cf", "api"),
    "CF_APPS_DOMAIN": ("cf", "apps_domain"),
    "CF_SYSTEM_DOMAIN": ("cf", "system_domain"),
    "CF_ADMIN_USER": ("cf", "admin_user"),
    "CF_ADMIN_PASSWORD": ("cf", "admin_password"),
    "CF_CA_CERT": ("cf", "ca_cert"),
    "CF_SKIP_SSL_VALIDATION": ("cf", "skip_ssl_validation"),
    "CF_TLS_HOSTNAME_FROM_CN": ("cf", "tls_hostname_from_cn"),
    "BOSH_DIRECTOR_URL": ("bosh", "url"),
    "BOSH_DIRECTOR_USERNAME": ("bosh", "username"),
    "BOSH_DIRECTOR_PASSWORD": ("bosh", "password"),
    "BOSH_DIRECTOR_CLIENT": ("bosh", "client"),
    "BOSH_DIRECTOR_CLIENT_SECRET": ("bosh", "client_secret"),
    "BOSH_DIRECTOR_CA_CERT": ("bosh", "ca_cert"),
    "BOSH_DIRECTOR_SKIP_SSL_VALIDATION": ("bosh", "skip_ssl_validation"),
    "BOSH_DIRECTOR_TLS_ALLOW_SHA1": ("bosh", "tls_allow_sha1"),
    "PROMOTION_STORE": ("promotion", "store"),
    "PROMOTION_S3_REGION": ("promotion.s3", "region"),
    "PROMOTION_S3_ENDPOINT": ("promotion.s3", "endpoint_url"),
    "DEPLOYMENT_PREFIX": ("upgrade", "deployment_prefix"),
}
BOOLEANS = {"CF_SKIP_SSL_VALIDATION", "CF_TLS_HOSTNAME_FROM_CN", "BOSH_DIRECTOR_SKIP_SSL_VALIDATION",
            "BOSH_DIRECTOR_TLS_ALLOW_SHA1"}
OVERLAY_PARAM = "SUITE_CONFIG_OVERLAY"


class ConfigInputError(ValueError):
    """The inputs cannot make a valid suite config; the message lists every problem."""


def _set_path(config: dict[str, Any], dotted: str, value: Any) -> None:
    node = config
    *parents, leaf = dotted.split(".")
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


def from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """Every setting present in the task's params (empty params are absent ones)."""
    config: dict[str, Any] = {}
    problems = []
    for name, (section, key) in ENV.items():
        raw = env.get(name)
        if raw is None or raw == "":
            continue
        value: Any = raw
        if name in BOOLEANS:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                problems.append(f"{name}: expected true or false, got {raw!r}")
                continue
            value = raw.lower() in ("true", "1", "yes")
        _set_path(config, f"{section}.{key}", value)
    if problems:
        raise ConfigInputError("bad task params:\n  - " + "\n  - ".join(problems))
    return config


def merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """`overlay` deep-merged onto `base` (mappings merge, anything else replaces)."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_overlay(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise ConfigInputError(f"{source}: not valid YAML ({exc})")
    if not isinstance(data, dict):
        raise ConfigInputError(f"{source}: expected a mapping of config keys")
    return data


def parse_set(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigInputError(f"--set {item!r}: expected section.key=value")
        _set_path(out, key, yaml.safe_load(raw) if raw else "")
    return out


def with_manifests(config: dict[str, Any], manifests: Path) -> dict[str, Any]:
    missing = [str(manifests / piece) for piece in ("v0", "v_prime") if not (manifests / piece).is_dir()]
    if missing:
        raise ConfigInputError("generated manifests are missing: " + ", ".join(missing))
    return merge(config, {"upgrade": {"manifests": {"v0": str((manifests / "v0").resolve()),
                                                    "v_prime": str((manifests / "v_prime").resolve())}}})


def validated(config: dict[str, Any], source: str, base_dir: Path | None = None) -> dict[str, Any]:
    """`config` unchanged if the suite's loader accepts it; else ConfigInputError listing
    every problem the loader found (secrets redacted by the loader)."""
    from helpers.config import ConfigError, parse_config

    try:
        parse_config(config, source=source, base_dir=base_dir or Path.cwd())
    except ConfigError as exc:
        raise ConfigInputError(str(exc))
    return config


def write_private(path: Path, text: str) -> None:
    """Write a file that holds credentials, readable only by its owner (also when it existed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def build(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, Any]:
    if args.from_env:
        config = from_env(env)
    else:
        try:
            config = yaml.safe_load(args.config.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigInputError(f"{args.config}: {exc}")
        if not isinstance(config, dict):
            raise ConfigInputError(f"{args.config}: not a YAML mapping")
    if env.get(OVERLAY_PARAM):
        config = merge(config, parse_overlay(env[OVERLAY_PARAM], OVERLAY_PARAM))
    for path in args.overlay:
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigInputError(f"--overlay {path}: {exc.strerror or exc}")
        config = merge(config, parse_overlay(text, str(path)))
    config = merge(config, parse_set(args.set))
    if args.manifests:
        config = with_manifests(config, args.manifests)
    source = "the task params" if args.from_env else str(args.config)
    return validated(config, source)


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(prog="python -m ci.suite_config", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="start from this config file")
    source.add_argument("--from-env", action="store_true", help="start from the task params")
    parser.add_argument("--overlay", type=Path, action="append", default=[], help="YAML merged on top (repeatable)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="one key (value parsed as YAML; repeatable)")
    parser.add_argument("--manifests", type=Path, help="DIR with v0/ and v_prime/ manifests to deploy")
    parser.add_argument("--out", type=Path, help="write here with mode 0600 (default: stdout)")
    args = parser.parse_args(argv)
    try:
        config = build(args, env)
    except ConfigInputError as exc:
        print(f"cannot write the suite config: {exc}", file=sys.stderr)
        return 1
    text = yaml.safe_dump(config, sort_keys=False)
    if args.out:
        write_private(args.out, text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
