"""The promotion gates: pure decisions from the candidate, the ledger and the manifests.

Each refusal names its rule and says what would satisfy it, so that a pipeline log alone
tells an engineer what to do next. Gates never talk to the director; deploy.py gathers
the facts and calls these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from promotion.candidate import Candidate, is_final
from promotion.ledger import NO_CANDIDATE, Record, run_passed, runs_of
from promotion.parity import Difference, violations

DEV_ENVS = ("dev1", "dev2")
GATED_ENVS = ("staging", "production")
FINAL_REMEDY = (
    "cut final releases, then build a new candidate with exact versions "
    "(e.g. `python -m promotion build --release redis=9.1 --stemcell-version 3147`) and take it through dev first"
)


@dataclass(frozen=True)
class Refusal:
    rule: str
    reason: str
    remedy: str

    def __str__(self) -> str:
        return f"refused by rule '{self.rule}': {self.reason}; to satisfy it: {self.remedy}"


class GateRefused(Exception):
    def __init__(self, refusals: list[Refusal]) -> None:
        self.refusals = refusals
        super().__init__("\n".join(str(r) for r in refusals))


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
    return [
        Refusal(
            "final-releases",
            f"{env} accepts only final releases and a stemcell with exact versions, but candidate "
            f"{candidate.digest[:12]} uses {', '.join(bad)}",
            FINAL_REMEDY,
        )
    ]


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


def passed_dev(candidate: Candidate, records: list[Record]) -> list[Refusal]:
    for env in DEV_ENVS:
        if any(run_passed(run, env, candidate.digest) for run in runs_of(records, env, candidate.digest)):
            return []
    return [
        Refusal(
            "passed-dev",
            f"candidate {candidate.digest[:12]} has no passing deploy and checks in dev1 or dev2",
            f"`python -m promotion deploy {candidate.digest} --env dev1` (or dev2) and let its checks pass",
        )
    ]


def _staging_runs(records: list[Record]) -> list[str]:
    """Run ids that changed staging (deploys, resets, deletes), oldest first."""
    ids: list[str] = []
    for r in records:
        if r.env == "staging" and r.kind in ("deploy", "check", "delete") and r.run_id not in ids:
            ids.append(r.run_id)
    return ids


def passed_staging_after_reset(
    candidate: Candidate, records: list[Record], production_current: str | None
) -> list[Refusal]:
    """Production takes the candidate only when the *latest* run on staging is this
    candidate's, it reset staging to production's current state (its candidate, or empty
    for a first promotion) and passed, and no integration test of staging failed since.
    An earlier pass does not count once staging was reset or changed again: staging then no
    longer shows what production would become."""
    digest = candidate.digest
    remedy = (f"`python -m promotion deploy {digest} --env staging` (it resets staging to production's "
              "current state first) and let its checks pass, then promote it with nothing deployed to staging between")
    base = production_current[:12] if production_current else "none (first promotion: staging reset to empty)"
    ids = _staging_runs(records)
    mine = [run for run in runs_of(records, "staging", digest) if run_passed(run, "staging", digest)]
    if not mine:
        why = f"candidate {digest[:12]} has no passing staging run (it skipped staging or failed there)"
        return [Refusal("passed-staging-after-reset", why, remedy)]
    last = [r for r in records if r.run_id == ids[-1]]
    if not (run_passed(last, "staging", digest) and any(r.purpose == "candidate" and r.candidate == digest
                                                        for r in last)):
        why = (f"candidate {digest[:12]} passed staging, but staging was changed since (latest run "
               f"{ids[-1][:12]}), so its pass no longer shows what production would become")
        return [Refusal("passed-staging-after-reset", why, remedy)]
    if not _reset_ok(last, production_current):
        why = (f"candidate {digest[:12]} passed staging, but not after a passing reset to production's current "
               f"candidate {base} (production changed since, or the reset failed)")
        return [Refusal("passed-staging-after-reset", why, remedy)]
    run_end = max(r.time for r in last)
    failed = [r for r in records if r.env == "staging" and r.kind == "test" and r.candidate == digest
              and r.time >= run_end and not r.passed]
    if failed:
        why = f"the integration tests of candidate {digest[:12]} in staging failed after its deploy ({failed[-1].detail})"
        return [Refusal("passed-staging-after-reset", why, remedy + " (and its integration tests)")]
    return []


def _reset_ok(run: list[Record], production_current: str | None) -> bool:
    """The run reset staging to `production_current` before its candidate, and the reset
    passed: deployed and checked, or (no production candidate) staging deleted."""
    deploys = [r for r in run if r.kind == "deploy" and r.purpose == "candidate"]
    if not deploys or deploys[-1].reset_base != production_current:
        return False
    resets = [r for r in run if r.purpose == "reset"]
    if not resets or not all(r.passed for r in resets):
        return False
    if production_current is None:
        return {(r.kind, r.candidate) for r in resets} == {("delete", NO_CANDIDATE)}
    return {(r.kind, r.candidate) for r in resets} == {("deploy", production_current), ("check", production_current)}


def parity(diffs: list[Difference], allowed: list[str] | tuple[str, ...]) -> list[Refusal]:
    bad = violations(diffs, allowed)
    if not bad:
        return []
    shown = "; ".join(d.render("staging", "production") for d in bad[:10])
    more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
    return [
        Refusal(
            "parity",
            f"production's manifest would differ from staging's beyond the allowed per-environment paths "
            f"({', '.join(allowed)}): {shown}{more}",
            "make the difference part of the shared templates and take it through staging, or, if it is "
            "genuinely per-environment, add its path to promotion.allowed_diff_paths",
        )
    ]


def check(
    candidate: Candidate,
    env: str,
    records: list[Record],
    production_current: str | None = None,
) -> list[Refusal]:
    """All ledger/candidate gates for deploying `candidate` to `env` (parity and the rendered
    manifest are checked by deploy.py, which has the director)."""
    if env in DEV_ENVS:
        return []
    if env == "staging":
        return final_releases(candidate, env) + passed_dev(candidate, records)
    if env == "production":
        return final_releases(candidate, env) + passed_staging_after_reset(candidate, records, production_current)
    return [Refusal("known-environment", f"unknown environment {env!r}", "use dev1, dev2, staging or production")]
