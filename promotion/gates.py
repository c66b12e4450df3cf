"""The promotion gates: decisions from the candidate, the verified ledger and facts that
deploy.py gathers from the director.

Each gate is a function returning refusals (rule, why, what would satisfy it); none of them
talks to the director itself. Where a gate relies on a ledger record (a dev run, a staging
run), it asks `verify` (promotion/tasks.py, bound to the right director by deploy.py) before
trusting it, and refuses naming the record when the director disagrees. A gate that needs
facts from the director gets them as arguments from deploy.py (the release contents
`final_from_tested_dev` compares, the production manifest `no_downgrade` reads); a new gate
is one more function here and one more line in `promotion_gates` or in deploy.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from promotion.candidate import Candidate, is_final
from promotion.ledger import NO_CANDIDATE, Record, run_passed, runs_of, unfinished_intents
from promotion.parity import Difference, violations
from promotion.refusal import GateRefused, Refusal
from promotion.releases import ReleaseContents, ReleaseContentsError

DEV_ENVS = ("dev1", "dev2")
GATED_ENVS = ("staging", "production")
FINAL_REMEDY = (
    "cut final releases, then build a new candidate with exact versions "
    "(e.g. `python -m promotion build --release redis=9.1 --stemcell-version 3147`) and take it through dev first"
)
Verify = Callable[[Record], Refusal | None]
# confirms with the director of a record's environment the release contents the record claims
ConfirmRelease = Callable[[Record, ReleaseContents], Refusal | None]
TESTED_DEV = "final-from-tested-dev"

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
    any such candidate, not only the newest, once the director confirms that run's deploys.
    One run the director confirms is enough: an older run whose task the director has
    pruned (or a forged one) must not block a fresh one; refused with why each was not."""
    passing = [run for env in DEV_ENVS for run in runs_of(records, env, candidate.digest)
               if run_passed(run, env, candidate.digest)]
    problems: list[Refusal] = []
    for run in passing:
        run_problems = [p for p in (verify(r) for r in run if r.kind == "deploy") if p is not None]
        if not run_problems:
            return []
        problems += run_problems
    if problems:
        return problems
    return [Refusal("passed-dev", f"candidate {candidate.digest[:12]} has no passing deploy and checks in dev1 or dev2",
                    f"`python -m promotion deploy {candidate.digest} --env dev1` (or dev2) and let its checks pass")]


def tested_dev_releases(records: list[Record]) -> list[tuple[Record, ReleaseContents]]:
    """Dev builds (versions that are not final, e.g. `1+dev.3`) that a passing run in dev1 or
    dev2 deployed (its deploy and its checks passed), newest first, each with the deploy
    record that says what the director ran (read from the director right after the task).
    Finals that ran in dev do not count: a final is cut from a tested dev build, and a final
    nobody developed would otherwise test itself. Nothing here is confirmed yet: callers ask
    `verify` (the director task) and `confirm` (the release on the dev director) first."""
    by_run: dict[str, list[Record]] = {}
    for r in records:
        by_run.setdefault(r.run_id, []).append(r)
    out = []
    for record in reversed(records):
        if (record.kind != "deploy" or record.env not in DEV_ENVS or record.purpose != "candidate"
                or not record.passed or record.extra.get("recovered")):
            continue
        if not run_passed(by_run[record.run_id], record.env, record.candidate):
            continue
        for doc in record.extra.get("releases") or []:
            try:
                contents = ReleaseContents.from_doc(doc)
            except ReleaseContentsError:
                continue
            if contents.is_dev:
                out.append((record, contents))
    return out


def first_confirmed(tested: list[tuple[Record, ReleaseContents]], wanted: Callable[[ReleaseContents], bool],
                    verify: Verify, confirm: ConfirmRelease
                    ) -> tuple[tuple[Record, ReleaseContents] | None, list[Refusal]]:
    """The newest tested dev build that `wanted` accepts and whose run the director confirms
    (task and release), or None with why each wanted build was not trusted. One way to trust
    a tested dev build, for the gate (a final's fingerprints) and for finalize (a name)."""
    problems = []
    for record, contents in tested:
        if not wanted(contents):
            continue
        problem = verify(record) or confirm(record, contents)
        if problem is None:
            return (record, contents), []
        problems.append(problem)
    return None, problems


def final_from_tested_dev(env: str, finals: Mapping[tuple[str, str], ReleaseContents | None], director: str,
                          records: list[Record], verify: Verify, confirm: ConfirmRelease) -> list[Refusal]:
    """Each final release of the candidate, as the environment's director holds it
    (`finals`: (name, version) -> its contents, None when the director does not have it),
    has the jobs' and packages' fingerprints of a dev build that passed dev1 or dev2, and the
    director of that run confirms both the run's task and the dev build's fingerprints. The
    version string plays no part: a final named like a tested build, or cut from changed
    sources, differs in its fingerprints."""
    tested = tested_dev_releases(records)
    remedy = ("cut the final release from a dev release that passed dev1 or dev2: `python -m promotion finalize "
              "--release-dir DIR --dev-release NAME/VERSION`; if the jobs or packages changed since, create a dev "
              "release of them (`bosh create-release`), deploy a candidate that uses it to dev1 or dev2, let its "
              "checks pass, and finalize that one")
    out = []
    for (name, version), final in finals.items():
        if not is_final(version):
            continue  # rule final-releases names it
        where = f"final release {name}/{version} on {env}'s director {director}"
        if final is None:
            out.append(Refusal(TESTED_DEV, f"{where} is not there, so its fingerprints cannot be compared with a "
                               "tested dev release", "upload it (`python -m promotion finalize` uploads what it "
                               "cuts to every environment's director), then deploy again"))
            continue
        blank = final.unfingerprinted()
        if blank:
            out.append(Refusal(TESTED_DEV, f"{where} has no fingerprint for {', '.join(blank)}, so nothing proves "
                               "it equal to a tested dev release", remedy))
            continue
        match, problems = first_confirmed(tested, lambda t, f=final: t.name == f.name and t.same_contents(f),
                                          verify, confirm)
        if match is not None:
            continue
        if problems:
            out += problems
            continue
        same_name = [(r, t) for r, t in tested if t.name == name]
        if not same_name:
            why = (f"{where} has fingerprints no tested dev release has: no dev release of {name} passed dev1 or "
                   "dev2 (deploy and checks)")
        else:
            record, closest = max(same_name, key=lambda rt: rt[1].matching(final))  # the newest of the closest
            why = (f"{where} has fingerprints no dev release that passed dev1 or dev2 has; the closest, dev release "
                   f"{closest.label} (passed {record.env}, ledger #{record.seq}, commit {closest.commit_hash or '?'}), "
                   f"differs: {'; '.join(final.differences(closest, 'final', 'tested dev'))}")
        out.append(Refusal(TESTED_DEV, why, remedy))
    return out


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
        deploys = [r for r in last if r.kind == "deploy" and r.purpose == "candidate"]
        seen = (deploys[-1].reset_base or "empty")[:12] if deploys else "none"
        why = (f"candidate {digest[:12]} passed staging in run {ids[-1][:12]} (ledger #{max(r.seq for r in last)}), "
               f"but not after a passing reset to production's current state {base}: that run reset staging to "
               f"{seen} (production changed since, or the reset failed)")
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
