"""`python -m promotion`: build Redis template candidates, deploy them through the gates
dev1/dev2 -> staging -> production, compare environments, inspect the ledger, unlock.

Exit status: 0 done; 1 `diff` found differences outside the allowed paths; 2 usage,
configuration or store access error, or `diff` of an environment with nothing deployed; 3 refused (a gate, the lock, an unknown, tampered or
truncated candidate: the message names the rule and what would satisfy it); 4 a deploy,
a staging reset or the checks failed (recorded in the ledger), or the director failed.
Docs: docs/promotion.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from promotion import candidate as cand
from promotion.store import Store, StoreError, open_store, s3_settings

TEMPLATES = Path(__file__).resolve().parents[1] / "manifests" / "redis"


def _config(args: argparse.Namespace) -> Any:
    from helpers.config import load_config

    return load_config(args.config)


def _store(args: argparse.Namespace, config: Any) -> Store:
    pc = getattr(config, "promotion", None)
    url = args.store or (pc.store if pc else "./candidates")
    return open_store(url, s3_settings(pc.s3 if pc else None, args.s3_endpoint))


class UsageError(Exception):
    """A command cannot run as given (exit 2)."""


def _promoter(args: argparse.Namespace, config: Any):
    from helpers.bosh import Director
    from promotion.deploy import Promoter
    from promotion.parity import DEFAULT_ALLOWED

    if config is None:
        raise UsageError(f"{args.command} needs a suite config (--config FILE or $CONFIG) naming the director")
    resolver = config.resolver()
    passwords = {
        env: os.environ[f"REDIS_PASSWORD_{env.upper()}"]
        for env in cand.ENVIRONMENTS
        if os.environ.get(f"REDIS_PASSWORD_{env.upper()}")
    }
    allowed = tuple(config.promotion.allowed_diff_paths) if config.promotion else DEFAULT_ALLOWED
    return Promoter(
        store=_store(args, config),
        director=Director(config.bosh, resolver),
        resolve=resolver.resolve,
        allowed_diff_paths=allowed,
        passwords=passwords,
    )


def cmd_build(args: argparse.Namespace) -> int:
    config = _config(args)
    upstream = args.upstream or (config.promotion.upstream if config else None)
    if not upstream:
        print("build needs the upstream redis-boshrelease checkout: --upstream DIR or promotion.upstream",
              file=sys.stderr)
        return 2
    try:
        releases = cand.parse_releases(args.release or ["redis=latest"])
        stemcell = {"name": args.stemcell_name, "version": args.stemcell_version}
        digest, data = cand.build(Path(upstream), Path(args.templates), releases, stemcell=stemcell)
    except cand.CandidateError as exc:  # bad input to build: a usage error, not a refusal
        print(str(exc), file=sys.stderr)
        return 2
    store = _store(args, config)
    store.put(cand.key(digest), data)
    if args.digest_file:
        Path(args.digest_file).parent.mkdir(parents=True, exist_ok=True)
        Path(args.digest_file).write_text(digest + "\n")
    print(digest)
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from promotion.gates import GateRefused

    promoter = _promoter(args, _config(args))
    try:
        run_id = promoter.deploy(args.digest, args.env)
    except GateRefused as exc:
        for r in exc.refusals:
            print(str(r), file=sys.stderr)
        return 3
    print(f"candidate {args.digest[:12]} deployed to {args.env} and checked (run {run_id})")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from promotion.parity import violations

    promoter = _promoter(args, _config(args))
    diffs = promoter.diff_envs(args.left, args.right, args.candidate)
    bad = violations(diffs, promoter.allowed_diff_paths)
    for d in diffs:
        mark = "!" if d in bad else " "
        print(f"{mark} {d.render(args.left, args.right)}")
    print(f"{len(diffs)} differences, {len(bad)} outside the allowed paths "
          f"({', '.join(promoter.allowed_diff_paths)})")
    return 1 if bad else 0


def cmd_unlock(args: argparse.Namespace) -> int:
    from promotion.lock import break_lock

    if not args.force:
        print("unlock removes a lock another run may still hold; check that run is gone, then add --force",
              file=sys.stderr)
        return 2
    holder = break_lock(_store(args, _config(args)), args.env)
    print(f"lock on {args.env} broken (was held by {holder})" if holder else f"{args.env} was not locked")
    return 0


def cmd_ledger(args: argparse.Namespace) -> int:
    from promotion.ledger import Ledger

    sys.stdout.write(Ledger(_store(args, _config(args))).lines())
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    import yaml

    c = cand.load(_store(args, _config(args)), args.digest)
    print(yaml.safe_dump(c.meta, sort_keys=True), end="")
    return 0


def _common(p: argparse.ArgumentParser, default: Any) -> None:
    p.add_argument("--config", default=default, help="suite config file (default $CONFIG)")
    p.add_argument("--store", default=default,
                   help="candidate store: a directory or s3://bucket/prefix (default promotion.store)")
    p.add_argument("--s3-endpoint", default=default, help="S3 endpoint URL (default promotion.s3.endpoint_url)")


def parser() -> argparse.ArgumentParser:
    """The common options work before or after the command (`deploy D --env X --config F`)."""
    p = argparse.ArgumentParser(prog="python -m promotion", description=__doc__.split("\n")[0])
    _common(p, None)
    common = argparse.ArgumentParser(add_help=False)
    _common(common, argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=description or help, parents=[common])

    b = add("build", "compose a candidate tarball and store it; prints its digest")
    b.add_argument("--upstream", help="redis-boshrelease checkout (default promotion.upstream)")
    b.add_argument("--templates", default=str(TEMPLATES), help="per-deployment templates directory")
    b.add_argument("--release", action="append",
                   help="NAME=VERSION (repeatable), e.g. redis=9.1; default redis=latest. staging and production "
                        "take only final releases: exact versions, no `latest`, no `+dev.N` builds")
    b.add_argument("--stemcell-name", default=cand.DEFAULT_STEMCELL["name"], help="stemcell the manifests use")
    b.add_argument("--stemcell-version", default=cand.DEFAULT_STEMCELL["version"],
                   help="exact stemcell version; the default `latest` is accepted by dev1/dev2 only")
    b.add_argument("--digest-file", help="also write the digest to this file (for CI resources)")
    b.set_defaults(func=cmd_build)
    d = add("deploy", "deploy a candidate to an environment through its gates, then run the integration checks",
            description="dev1/dev2 take any candidate. staging takes a candidate that passed dev1 or dev2 "
                        "with final releases, after resetting staging to production's current candidate "
                        "(or deleting staging when production has none yet). production takes the "
                        "candidate of the latest staging run if it passed after that reset, has final "
                        "releases and keeps parity with staging. Every outcome goes to the ledger.")
    d.add_argument("digest", help="the candidate's sha256, as printed by build")
    d.add_argument("--upstream", help="accepted for symmetry with build; ignored (a candidate carries its templates)")
    d.add_argument("--env", required=True, choices=cand.ENVIRONMENTS, help="target environment")
    d.set_defaults(func=cmd_deploy)
    f = add("diff", "manifest differences between two environments; exit 1 if any is outside the allowed paths")
    f.add_argument("left", choices=cand.ENVIRONMENTS, help="environment, e.g. staging")
    f.add_argument("right", choices=cand.ENVIRONMENTS, help="environment, e.g. production")
    f.add_argument("--candidate", help="compare what this candidate would deploy instead of what runs")
    f.set_defaults(func=cmd_diff)
    u = add("unlock", "break the promotion lock (staging and production share it) after a crashed run")
    u.add_argument("--env", required=True, choices=("staging", "production"),
                   help="the environment the refused run wanted (both share one lock)")
    u.add_argument("--force", action="store_true", help="required: you checked that the holding run is gone")
    u.set_defaults(func=cmd_unlock)
    add("ledger", "print the ledger (every deploy, check and test) as JSON lines").set_defaults(func=cmd_ledger)
    s = add("show", "print a candidate's candidate.yml (after verifying it)")
    s.add_argument("digest", help="the candidate's sha256")
    s.set_defaults(func=cmd_show)
    return p


def main(argv: list[str] | None = None) -> int:
    from helpers.bosh import BoshError
    from helpers.config import ConfigError
    from helpers.net import REDACTOR
    from promotion.deploy import NotDeployed, PromotionFailed
    from promotion.ledger import LedgerError
    from promotion.lock import LockHeld

    args = parser().parse_args(argv)
    if args.config is None:
        args.config = os.environ.get("CONFIG")
    statuses: list[tuple[type[BaseException] | tuple[type[BaseException], ...], int]] = [
        ((LockHeld, cand.CandidateError), 3),
        ((PromotionFailed, BoshError), 4),
        ((StoreError, LedgerError, ConfigError, UsageError, NotDeployed), 2),
    ]
    try:
        return int(args.func(args))
    except Exception as exc:
        for kinds, status in statuses:
            if isinstance(exc, kinds):
                print(REDACTOR.redact(str(exc)), file=sys.stderr)
                return status
        raise


if __name__ == "__main__":
    sys.exit(main())
