"""`python -m promotion`: build candidates, deploy them through the gates, diff, unlock.

Exit status: 0 done; 2 usage or configuration error; 3 refused (a gate, the lock, or a
tampered candidate; the message names the rule and what would satisfy it); 4 a deploy or
its checks failed (recorded in the ledger).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from promotion import candidate as cand
from promotion.store import S3Settings, Store, StoreError, open_store

TEMPLATES = Path(__file__).resolve().parents[1] / "manifests" / "redis"


def _config(args: argparse.Namespace) -> Any:
    from helpers.config import load_config

    return load_config(args.config)


def _store(args: argparse.Namespace, config: Any) -> Store:
    pc = getattr(config, "promotion", None)
    url = args.store or (pc.store if pc else "./candidates")
    s3 = pc.s3 if pc else None
    settings = S3Settings(
        endpoint_url=args.s3_endpoint or (s3.endpoint_url if s3 else None),
        region=(s3.region if s3 else "us-east-1"),
        access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or (s3.access_key_id if s3 else None),
        secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or (s3.secret_access_key if s3 else None),
    )
    return open_store(url, settings)


def _promoter(args: argparse.Namespace, config: Any):
    from helpers.bosh import Director
    from promotion.deploy import Promoter
    from promotion.parity import DEFAULT_ALLOWED

    if config is None:
        raise SystemExit("promotion deploy needs a suite config (--config or $CONFIG) naming the director")
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
    releases = cand.parse_releases(args.release or ["redis=latest"])
    stemcell = {"name": args.stemcell_name, "version": args.stemcell_version}
    digest, data = cand.build(Path(upstream), Path(args.templates), releases, stemcell=stemcell)
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

    store = _store(args, _config(args))
    c = cand.read(store.get(cand.key(cand.check_digest(args.digest))), args.digest)
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

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, parents=[common])

    b = add("build", "compose a candidate tarball and store it; prints its digest")
    b.add_argument("--upstream", help="redis-boshrelease checkout (default promotion.upstream)")
    b.add_argument("--templates", default=str(TEMPLATES), help="per-deployment templates directory")
    b.add_argument("--release", action="append", help="NAME=VERSION (repeatable), e.g. redis=9.1")
    b.add_argument("--stemcell-name", default=cand.DEFAULT_STEMCELL["name"])
    b.add_argument("--stemcell-version", default=cand.DEFAULT_STEMCELL["version"])
    b.add_argument("--digest-file", help="also write the digest to this file (for CI resources)")
    b.set_defaults(func=cmd_build)
    d = add("deploy", "deploy a candidate to an environment through its gates")
    d.add_argument("digest")
    d.add_argument("--upstream", help="accepted for symmetry with build; ignored (a candidate carries its templates)")
    d.add_argument("--env", required=True, choices=cand.ENVIRONMENTS)
    d.set_defaults(func=cmd_deploy)
    f = add("diff", "manifest differences between two environments")
    f.add_argument("left")
    f.add_argument("right")
    f.add_argument("--candidate", help="compare what this candidate would deploy instead of what runs")
    f.set_defaults(func=cmd_diff)
    u = add("unlock", "break the promotion lock of an environment (after a crashed run)")
    u.add_argument("--env", required=True, choices=("staging", "production"))
    u.add_argument("--force", action="store_true")
    u.set_defaults(func=cmd_unlock)
    add("ledger", "print the ledger as JSON lines").set_defaults(func=cmd_ledger)
    s = add("show", "print a candidate's candidate.yml (after verifying it)")
    s.add_argument("digest")
    s.set_defaults(func=cmd_show)
    return p


def main(argv: list[str] | None = None) -> int:
    from promotion.deploy import PromotionFailed
    from promotion.lock import LockHeld

    args = parser().parse_args(argv)
    if args.config is None:
        args.config = os.environ.get("CONFIG")
    try:
        return int(args.func(args))
    except (LockHeld, cand.CandidateError) as exc:
        print(str(exc), file=sys.stderr)
        return 3
    except PromotionFailed as exc:
        print(str(exc), file=sys.stderr)
        return 4
    except StoreError as exc:
        print(str(exc), file=sys.stderr)
        return 3 if "not found" in str(exc) else 1
    except Exception as exc:
        if type(exc).__name__ == "ConfigError":
            print(str(exc), file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
