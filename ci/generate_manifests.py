"""Generate the V0 and V-prime manifest sets for the BOSH-Lite a CI job provisioned.

    python -m ci.generate_manifests --config bosh-lite/config.yml \
        --v-prime-versions versions.yml --out manifests

The director uuid comes from the director's /info, the CF domain and admin credentials from
the config, so the manifests deploy to this director and the suite can log in. Both sets
share one secrets file (DIR/secrets.yml), so the upgrade keeps every credential.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def generate_sets(config, v_prime_versions: str, out: Path, v0_versions: str = "v0",
                  stubs: tuple[str, ...] = ()) -> dict[str, dict[str, Path]]:
    from helpers.bosh import Director
    from manifests.generate import generate, write_domain_stub

    uuid = Director(config.bosh, config.resolver(), timeout=config.timeout).uuid()
    out.mkdir(parents=True, exist_ok=True)
    domain = config.cf.system_domain or config.cf.apps_domain
    if domain:
        stubs = (str(write_domain_stub(domain, out)), *stubs)
    prefix = config.upgrade.deployment_prefix
    common = {"director_uuid": uuid, "stubs": stubs, "prefix": prefix, "secrets_file": out / "secrets.yml",
              "cf_admin_user": config.cf.admin_user, "cf_admin_password": config.cf.admin_password}
    return {"v0": generate(v0_versions, out=out / "v0", **common),
            "v_prime": generate(v_prime_versions, out=out / "v_prime", **common)}


def main(argv: list[str] | None = None) -> int:
    from helpers.config import ConfigError, load_config
    from manifests.generate import GenerationError

    parser = argparse.ArgumentParser(prog="python -m ci.generate_manifests", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--v-prime-versions", required=True, help="version-set name or YAML file")
    parser.add_argument("--v0-versions", default="v0")
    parser.add_argument("--stub", action="append", default=[], help="extra spiff stub (repeatable)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        if config is None:
            raise ConfigError(["--config names no file"])
        written = generate_sets(config, args.v_prime_versions, args.out, args.v0_versions, tuple(args.stub))
    except (ConfigError, GenerationError) as exc:
        print(exc, file=sys.stderr)
        return 1
    except Exception as exc:  # director unreachable, bad credentials: the helpers name it
        print(f"cannot generate manifests: {exc}", file=sys.stderr)
        return 1
    for name, files in written.items():
        print(f"{name}: " + ", ".join(str(p) for p in files.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
