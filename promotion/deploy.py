"""The promotion flow: policy and bindings, gates, lock, staging reset, deploy, checks, ledger.

`Promoter.deploy(digest, env)` is what `python -m promotion deploy` runs. The director
clients are the project's `helpers.bosh.Director` (duck-typed here: `uuid()`, `deploy(yaml)`,
`delete_deployment(name)`, `deployment_manifest(name)`, `instances_full(name)`, `task(id)`,
`locks()`, `deployments()`, `releases()`, `release(name, version)`), one per environment when
environments live on different directors, so tests can also hand in a fake one. Only what
the 2015 and the 2016 directors both offer is used.

Intent before action: every director task is announced by an `intent` record (deployment,
director, digest of the manifest) before it starts, and completed by a `deploy`/`delete`
record with the director's facts about the task after it ended. A crash in between leaves
an intent nobody completed, which every later command reports (rule `unfinished-intent`)
until `recover` has looked at the director and recorded what happened.
"""

from __future__ import annotations

import functools
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from helpers.net import REDACTOR
from promotion import candidate as cand
from promotion import drift, gates, tasks
from promotion import policy as pol
from promotion import releases as rel
from promotion.checks import (
    CheckReport,
    CheckResult,
    ResolveFn,
    Sentinel,
    check_sentinel,
    run_checks,
    target_from,
    write_sentinel,
)
from promotion.ledger import NO_CANDIDATE, Ledger, Record, unfinished_intents
from promotion.lock import LOCKED_ENVS, EnvLock, LockHeld, read_holder
from promotion.manifest import render, render_all
from promotion.parity import diff, normalize, public_view
from promotion.refusal import GateRefused, Refusal
from promotion.store import Store

ENVS = cand.ENVIRONMENTS
UNBOUND = "unbound-director"  # the uuid a build renders with: any candidate value but this one is its own


class PromotionFailed(Exception):
    """A deploy or its checks failed (already recorded in the ledger)."""


class NotDeployed(Exception):
    """`diff` was asked about an environment that runs nothing."""


@dataclass
class Promoter:
    store: Store
    director: Any  # the director of every environment not in env_directors
    resolve: ResolveFn
    passwords: dict[str, str] = field(default_factory=dict)  # env -> redis password (else kept/generated)
    out: Callable[[str], None] = print
    replication_wait: float = 10.0
    env_directors: Mapping[str, Any] = field(default_factory=dict)
    stated_allowed_diff_paths: tuple[str, ...] | None = None  # what the caller's config states, if anything
    stated_environments: Mapping[str, Mapping[str, Any]] | None = None

    @functools.cached_property
    def ledger(self) -> Ledger:
        """One ledger per promoter: records read once in this process are not fetched again."""
        return Ledger(self.store)

    def director_for(self, env: str) -> Any:
        return self.env_directors.get(env, self.director)

    def _say(self, message: str) -> None:
        self.out(REDACTOR.redact(message))

    # ------------------------------------------------------------------ reading

    def load(self, digest: str) -> cand.Candidate:
        return cand.load(self.store, digest)

    def policy(self, records: list[Record] | None = None) -> pol.Policy:
        return pol.current(self.ledger.records() if records is None else records)

    @property
    def allowed_diff_paths(self) -> tuple[str, ...]:
        return self.policy().allowed_diff_paths

    def deployed_manifest(self, name: str, env: str | None = None) -> dict[str, Any] | None:
        """The manifest the director runs for `name`, or None when there is no such
        deployment (404). Any other director error propagates: "cannot tell" must never be
        taken for "not deployed" (the staging reset would then skip a deletion)."""
        director = self.director_for(env) if env else self.director
        try:
            text = director.deployment_manifest(name)
        except Exception as exc:
            if getattr(exc, "status", None) == 404:
                return None
            raise
        if isinstance(text, dict):
            text = text.get("manifest", text)
        data = yaml.safe_load(text) if isinstance(text, str) else text
        return data if isinstance(data, dict) and data else None

    def _password(self, env: str, name: str) -> str:
        """The Redis password: given (REDIS_PASSWORD_<ENV>), else the one the deployment
        already runs with (so a redeploy never changes it), else a new random one. It is
        registered with the project's redactor so no log line can show it."""
        password = self.passwords.get(env)
        if not password:
            current = self.deployed_manifest(name, env)
            for job in (current or {}).get("jobs", []):
                pw = (job.get("properties", {}).get("redis", {}) or {}).get("password")
                if pw:
                    password = str(pw)
                    break
        password = password or secrets.token_urlsafe(18)
        REDACTOR.register(password)
        return password

    def manifest_for(self, c: cand.Candidate, env: str, policy: pol.Policy | None = None) -> dict[str, Any]:
        """What `c` deploys to `env`: its templates, the environment's bound director and
        the environment's password."""
        policy = policy or self.policy()
        name = policy.binding(env).deployment
        return render(c, env, str(self.director_for(env).uuid()), self._password(env, name))

    def verifier(self, records: list[Record], policy: pol.Policy) -> gates.Verify:
        """Confirms a deploy or delete record with its environment's director (the task)."""
        return lambda record: tasks.verify(record, self.director_for(record.env), records, policy)

    def release_confirmer(self) -> gates.ConfirmRelease:
        """Confirms the release contents a deploy record claims with its environment's director."""
        return lambda record, contents: tasks.confirm_release(record, contents, self.director_for(record.env))

    def release_contents(self, env: str, deployment: str) -> dict[str, Any]:
        """What a deployment runs, for its deploy record: each release version the director
        resolved for it, with its jobs' and packages' fingerprints and commit (the evidence
        `final-from-tested-dev` compares a final release with). A failure to read is recorded
        instead: such a run never vouches for a release."""
        director = self.director_for(env)
        try:
            return {"releases": [rel.from_director(director, name, version).to_doc()
                                 for name, version in rel.deployed_versions(director, deployment)]}
        except Exception as exc:
            return {"releases_unread": REDACTOR.redact(f"{type(exc).__name__}: {exc}")}

    def final_releases_on(self, c: cand.Candidate, env: str) -> dict[tuple[str, str], rel.ReleaseContents | None]:
        """The candidate's final releases as the environment's director holds them (None:
        not there). The gate reads the release itself, never trusting its name and version."""
        director = self.director_for(env)
        out: dict[tuple[str, str], rel.ReleaseContents | None] = {}
        for r in c.releases:
            name, version = str(r["name"]), str(r["version"])
            if not cand.is_final(version):
                continue
            try:
                out[(name, version)] = rel.from_director(director, name, version)
            except Exception as exc:
                if getattr(exc, "status", None) != 404:
                    raise
                out[(name, version)] = None
        return out

    # ------------------------------------------------------------------ one director task

    def _task(self, env: str, call: Callable[..., Any], *args: Any) -> tuple[str, dict[str, Any] | None, str]:
        """Run one director task: (outcome, the director's facts about it, redacted detail).
        Any failure is an outcome to record, not a crash: the ledger must say what happened."""
        director = self.director_for(env)
        try:
            result = call(*args)
        except Exception as exc:
            task_id = getattr(exc, "task_id", None)
            detail = REDACTOR.redact(f"{type(exc).__name__}: {exc}")
            outcome = "failed"
        else:
            task_id = getattr(result, "id", None) or getattr(result, "task_id", None)
            detail, outcome = "", "passed"
        facts = None
        if task_id is not None:
            try:
                facts = tasks.facts(director, task_id)
            except Exception as exc:  # recorded without facts: the gates will not trust it
                detail += REDACTOR.redact(f" (task {task_id} could not be read back: {type(exc).__name__})")
                facts = {"id": task_id}
        return outcome, facts, detail

    def _intent(self, c_digest: str, env: str, run_id: str, purpose: str, action: str, name: str,
                manifest_digest: str | None, reset_base: str | None, extra: dict[str, Any]) -> Record:
        return self.ledger.append(Record(
            c_digest, env, "intent", "started", run_id, purpose=purpose, reset_base=reset_base, deployment=name,
            director_uuid=str(self.director_for(env).uuid()), manifest_digest=manifest_digest,
            extra={"action": action, **extra}))

    def _sentinel_before(self, env: str, name: str) -> Sentinel | None:
        """A key written on the deployment's leader before its deploy. None when there is no
        data to keep: nothing runs there, or nothing the ledger saw pass (the leftovers of a
        failed first deploy)."""
        before = self.deployed_manifest(name, env)
        if before is None or drift.state_of(self.ledger.records(), env) is None:
            return None
        try:
            target = target_from(before, self.director_for(env).instances_full(name))
        except Exception as exc:
            return Sentinel("", "", False, f"could not find the leader before the deploy ({type(exc).__name__})")
        return write_sentinel(target, self.resolve)

    def _deploy_and_check(self, c: cand.Candidate, env: str, run_id: str, purpose: str, manifest: dict[str, Any],
                          reset_base: str | None = None, extra: dict[str, Any] | None = None) -> bool:
        name = str(manifest["name"])
        director = self.director_for(env)
        self._say(f"deploying candidate {c.digest[:12]} to {env} (deployment {name}, {purpose})")
        sentinel = self._sentinel_before(env, name)
        digest = drift.manifest_digest(manifest)
        intent = self._intent(c.digest, env, run_id, purpose, "deploy", name, digest, reset_base, extra or {})
        outcome, facts, detail = self._task(env, director.deploy, yaml.safe_dump(manifest, sort_keys=False))
        common = dict(purpose=purpose, reset_base=reset_base, deployment=name, director_uuid=intent.director_uuid,
                      manifest_digest=digest)
        contents = self.release_contents(env, name) if outcome == "passed" else {}
        self.ledger.append(Record(c.digest, env, "deploy", outcome, run_id, task=facts, intent=intent.seq,
                                  detail=detail, extra=contents, **common))
        task_id = (facts or {}).get("id")
        if outcome != "passed":
            self._say(f"deploy of {c.digest[:12]} to {env} failed (task {task_id}): {detail}")
            return False
        try:
            report = self.check(env, manifest)
            if sentinel is not None:
                report = CheckReport((*report.results, self._sentinel_result(env, manifest, sentinel)))
        except Exception as exc:
            report = CheckReport((CheckResult("checks ran", False, REDACTOR.redact(f"{type(exc).__name__}: {exc}")),))
        self.ledger.append(Record(c.digest, env, "check", "passed" if report.passed else "failed", run_id,
                                  task=facts, detail=report.summary(), **common))
        self._say(f"checks of {c.digest[:12]} in {env}: {report.summary()}")
        return report.passed

    def _sentinel_result(self, env: str, manifest: dict[str, Any], sentinel: Sentinel) -> CheckResult:
        if not sentinel.written and env in gates.DEV_ENVS:
            # a broken dev deployment must stay fixable by the next candidate
            return CheckResult("data survived the deploy", True, f"not checked: {sentinel.detail}")
        target = target_from(manifest, self.director_for(env).instances_full(str(manifest["name"])))
        return check_sentinel(target, self.resolve, sentinel, wait=self.replication_wait)

    def check(self, env: str, manifest: dict[str, Any]) -> CheckReport:
        instances = self.director_for(env).instances_full(str(manifest["name"]))
        return run_checks(target_from(manifest, instances), self.resolve, wait=self.replication_wait)

    def _reset_to_empty(self, run_id: str, name: str) -> bool:
        """First promotion: production runs nothing yet, so it will get a fresh create. Staging
        is reset to the same state, empty, so that its candidate deploy is that same create."""
        common = dict(purpose="reset", deployment=name)
        if self.deployed_manifest(name, "staging") is None:
            self.ledger.append(Record(NO_CANDIDATE, "staging", "delete", "passed", run_id, detail=f"{name} was "
                                      "already empty", director_uuid=str(self.director_for("staging").uuid()),
                                      extra={"already_empty": True}, **common))
            return True
        self._say(f"production has no candidate yet: deleting {name} so staging starts empty like production")
        intent = self._intent(NO_CANDIDATE, "staging", run_id, "reset", "delete", name, None, None, {})
        outcome, facts, detail = self._task("staging", self.director_for("staging").delete_deployment, name)
        self.ledger.append(Record(NO_CANDIDATE, "staging", "delete", outcome, run_id, task=facts, intent=intent.seq,
                                  detail=detail, director_uuid=intent.director_uuid, **common))
        return outcome == "passed"

    # ------------------------------------------------------------------ the gated flow

    def deploy(self, digest: str, env: str, allow_downgrade: bool = False) -> str:
        """Deploy with every gate; returns the run id. Raises GateRefused, LockHeld,
        CandidateError, LedgerBroken or PromotionFailed."""
        if env not in ENVS:
            raise GateRefused([Refusal("known-environment", f"unknown environment {env!r}",
                                       f"use one of {', '.join(ENVS)}")])
        c = self.load(digest)
        watched = (env,) if env not in LOCKED_ENVS else LOCKED_ENVS
        refusals = gates.unfinished(self.ledger.records(), watched)
        if refusals:
            raise GateRefused(refusals)
        run_id = uuid.uuid4().hex
        if env in LOCKED_ENVS:
            # the lock is released on every way out: refusal, failed deploy, failed checks
            with EnvLock(self.store, env, run_id, digest):
                self._gated(c, env, run_id, allow_downgrade)
        else:
            self._gated(c, env, run_id, allow_downgrade)
        return run_id

    def _binding_refusals(self, c: cand.Candidate, env: str, policy: pol.Policy) -> list[Refusal]:
        """The environment's director is the bound one, and every environment's manifest
        from this candidate names its own bound deployment and no director of its own."""
        out = []
        binding = policy.binding(env)
        uuid_now = str(self.director_for(env).uuid())
        stated = ((self.stated_environments or {}).get(env) or {}).get("director_uuid")
        bound = binding.director_uuid or stated
        if bound is not None and bound != uuid_now:
            source = "bound by the pipeline's policy" if binding.director_uuid else "stated by the config"
            out.append(Refusal("bound-director", f"{env} is {source} to director {bound}, but this command's director "
                               f"for {env} is {uuid_now}",
                               f"point the config's director for {env} (bosh, or promotion.environments.{env}.bosh) "
                               f"at director {bound}; to move {env}, record it: `python -m promotion policy bind "
                               f"{env} --director-uuid UUID --reason TEXT`"))
        uuids = {e: (str(self.director_for(e).uuid()) if e == env else (policy.binding(e).director_uuid or UNBOUND))
                 for e in c.environments}
        return out + pol.render_refusals(render_all(c, uuids, "password-not-rendered"), policy, uuids,
                                         f"candidate {c.digest[:12]}")

    def _gated(self, c: cand.Candidate, env: str, run_id: str, allow_downgrade: bool) -> None:
        records = self.ledger.records()
        policy = pol.current(records)
        refusals = pol.config_conflicts(policy, self.stated_allowed_diff_paths, self.stated_environments)
        refusals += gates.unfinished(records, (env,) if env not in LOCKED_ENVS else LOCKED_ENVS)
        refusals += self._binding_refusals(c, env, policy)
        if refusals:
            raise GateRefused(refusals)
        manifest = self.manifest_for(c, env, policy)
        prod_state = drift.state_of(records, "production")
        downgrade: list[Refusal] = []
        if env in gates.GATED_ENVS:
            production = self.deployed_manifest(policy.binding("production").deployment, "production")
            if not gates.final_releases(c, env):  # the same rule, on what the templates render
                refusals += gates.pinned_manifest(manifest, env)
            refusals += self._production_refusals(records, policy, prod_state, production)
            downgrade = gates.no_downgrade(c, production, env)
            if not allow_downgrade:
                refusals += downgrade
            refusals += gates.promotion_gates(c, env, records, prod_state.manifest_digest if prod_state else None,
                                              self.verifier(records, policy))
            refusals += gates.final_from_tested_dev(env, self.final_releases_on(c, env),
                                                    str(self.director_for(env).uuid()), records,
                                                    self.verifier(records, policy), self.release_confirmer())
        if env == "production" and not refusals:
            refusals += self._parity_refusals(c, policy)
        if refusals:
            raise GateRefused(refusals)
        self._bind_on_first_deploy(env, policy)
        extra = {"downgrade": [r.reason for r in downgrade], "allowed_by": "--allow-downgrade"} if downgrade else {}
        if downgrade:
            self._say(f"downgrade allowed explicitly (recorded): {'; '.join(r.reason for r in downgrade)}")
        reset_base = None
        if env == "staging":
            reset_base = prod_state.manifest_digest if prod_state else None
            if not self._reset_staging(run_id, policy, prod_state):
                raise PromotionFailed(f"staging reset to production's state ({(reset_base or 'empty')[:12]}) failed; "
                                      "the candidate was not deployed (see the ledger)")
        if env == "production":
            self._say_changes(policy, manifest)
        if not self._deploy_and_check(c, env, run_id, "candidate", manifest, reset_base, extra):
            raise PromotionFailed(f"candidate {c.digest[:12]} failed in {env} (see the ledger)")

    def _production_refusals(self, records: list[Record], policy: pol.Policy, state: drift.EnvState | None,
                             production: dict[str, Any] | None) -> list[Refusal]:
        """Production is the source of truth: it must run what the ledger recorded (or, when
        the ledger has nothing, nothing at all)."""
        name = policy.binding("production").deployment
        if state is None:
            tried = any(r.env == "production" and r.kind in ("intent", "deploy") for r in records)
            if production is None or tried:
                return []
            return [Refusal(
                "known-production",
                f"the director runs {name}, but this ledger ({self.store.url}) records no candidate deployed to "
                "production, so staging cannot be reset to what production runs",
                "use the store whose ledger deployed it (--store / promotion.store), or, deliberately, delete "
                f"{name} on the director so that the first promotion creates it",
            )]
        if not drift.drifted(state, production):
            return []
        return gates.production_drift(state.describe(), self.drift_lines(policy, state, production), name)

    def drift_lines(self, policy: pol.Policy, state: drift.EnvState, production: dict[str, Any] | None) -> list[str]:
        rendered = render(self.load(state.candidate), "production", str(self.director_for("production").uuid()), "")
        return drift.drift_lines(drift.expected_public(state, rendered), production)

    def _bind_on_first_deploy(self, env: str, policy: pol.Policy) -> None:
        """An environment without a recorded director is bound to the one it is first
        deployed to, as a recorded policy change (from then on another director is refused)."""
        if policy.binding(env).director_uuid is not None:
            return
        uuid_now = str(self.director_for(env).uuid())

        def bind(p: pol.Policy) -> pol.Policy:
            if p.binding(env).director_uuid is not None:
                return p  # bound meanwhile (the gates checked it against this director before)
            return pol.with_change(p, bind={env: pol.Binding(p.binding(env).deployment, uuid_now)})

        old, new, record = pol.record_change(self.ledger, bind, f"{env} bound to director {uuid_now} at its first deploy")
        if record is not None:
            self._say(f"policy version {new.version} recorded (ledger #{record.seq}): {'; '.join(pol.changed(old, new))}")

    def _reset_staging(self, run_id: str, policy: pol.Policy, state: drift.EnvState | None) -> bool:
        """Staging becomes what production runs: empty, or production's candidate rendered for
        staging with production's adopted drift carried over."""
        name = policy.binding("staging").deployment
        if state is None:
            return self._reset_to_empty(run_id, name)
        prod_c = self.load(state.candidate)
        staging = self.manifest_for(prod_c, "staging", policy)
        production = render(prod_c, "production", str(self.director_for("production").uuid()), "")
        changes = drift.adopted_changes(state, production, policy.allowed_diff_paths)
        shown = "; ".join(d.render("candidate", "adopted") for d in changes)
        self._say(f"resetting staging to production's state: {state.describe()}"
                  + (f", carrying the adopted drift ({shown})" if changes else ""))
        manifest = drift.reset_manifest(staging, changes)
        return self._deploy_and_check(prod_c, "staging", run_id, "reset", manifest, state.manifest_digest,
                                      {"adopted_changes": [d.dotted for d in changes]} if changes else None)

    def _say_changes(self, policy: pol.Policy, manifest: dict[str, Any]) -> None:
        """What production is about to get, so that no change to it is silent."""
        running = self.deployed_manifest(policy.binding("production").deployment, "production")
        if running is None:
            self._say("production is created by this deploy")
            return
        changes = diff(public_view(running), public_view(manifest))
        lines = [d.render("running", "candidate") for d in changes]
        self._say(f"production changes: {'; '.join(lines) if lines else 'none (templates only)'}")

    def _parity_refusals(self, c: cand.Candidate, policy: pol.Policy) -> list[Refusal]:
        diffs = self.parity_diff(c, policy)
        if diffs is None:
            return [Refusal(
                "parity", f"staging's deployment {policy.binding('staging').deployment} is not on the director, so "
                "there is nothing to compare production's manifest with",
                f"`python -m promotion deploy {c.digest} --env staging` and let its checks pass")]
        return gates.parity(diffs, policy.allowed_diff_paths, policy.version)

    def parity_diff(self, c: cand.Candidate, policy: pol.Policy | None = None) -> list | None:
        """Staging as deployed (the production gate has made sure it runs candidate `c`,
        deployed by the latest staging run) versus what production would get from `c`.
        None when staging's deployment is missing on the director."""
        policy = policy or self.policy()
        staging = self.deployed_manifest(policy.binding("staging").deployment, "staging")
        if staging is None:
            return None
        return diff(normalize(staging), normalize(self.manifest_for(c, "production", policy)))

    def diff_envs(self, left: str, right: str, digest: str | None = None) -> list:
        """Differences between two environments: as deployed now, or as candidate `digest`
        would deploy them."""
        policy = self.policy()
        if digest:
            c = self.load(digest)
            return diff(normalize(self.manifest_for(c, left, policy)), normalize(self.manifest_for(c, right, policy)))
        manifests = []
        for env in (left, right):
            name = policy.binding(env).deployment
            m = self.deployed_manifest(name, env)
            if m is None:
                raise NotDeployed(f"deployment {name} ({env}) is not on the director; deploy a candidate there "
                                  "first, or compare what a candidate would deploy with --candidate DIGEST")
            manifests.append(m)
        return diff(normalize(manifests[0]), normalize(manifests[1]))

    # ------------------------------------------------------------------ decisions about production

    def production_drift(self) -> tuple[drift.EnvState | None, dict[str, Any] | None, list[str]]:
        """(production's recorded state, what it runs, the difference; empty when none)."""
        records = self.ledger.records()
        policy = pol.current(records)
        state = drift.state_of(records, "production")
        running = self.deployed_manifest(policy.binding("production").deployment, "production")
        if state is None or not drift.drifted(state, running):
            return state, running, []
        return state, running, self.drift_lines(policy, state, running)

    def adopt_drift(self, reason: str) -> Record:
        """Production's drift becomes its recorded state: a decision, with its reason."""
        run_id = uuid.uuid4().hex
        with EnvLock(self.store, "production", run_id, NO_CANDIDATE):
            refusals = gates.unfinished(self.ledger.records(), LOCKED_ENVS)
            if refusals:  # production may run a half-finished task, not a drift to accept
                raise GateRefused(refusals)
            state, running, lines = self.production_drift()
            name = self.policy().binding("production").deployment
            if state is None:
                raise GateRefused([Refusal("production-drift", "the ledger records no production state to adopt a "
                                           "drift from", "promote a candidate to production first")])
            if running is None:
                raise GateRefused([Refusal("production-drift", f"{name} is not on the director: there is nothing to "
                                           "adopt", "`python -m promotion restore --force` recreates it")])
            if not lines:
                raise GateRefused([Refusal("production-drift", f"{name} runs what the ledger recorded: there is no "
                                           "drift to adopt", "nothing to do")])
            record = self.ledger.append(Record(
                state.candidate, "production", "adopt", "recorded", run_id, deployment=name,
                director_uuid=str(self.director_for("production").uuid()), manifest_digest=drift.manifest_digest(running),
                detail=f"{reason}: {'; '.join(lines)}", extra={"manifest": public_view(running), "reason": reason}))
        self._say(f"production's drift adopted as its state (ledger #{record.seq}): {'; '.join(lines)}")
        return record

    def restore(self) -> str:
        """Redeploy production's recorded state (its candidate plus adopted drift), reverting
        a drift deliberately. Returns the run id."""
        run_id = uuid.uuid4().hex
        with EnvLock(self.store, "production", run_id, NO_CANDIDATE):
            records = self.ledger.records()
            refusals = gates.unfinished(records, LOCKED_ENVS)
            policy = pol.current(records)
            state = drift.state_of(records, "production")
            if state is None:
                refusals.append(Refusal("production-drift", "the ledger records no production state to restore",
                                        "promote a candidate to production"))
            if refusals:
                raise GateRefused(refusals)
            assert state is not None
            c = self.load(state.candidate)
            manifest = self.manifest_for(c, "production", policy)
            rendered = render(c, "production", str(self.director_for("production").uuid()), "")
            changes = drift.adopted_changes(state, rendered, ())
            manifest = drift.reset_manifest(manifest, changes)
            if drift.manifest_digest(manifest) != state.manifest_digest:
                raise PromotionFailed(f"the recorded state of production ({state.describe()}) cannot be rebuilt "
                                      "exactly from its candidate; nothing was deployed")
            self._say_changes(policy, manifest)
            if not self._deploy_and_check(c, "production", run_id, "restore", manifest):
                raise PromotionFailed(f"restoring production to {state.describe()} failed (see the ledger)")
        return run_id

    def recover(self, env: str, task_id: int | None = None) -> list[Record]:
        """Complete the intents a crashed run left in `env` with what the director shows, and
        release that run's lock. Refused while the director still holds the deployment's lock
        (the task, and maybe the run, is still going)."""
        records = self.ledger.records()
        open_intents = unfinished_intents(records, (env,))
        director = self.director_for(env)
        done = []
        for intent in open_intents:
            held = [lk for lk in director.locks() if lk.get("type") == "deployment"
                    and intent.deployment in (lk.get("resource") or [])]
            if held:
                raise GateRefused([Refusal("unfinished-intent", f"the director still holds the lock of "
                                           f"{intent.deployment}: a task is still changing it",
                                           "wait for the task to end, then run recover again")])
            running = self.deployed_manifest(str(intent.deployment), env)
            if intent.extra.get("action") == "delete":
                happened = running is None
            else:
                happened = running is not None and drift.manifest_digest(running) == intent.manifest_digest
            facts = None
            if task_id is not None:
                facts = tasks.facts(director, task_id)
                if facts.get("result") not in (None, f"/deployments/{intent.deployment}") and facts.get("state") == "done":
                    raise GateRefused([Refusal("director-task", f"task {task_id} changed {facts.get('result')}, not "
                                               f"{intent.deployment}", "pass the task of this deployment, or none")])
            seen = "runs the intended manifest" if happened else "does not run the intended manifest"
            if intent.extra.get("action") == "delete":
                seen = "has no such deployment" if happened else "still has the deployment"
            record = self.ledger.append(Record(
                intent.candidate, env, "delete" if intent.extra.get("action") == "delete" else "deploy",
                "passed" if happened else "failed", intent.run_id, purpose=intent.purpose,
                reset_base=intent.reset_base, deployment=intent.deployment, director_uuid=intent.director_uuid,
                manifest_digest=intent.manifest_digest, task=facts, intent=intent.seq,
                detail=f"recovered after run {intent.run_id} was interrupted: the director {seen} "
                       "(unchecked: no integration checks ran)",
                extra={"recovered": True}))
            done.append(record)
            holder = read_holder(self.store, env) if env in LOCKED_ENVS else None
            if holder and holder.get("run_id") == intent.run_id:
                EnvLock(self.store, env, intent.run_id, intent.candidate).release()
        return done


__all__ = ["LockHeld", "NotDeployed", "Promoter", "PromotionFailed"]
