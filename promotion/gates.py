"""The promotion gates: pure decisions from the candidate, the ledger and the manifests.

Each refusal names its rule and says what would satisfy it, so that a pipeline log alone
tells an engineer what to do next. Gates never talk to the director; deploy.py gathers
the facts and calls these functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from promotion.candidate import Candidate
from promotion.ledger import Record, run_passed, runs_of
from promotion.parity import Difference, violations

DEV_ENVS = ("dev1", "dev2")


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
    bad = candidate.non_final_releases()
    if not bad:
        return []
    return [
        Refusal(
            "final-releases",
            f"{env} accepts only final releases with exact versions, but candidate "
            f"{candidate.digest[:12]} uses {', '.join(bad)}",
            "cut final releases, then build a new candidate with exact versions "
            "(e.g. `python -m promotion build --release redis=9.1`) and take it through dev first",
        )
    ]


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


def passed_staging_after_reset(
    candidate: Candidate, records: list[Record], production_current: str | None
) -> list[Refusal]:
    runs = runs_of(records, "staging", candidate.digest)
    good = [run for run in runs if run_passed(run, "staging", candidate.digest) and _reset_ok(run, production_current)]
    if good:
        return []
    base = production_current[:12] if production_current else "none (first production deploy)"
    if any(run_passed(run, "staging", candidate.digest) for run in runs):
        why = (
            f"candidate {candidate.digest[:12]} passed staging, but not after a reset to production's "
            f"current candidate {base} (production changed since, or the reset failed)"
        )
    else:
        why = f"candidate {candidate.digest[:12]} has no passing staging run (it skipped staging or failed there)"
    return [
        Refusal(
            "passed-staging-after-reset",
            why,
            f"`python -m promotion deploy {candidate.digest} --env staging` (it resets staging to production's "
            "candidate first) and let its checks pass",
        )
    ]


def _reset_ok(run: list[Record], production_current: str | None) -> bool:
    deploys = [r for r in run if r.kind == "deploy" and r.purpose == "candidate"]
    if not deploys or deploys[-1].reset_base != production_current:
        return False
    if production_current is None:
        return True
    resets = [r for r in run if r.purpose == "reset"]
    return bool(resets) and all(r.passed for r in resets) and {r.kind for r in resets} >= {"deploy", "check"}


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
    """All ledger/candidate gates for deploying `candidate` to `env` (parity is separate)."""
    if env in DEV_ENVS:
        return []
    if env == "staging":
        return final_releases(candidate, env) + passed_dev(candidate, records)
    if env == "production":
        return final_releases(candidate, env) + passed_staging_after_reset(candidate, records, production_current)
    return [Refusal("known-environment", f"unknown environment {env!r}", "use dev1, dev2, staging or production")]
