"""The promotion gates: decisions from the candidate, the verified ledger and facts that
deploy.py gathers from the director.

Each gate is a function returning refusals (rule, why, what would satisfy it); none of them
talks to the director itself. Where a gate relies on a ledger record (a dev run, a staging
run), it asks `verify` (promotion/tasks.py, bound to the right director by deploy.py) before
trusting it, and refuses naming the record when the director disagrees. A new gate (e.g. a
`final-from-tested-dev` that compares a final release with the dev release that passed) is
one more function here and one more line in `promotion_gates`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from promotion.candidate import Candidate, is_final
from promotion.ledger import NO_CANDIDATE, Record, run_passed, runs_of, unfinished_intents
from promotion.parity import Difference, violations
from promotion.refusal import GateRefused, Refusal

DEV_ENVS = ("dev1", "dev2")
GATED_ENVS = ("staging", "production")
FINAL_REMEDY = (
    "cut final releases, then build a new candidate with exact versions "
    "(e.g. `python -m promotion build --release redis=9.1 --stemcell-version 3147`) and take it through dev first"
)
Verify = Callable[[Record], Refusal | None]

__all__ = ["GateRefused", "Refusal"]


def _trust_all(record: Record) -> Refusal | None:
    return None


def final_releases(candidate: Candidate, env: str) -> list[Refusal]:
    """Releases final (exact, no `latest`, no dev builds) and the stemcell exact, as the
    candidate declares them. An exact stemcell belongs here too: `latest` resolves to
    whatever was uploaded last, so staging and production could get different stemcells."""
    bad = candidate.non_final_releases()
    stemcell = candidate.stemcell
    if not is_final(stemcell.get("version")):
        bad.append(f"stemcell {stemcell.get('name')}/{stemcell.get('version')}")
    if not bad:
        return []
    return [Refusal("final-releases", f"{env} accepts only final releases and a stemcell with exact versions, but "
                    f"candidate {candidate.digest[:12]} uses {', '.join(bad)}", FINAL_REMEDY)]


def pinned_manifest(manifest: dict[str, Any], env: str) -> list[Refusal]:
    """The same rule on the manifest that would be deployed: a template inside the candidate
    (upstream's or ours) could otherwise still bring in `latest` or a dev build."""
    bad = [f"{r.get('name')}/{r.get('version')}" for r in manifest.get("releases") or []
           if not is_final(r.get("version"))]
    stemcells = [rp.get("stemcell") or {} for rp in manifest.get("resource_pools") or []]
    stemcells += list(manifest.get("stemcells") or [])
    bad += [f"stemcell {s.get('name') or s.get('os')}/{s.get('version')}" for s in stemcells
            if not is_final(s.get("version"))]
    if not bad:
        return []
    return [Refusal("final-releases", f"the {env} manifest this candidate renders uses {', '.join(sorted(set(bad)))}",
                    FINAL_REMEDY)]


def unfinished(records: list[Record], envs: tuple[str, ...]) -> list[Refusal]:
    """A run announced a director task (intent) and never recorded its outcome: it crashed,
    or is still running. What the environment runs is unknown until someone looks."""
    out = []
    for r in unfinished_intents(records, envs):
        action = r.extra.get("action", "deploy")
        what = (f"delete deployment {r.deployment}" if action == "delete"
                else f"deploy candidate {r.candidate[:12]} to {r.env} (deployment {r.deployment}, {r.purpose})")
        out.append(Refusal(
            "unfinished-intent",
            f"run {r.run_id} recorded at ledger #{r.seq} ({r.time}) that it was about to {what}, but never recorded "
            "the outcome: it crashed or is still running, so nobody knows what the director did",
            f"if run {r.run_id} is gone, `python -m promotion recover --env {r.env} --force`: it compares what the "
            "director runs with the intended manifest, records the outcome and releases that run's lock "
            "(add --task N to record the director task, from `bosh tasks --no-filter`)",
        ))
    return out


def passed_dev(candidate: Candidate, records: list[Record], verify: Verify = _trust_all) -> list[Refusal]:
    """Staging takes a candidate with a passing run (deploy and checks) in dev1 or dev2,
    any such candidate, not only the newest; each run counted is confirmed by the director."""
    passing = [run for env in DEV_ENVS for run in runs_of(records, env, candidate.digest)
               if run_passed(run, env, candidate.digest)]
    for run in passing:
        for record in run:
            if record.kind == "deploy":
                problem = verify(record)
                if problem:
                    return [problem]
    if passing:
        return []
    return [Refusal("passed-dev", f"candidate {candidate.digest[:12]} has no passing deploy and checks in dev1 or dev2",
                    f"`python -m promotion deploy {candidate.digest} --env dev1` (or dev2) and let its checks pass")]


def _staging_runs(records: list[Record]) -> list[str]:
    """Run ids that changed (or set out to change) staging, in chain order."""
    ids: list[str] = []
    for r in records:
        if r.env == "staging" and r.kind in ("intent", "deploy", "check", "delete") and r.run_id not in ids:
            ids.append(r.run_id)
    return ids


def passed_staging_after_reset(candidate: Candidate, records: list[Record], production_state: str | None,
                               verify: Verify = _trust_all) -> list[Refusal]:
    """Production takes the candidate only when the *latest* run on staging is this
    candidate's, it reset staging to production's current state (`production_state`: the
    digest of production's recorded manifest, None when production is empty) and passed, and
    no integration test of staging failed since. An earlier pass does not count once staging
    was reset or changed again: staging then no longer shows what production would become."""
    digest = candidate.digest
    rule = "passed-staging-after-reset"
    remedy = (f"`python -m promotion deploy {digest} --env staging` (it resets staging to production's "
              "current state first) and let its checks pass, then promote it with nothing deployed to staging between")
    mine = [run for run in runs_of(records, "staging", digest) if run_passed(run, "staging", digest)]
    if not mine:
        why = f"candidate {digest[:12]} has no passing staging run (it skipped staging or failed there)"
        return [Refusal(rule, why, remedy)]
    ids = _staging_runs(records)
    last = [r for r in records if r.run_id == ids[-1]]
    if not (run_passed(last, "staging", digest) and any(r.purpose == "candidate" and r.candidate == digest
                                                        for r in last)):
        why = (f"candidate {digest[:12]} passed staging, but staging was changed since (latest run "
               f"{ids[-1][:12]}), so its pass no longer shows what production would become")
        return [Refusal(rule, why, remedy)]
    if not _reset_ok(last, production_state):
        base = production_state[:12] if production_state else "empty (first promotion)"
        why = (f"candidate {digest[:12]} passed staging, but not after a passing reset to production's current "
               f"state {base} (production changed since, or the reset failed)")
        return [Refusal(rule, why, remedy)]
    for record in last:
        if record.kind in ("deploy", "delete") and not record.extra.get("already_empty"):
            problem = verify(record)
            if problem:
                return [problem]
    run_end = max(r.seq for r in last)
    failed = [r for r in records if r.env == "staging" and r.kind == "test" and r.candidate == digest
              and r.seq > run_end and not r.passed]
    if failed:
        why = f"the integration tests of candidate {digest[:12]} in staging failed after its deploy ({failed[-1].detail})"
        return [Refusal(rule, why, remedy + " (and its integration tests)")]
    return []


def _reset_ok(run: list[Record], production_state: str | None) -> bool:
    """The run reset staging to `production_state` before its candidate, and the reset
    passed: deployed and checked, or (production empty) staging deleted."""
    deploys = [r for r in run if r.kind == "deploy" and r.purpose == "candidate"]
    if not deploys or deploys[-1].reset_base != production_state:
        return False
    resets = [r for r in run if r.purpose == "reset" and r.kind != "intent"]
    if not resets or not all(r.passed and r.reset_base == production_state for r in resets):
        return False
    kinds = {r.kind for r in resets}
    if production_state is None:
        return kinds == {"delete"} and all(r.candidate == NO_CANDIDATE for r in resets)
    return kinds == {"deploy", "check"}


def production_drift(state_label: str, lines: list[str], production: str) -> list[Refusal]:
    shown = "; ".join(lines)
    return [Refusal(
        "production-drift",
        f"production ({production}) does not run what the ledger recorded ({state_label}): someone changed it "
        f"outside the pipeline. recorded vs running: {shown}",
        "decide, then record it: `python -m promotion adopt-drift --reason TEXT` accepts what production runs as "
        "its state (staging's next reset carries it), or `python -m promotion restore --force` redeploys the "
        "recorded state to production; `python -m promotion diff-production` shows the difference",
    )]


_VERSION = re.compile(r"\d+(\.\d+)*")


def _version(text: object) -> tuple[int, ...] | None:
    s = str(text)
    return tuple(int(x) for x in s.split(".")) if _VERSION.fullmatch(s) else None


def no_downgrade(candidate: Candidate, production: dict[str, Any] | None, env: str) -> list[Refusal]:
    """A candidate older than what production runs (a release or the stemcell) is refused
    unless asked for explicitly: staging is reset to production, so the change it tests is
    production's version -> the candidate's."""
    if not production:
        return []
    running = {str(r.get("name")): r.get("version") for r in production.get("releases") or []}
    stemcells = [rp.get("stemcell") or {} for rp in production.get("resource_pools") or []]
    downs = []
    for r in candidate.releases:
        new, old = _version(r["version"]), _version(running.get(r["name"]))
        if new is not None and old is not None and new < old:
            downs.append(f"release {r['name']} {running[r['name']]} -> {r['version']}")
    sc = candidate.stemcell
    for s in stemcells:
        new, old = _version(sc.get("version")), _version(s.get("version"))
        if s.get("name") == sc.get("name") and new is not None and old is not None and new < old:
            downs.append(f"stemcell {s['name']} {s['version']} -> {sc['version']}")
    if not downs:
        return []
    return [Refusal("no-downgrade", f"candidate {candidate.digest[:12]} would take production back: "
                    f"{', '.join(sorted(set(downs)))}",
                    f"build a candidate with versions at least production's, or, if the downgrade is intended, "
                    f"`python -m promotion deploy {candidate.digest} --env {env} --allow-downgrade` (recorded in "
                    "the ledger)")]


def parity(diffs: list[Difference], allowed: list[str] | tuple[str, ...], policy_version: int = 0) -> list[Refusal]:
    bad = violations(diffs, allowed)
    if not bad:
        return []
    shown = "; ".join(d.render("staging", "production") for d in bad[:10])
    more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
    return [Refusal(
        "parity",
        f"production's manifest would differ from staging's beyond the per-environment paths the pipeline's "
        f"policy (version {policy_version}) allows ({', '.join(allowed)}): {shown}{more}",
        "make the difference part of the shared templates and take it through staging, or, if it is genuinely "
        "per-environment, record that decision: `python -m promotion policy allow-diff PATH --reason TEXT`",
    )]


def promotion_gates(candidate: Candidate, env: str, records: list[Record], production_state: str | None = None,
                    verify: Verify = _trust_all) -> list[Refusal]:
    """The ledger/candidate gates for deploying `candidate` to `env` (deploy.py adds the
    ones that need the director: bindings, drift, downgrade, parity)."""
    if env in DEV_ENVS:
        return []
    if env == "staging":
        return final_releases(candidate, env) + passed_dev(candidate, records, verify)
    if env == "production":
        return final_releases(candidate, env) + passed_staging_after_reset(candidate, records, production_state,
                                                                           verify)
    return [Refusal("known-environment", f"unknown environment {env!r}", "use dev1, dev2, staging or production")]
