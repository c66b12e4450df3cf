"""`python -m promotion`: build Redis template candidates, deploy them through the gates
dev1/dev2 -> staging -> production, cut final releases from what dev tested, compare
environments, keep the pipeline's policy, decide about production's drift, recover after a
crash, inspect the ledger, unlock.

Exit status: 0 done; 1 `diff`/`diff-production` found differences (outside the allowed
paths / from the recorded state); 2 usage, configuration or store access error, or `diff`
of an environment with nothing deployed; 3 refused (a gate, the lock, the ledger's chain,
an unknown, tampered or truncated candidate: the message names the rule and what would
satisfy it); 4 a deploy, a staging reset or the checks failed (recorded in the ledger), the
director failed, or `bosh create-release --final` failed. Docs: docs/promotion.md.
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
DEFAULT_STORE = "./promotion-store"  # holds candidates/, ledger/, locks/ (so never candidates/candidates/)


def _config(args: argparse.Namespace) -> Any:
    from helpers.config import load_config

    return load_config(args.config)


def _store(args: argparse.Namespace, config: Any) -> Store:
    pc = getattr(config, "promotion", None)
    url = args.store or (pc.store if pc else DEFAULT_STORE)
    return open_store(url, s3_settings(pc.s3 if pc else None, args.s3_endpoint, region=args.s3_region))


class UsageError(Exception):
    """A command cannot run as given (exit 2)."""


def _promoter(args: argparse.Namespace, config: Any):
    from helpers.bosh import Director
    from promotion.deploy import Promoter

    if config is None:
        raise UsageError(f"{args.command} needs a suite config (--config FILE or $CONFIG) naming the director")
    resolver = config.resolver()
    passwords = {
        env: os.environ[f"REDIS_PASSWORD_{env.upper()}"]
        for env in cand.ENVIRONMENTS
        if os.environ.get(f"REDIS_PASSWORD_{env.upper()}")
    }
    pc = config.promotion
    stated = {env: {k: v for k, v in (("deployment", e.deployment), ("director_uuid", e.director_uuid)) if v}
              for env, e in pc.environments.items()}
    return Promoter(
        store=_store(args, config),
        director=Director(config.bosh, resolver),
        resolve=resolver.resolve,
        passwords=passwords,
        env_directors={env: Director(e.bosh, resolver) for env, e in pc.environments.items() if e.bosh},
        stated_allowed_diff_paths=pc.allowed_diff_paths,
        stated_environments={env: v for env, v in stated.items() if v},
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
    refusals = _binding_refusals(cand.read(data, digest), store)
    if refusals:
        for r in refusals:
            print(str(r), file=sys.stderr)
        return 3
    store.put(cand.key(digest), data)
    if args.digest_file:
        Path(args.digest_file).parent.mkdir(parents=True, exist_ok=True)
        Path(args.digest_file).write_text(digest + "\n")
    print(digest)
    return 0


def _binding_refusals(c: cand.Candidate, store: Store) -> list:
    """At build: every environment's manifest names its own bound deployment and no director
    (the pipeline's policy from the store's ledger, or the built-in one)."""
    from promotion import policy as pol
    from promotion.deploy import UNBOUND
    from promotion.ledger import Ledger
    from promotion.manifest import render_all

    policy = pol.current(Ledger(store).records())
    uuids = {env: UNBOUND for env in c.environments}
    return pol.render_refusals(render_all(c, uuids, "password-not-rendered"), policy, uuids, "the build")


def cmd_deploy(args: argparse.Namespace) -> int:
    promoter = _promoter(args, _config(args))
    run_id = promoter.deploy(args.digest, args.env, allow_downgrade=args.allow_downgrade)
    print(f"candidate {args.digest[:12]} deployed to {args.env} and checked (run {run_id})")
    return 0


def cmd_finalize(args: argparse.Namespace) -> int:
    from promotion.finalize import Finalizer, Request, bosh_cli, input_problems

    config = _config(args)
    release_dir = args.release_dir or (config.promotion.upstream if config else None)
    cli = bosh_cli(args.bosh_cli)
    problems = [] if release_dir else ["finalize needs the release repository's checkout: --release-dir DIR or "
                                       "promotion.upstream"]
    req = Request(Path(release_dir or "."), args.dev_release, args.version, args.checkout,
                  Path(args.tarball) if args.tarball else None, tuple(args.upload_to or cand.ENVIRONMENTS))
    problems += input_problems(req, cli) if release_dir else []
    if config is None:
        problems.append("finalize needs a suite config (--config FILE or $CONFIG) naming the directors to confirm "
                        "the dev run with and to upload to")
    if problems:
        raise UsageError("finalize cannot run as given:\n  - " + "\n  - ".join(problems))
    assert cli is not None
    Finalizer(_promoter(args, config), cli).finalize(req)
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    from promotion import policy as pol
    from promotion.ledger import Ledger

    store = _store(args, _config(args))
    if args.action is None:
        print(pol.current(Ledger(store).records()).describe())
        return 0
    if not args.reason:
        raise UsageError(f"policy {args.action} records a decision: give its --reason")

    def change(p: pol.Policy) -> pol.Policy:
        if args.action == "allow-diff":
            return pol.with_change(p, allow=tuple(args.paths))
        if args.action == "disallow-diff":
            return pol.with_change(p, disallow=tuple(args.paths))
        old = p.binding(args.env)
        return pol.with_change(p, bind={args.env: pol.Binding(args.deployment or old.deployment,
                                                                args.director_uuid or old.director_uuid)})

    old, new, record = pol.record_change(Ledger(store), change, args.reason)
    if record is None:
        print(f"no change: policy version {old.version} already says so")
        return 0
    print(f"policy version {new.version} recorded (ledger #{record.seq}): {'; '.join(pol.changed(old, new))}")
    print(new.describe())
    return 0


def cmd_diff_production(args: argparse.Namespace) -> int:
    promoter = _promoter(args, _config(args))
    state, _running, lines = promoter.production_drift()
    if state is None:
        print("the ledger records no production state")
        return 0
    if not lines:
        print(f"production runs its recorded state: {state.describe()}")
        return 0
    print(f"production drifted from its recorded state ({state.describe()}):")
    for line in lines:
        print(f"! {line}")
    return 1


def cmd_adopt_drift(args: argparse.Namespace) -> int:
    _promoter(args, _config(args)).adopt_drift(args.reason)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    if not args.force:
        raise UsageError("restore redeploys production's recorded state, reverting what production runs now; "
                         "check `python -m promotion diff-production`, then add --force")
    run_id = _promoter(args, _config(args)).restore()
    print(f"production restored to its recorded state and checked (run {run_id})")
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    if not args.force:
        raise UsageError("recover completes what a crashed run left unfinished; check that the run is gone "
                         "(its lock names host and pid), then add --force")
    done = _promoter(args, _config(args)).recover(args.env, args.task)
    for r in done:
        print(f"ledger #{r.seq}: {r.kind} {r.outcome}: {r.detail}")
    if not done:
        print(f"{args.env} has no unfinished intent")
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
    from promotion.gates import unfinished
    from promotion.ledger import Ledger

    ledger = Ledger(_store(args, _config(args)))
    records = ledger.records()
    sys.stdout.write(ledger.lines())
    for refusal in unfinished(records, cand.ENVIRONMENTS):
        print(f"warning: {refusal.reason}; {refusal.remedy}", file=sys.stderr)
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
    p.add_argument("--s3-region", default=default,
                   help="S3 region (default promotion.s3.region, else $AWS_REGION / $AWS_DEFAULT_REGION, else us-east-1)")


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
    d.add_argument("--allow-downgrade", action="store_true",
                   help="take staging or production to older release or stemcell versions than production runs "
                        "(refused otherwise; recorded in the ledger)")
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
    add("ledger", "verify the ledger's chain and print it (every decision, deploy, check and test) as JSON "
        "lines").set_defaults(func=cmd_ledger)
    fz = add("finalize", "cut a final release from the dev release that passed dev1 or dev2, upload it, record it",
             description="Finds the dev release's passing run in dev1 or dev2 in the ledger (confirmed with the dev "
                         "director: its task, and the release's fingerprints and commit), checks that the release "
                         "checkout is at that commit with nothing changed, cuts the final release with the real "
                         "`bosh create-release --final`, refuses it unless its jobs' and packages' fingerprints are "
                         "the dev release's, uploads it to each environment's director and records a `finalize` "
                         "record naming the dev release, its commit and fingerprints.")
    fz.add_argument("--release-dir", help="the release repository's git checkout (default promotion.upstream)")
    fz.add_argument("--dev-release", required=True,
                    help="NAME/VERSION of the dev release to cut from (e.g. redis/9+dev.3), or NAME for the newest "
                         "one that passed dev1 or dev2")
    fz.add_argument("--version", help="the final version (default: the bosh CLI's next one)")
    fz.add_argument("--checkout", action="store_true",
                    help="check out the dev release's commit (a clean checkout only); without it, a checkout at "
                         "another commit is refused")
    fz.add_argument("--tarball", help="also keep the final release tarball at this path")
    fz.add_argument("--upload-to", action="append", choices=cand.ENVIRONMENTS,
                    help="environment whose director gets the final release (repeatable; default all four)")
    fz.add_argument("--bosh-cli", help="the bosh CLI v2+ to run (default $PROMOTION_BOSH_CLI, else `bosh` on the "
                                       "PATH)")
    fz.set_defaults(func=cmd_finalize)
    pp = add("policy", "show the pipeline's gate policy, or record a change to it (a versioned decision in the ledger)",
             description="Without an action: print the policy in force. allow-diff/disallow-diff PATH...: widen or "
                         "narrow the paths parity allows to differ between staging and production. bind ENV: "
                         "change an environment's deployment name or director uuid. Every change needs --reason "
                         "and is recorded in the ledger.")
    pp.add_argument("action", nargs="?", choices=("allow-diff", "disallow-diff", "bind"))
    pp.add_argument("paths", nargs="*", help="allow-diff/disallow-diff: dotted paths (`*` one step, `**` any)")
    pp.add_argument("--env", choices=cand.ENVIRONMENTS, help="bind: the environment")
    pp.add_argument("--deployment", help="bind: its deployment name")
    pp.add_argument("--director-uuid", help="bind: its director's uuid")
    pp.add_argument("--reason", help="why (recorded with the change)")
    pp.set_defaults(func=cmd_policy)
    add("diff-production", "show how production differs from its recorded state (exit 1 if it drifted)"
        ).set_defaults(func=cmd_diff_production)
    a = add("adopt-drift", "accept what production runs as its recorded state (a decision recorded in the ledger)")
    a.add_argument("--reason", required=True, help="why the drift is accepted (recorded)")
    a.set_defaults(func=cmd_adopt_drift)
    r = add("restore", "redeploy production's recorded state, reverting a drift (recorded, then checked)")
    r.add_argument("--force", action="store_true", help="required: you checked the drift with diff-production")
    r.set_defaults(func=cmd_restore)
    rc = add("recover", "complete what a crashed run left unfinished (an intent without an outcome)")
    rc.add_argument("--env", required=True, choices=cand.ENVIRONMENTS, help="the environment of the crashed run")
    rc.add_argument("--task", type=int, help="the director task the crashed run started, if known (verified)")
    rc.add_argument("--force", action="store_true", help="required: you checked that the crashed run is gone")
    rc.set_defaults(func=cmd_recover)
    s = add("show", "print a candidate's candidate.yml (after verifying it)")
    s.add_argument("digest", help="the candidate's sha256")
    s.set_defaults(func=cmd_show)
    return p


def main(argv: list[str] | None = None) -> int:
    from helpers.bosh import BoshError
    from helpers.config import ConfigError
    from helpers.net import REDACTOR
    from promotion.deploy import NotDeployed, PromotionFailed
    from promotion.finalize import FinalizeFailed
    from promotion.ledger import LedgerBroken, LedgerError
    from promotion.lock import LockHeld
    from promotion.refusal import GateRefused

    args = parser().parse_args(argv)
    if args.config is None:
        args.config = os.environ.get("CONFIG")
    if args.command == "policy" and args.action == "bind" and not args.env:
        print("policy bind needs --env", file=sys.stderr)
        return 2
    statuses: list[tuple[type[BaseException] | tuple[type[BaseException], ...], int]] = [
        ((GateRefused, LockHeld, cand.CandidateError, LedgerBroken), 3),
        ((PromotionFailed, FinalizeFailed, BoshError), 4),
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
