"""Write the config a CI task hands to a suite.

    python -m ci.suite_config --config bosh-lite/config.yml --manifests DIR   # upgrade run
    python -m ci.suite_config --from-env [--format suite|cats]                # CF only

`--manifests` points the upgrade suite at manifests generated earlier in the job
(DIR/v0 and DIR/v_prime) instead of generating its own. `--from-env` builds a config
from the task params: `cf` from CF_API, CF_APPS_DOMAIN, CF_ADMIN_USER, CF_ADMIN_PASSWORD,
CF_CA_CERT, CF_SKIP_SSL_VALIDATION; `bosh` from BOSH_DIRECTOR_URL, BOSH_DIRECTOR_USERNAME,
BOSH_DIRECTOR_PASSWORD, BOSH_DIRECTOR_CA_CERT; `promotion` from PROMOTION_STORE (S3
credentials stay in the AWS_* environment). `--format cats` writes the CATs/DATs JSON.
The output holds credentials: it goes to a file in the task's working directory only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


class ConfigInputError(ValueError):
    pass


def with_manifests(config: dict[str, Any], manifests: Path) -> dict[str, Any]:
    missing = [str(manifests / piece) for piece in ("v0", "v_prime") if not (manifests / piece).is_dir()]
    if missing:
        raise ConfigInputError("generated manifests are missing: " + ", ".join(missing))
    merged = dict(config)
    upgrade = dict(merged.get("upgrade") or {})
    upgrade["manifests"] = {"v0": str((manifests / "v0").resolve()),
                            "v_prime": str((manifests / "v_prime").resolve())}
    merged["upgrade"] = upgrade
    return merged


def from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """Every section whose settings are present in the task's params."""
    config: dict[str, Any] = {}
    if env.get("CF_API"):
        config.update(cf_from_env(env))
    if env.get("BOSH_DIRECTOR_URL"):
        bosh: dict[str, Any] = {"url": env["BOSH_DIRECTOR_URL"],
                                "username": env.get("BOSH_DIRECTOR_USERNAME") or "admin",
                                "password": env.get("BOSH_DIRECTOR_PASSWORD") or ""}
        if env.get("BOSH_DIRECTOR_CA_CERT"):
            bosh["ca_cert"] = env["BOSH_DIRECTOR_CA_CERT"]
        config["bosh"] = bosh
    if env.get("PROMOTION_STORE"):
        config["promotion"] = {"store": env["PROMOTION_STORE"]}
    if not config:
        raise ConfigInputError("no settings in the environment: set CF_API, BOSH_DIRECTOR_URL "
                               "or PROMOTION_STORE")
    return config


def cf_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    required = {"CF_API": "api", "CF_APPS_DOMAIN": "apps_domain", "CF_ADMIN_USER": "admin_user",
                "CF_ADMIN_PASSWORD": "admin_password"}
    missing = [name for name in required if not env.get(name)]
    if missing:
        raise ConfigInputError("missing task params: " + ", ".join(missing))
    cf: dict[str, Any] = {key: env[name] for name, key in required.items()}
    if env.get("CF_CA_CERT"):
        cf["ca_cert"] = env["CF_CA_CERT"]
    if env.get("CF_SKIP_SSL_VALIDATION", "").lower() in ("1", "true", "yes"):
        cf["skip_ssl_validation"] = True
    return {"cf": cf}


def cats_format(config: dict[str, Any]) -> dict[str, Any]:
    cf = config["cf"]
    api = cf["api"].split("://", 1)[-1]
    return {"api": api, "apps_domain": cf["apps_domain"], "admin_user": cf["admin_user"],
            "admin_password": cf["admin_password"],
            "skip_ssl_validation": bool(cf.get("skip_ssl_validation", False)),
            "use_http": False, "include_ssh": True, "backend": "diego"}


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(prog="python -m ci.suite_config", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path)
    source.add_argument("--from-env", action="store_true")
    parser.add_argument("--manifests", type=Path)
    parser.add_argument("--format", choices=("suite", "cats"), default="suite")
    args = parser.parse_args(argv)
    try:
        if args.from_env:
            config = from_env(env)
        else:
            config = yaml.safe_load(args.config.read_text()) or {}
            if not isinstance(config, dict):
                raise ConfigInputError(f"{args.config}: not a YAML mapping")
        if args.manifests:
            config = with_manifests(config, args.manifests)
    except (ConfigInputError, OSError, yaml.YAMLError) as exc:
        print(f"cannot write the suite config: {exc}", file=sys.stderr)
        return 1
    if args.format == "cats":
        sys.stdout.write(json.dumps(cats_format(config), indent=2) + "\n")
    else:
        sys.stdout.write(yaml.safe_dump(config, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
