"""The promotion flow: gates, lock, staging reset, deploy through the director, checks, ledger.

`Promoter.deploy(digest, env)` is what `python -m promotion deploy` runs. The director
client is the project's `helpers.bosh.Director` (duck-typed here: `uuid()`, `deploy(yaml)`,
`deployment_manifest(name)`, `instances(name)`), so tests can also hand in a fake one.
Every outcome is recorded in the ledger before the next step starts, so a crash leaves an
honest record (and a lock that a human breaks on purpose).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from helpers.net import REDACTOR
from promotion import candidate as cand
from promotion import gates
from promotion.checks import CheckReport, CheckResult, ResolveFn, run_checks, target_from
from promotion.ledger import NO_CANDIDATE, Ledger, Record
from promotion.lock import LOCKED_ENVS, EnvLock, LockHeld
from promotion.manifest import deployment_name, render
from promotion.parity import DEFAULT_ALLOWED, diff, normalize
from promotion.store import Store

ENVS = cand.ENVIRONMENTS


class PromotionFailed(Exception):
    """A deploy or its checks failed (already recorded in the ledger)."""


class NotDeployed(Exception):
    """`diff` was asked about an environment that runs nothing this tool deployed."""


@dataclass
class Promoter:
    store: Store
    director: Any
    resolve: ResolveFn
    allowed_diff_paths: tuple[str, ...] | list[str] = DEFAULT_ALLOWED
    passwords: dict[str, str] = field(default_factory=dict)  # env -> redis password (else kept/generated)
    out: Callable[[str], None] = print
    replication_wait: float = 10.0

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.store)

    def _say(self, message: str) -> None:
        self.out(REDACTOR.redact(message))

    # ------------------------------------------------------------------ reading

    def load(self, digest: str) -> cand.Candidate:
        return cand.load(self.store, digest)

    def deployed_manifest(self, name: str) -> dict[str, Any] | None:
        """The manifest the director runs for `name`, or None when there is no such
        deployment (404). Any other director error propagates: "cannot tell" must never be
        taken for "not deployed" (the staging reset would then skip a deletion)."""
        try:
            text = self.director.deployment_manifest(name)
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
            current = self.deployed_manifest(name)
            for job in (current or {}).get("jobs", []):
                pw = (job.get("properties", {}).get("redis", {}) or {}).get("password")
                if pw:
                    password = str(pw)
                    break
        password = password or secrets.token_urlsafe(18)
        REDACTOR.register(password)
        return password

    def manifest_for(self, c: cand.Candidate, env: str) -> dict[str, Any]:
        name = deployment_name(c, env)
        return render(c, env, str(self.director.uuid()), self._password(env, name))

    # ------------------------------------------------------------------ one deploy + checks

    def _deploy_and_check(
        self, c: cand.Candidate, env: str, run_id: str, purpose: str, reset_base: str | None = None
    ) -> bool:
        manifest = self.manifest_for(c, env)
        name = str(manifest["name"])
        self._say(f"deploying candidate {c.digest[:12]} to {env} (deployment {name}, {purpose})")
        outcome, task_id, detail = self._task(self.director.deploy, yaml.safe_dump(manifest, sort_keys=False))
        self.ledger.append(
            Record(c.digest, env, "deploy", outcome, run_id, task_id=task_id, purpose=purpose,
                   reset_base=reset_base, detail=detail)
        )
        if outcome != "passed":
            self._say(f"deploy of {c.digest[:12]} to {env} failed (task {task_id}): {detail}")
            return False
        try:
            report = self.check(env, manifest)
        except Exception as exc:
            report = CheckReport((CheckResult("checks ran", False, REDACTOR.redact(f"{type(exc).__name__}: {exc}")),))
        self.ledger.append(
            Record(c.digest, env, "check", "passed" if report.passed else "failed", run_id, task_id=task_id,
                   purpose=purpose, reset_base=reset_base, detail=report.summary())
        )
        self._say(f"checks of {c.digest[:12]} in {env}: {report.summary()}")
        return report.passed

    @staticmethod
    def _task(call: Callable[..., Any], *args: Any) -> tuple[str, int | None, str]:
        """Run one director task: (outcome, task id, redacted detail). Any failure is an
        outcome to record, not a crash: the ledger must say what happened."""
        try:
            result = call(*args)
        except Exception as exc:
            return "failed", getattr(exc, "task_id", None), REDACTOR.redact(f"{type(exc).__name__}: {exc}")
        return "passed", getattr(result, "id", None) or getattr(result, "task_id", None), ""

    def _reset_to_empty(self, c: cand.Candidate, run_id: str) -> bool:
        """First promotion: production runs nothing yet, so it will get a fresh create. Staging
        is reset to the same state, empty, so that its candidate deploy is that same create."""
        name = deployment_name(c, "staging")
        if self.deployed_manifest(name) is None:
            outcome, task_id, detail = "passed", None, f"{name} was already empty"
        else:
            self._say(f"production has no candidate yet: deleting {name} so staging starts empty like production")
            outcome, task_id, detail = self._task(self.director.delete_deployment, name)
        self.ledger.append(Record(NO_CANDIDATE, "staging", "delete", outcome, run_id, task_id=task_id,
                                  purpose="reset", detail=detail))
        return outcome == "passed"

    def check(self, env: str, manifest: dict[str, Any]) -> CheckReport:
        instances = self.director.instances(str(manifest["name"]))
        return run_checks(target_from(manifest, instances), self.resolve, wait=self.replication_wait)

    # ------------------------------------------------------------------ the gated flow

    def deploy(self, digest: str, env: str) -> str:
        """Deploy with every gate; returns the run id. Raises GateRefused, LockHeld,
        CandidateError or PromotionFailed."""
        if env not in ENVS:
            raise gates.GateRefused([gates.Refusal("known-environment", f"unknown environment {env!r}",
                                                   f"use one of {', '.join(ENVS)}")])
        c = self.load(digest)
        run_id = uuid.uuid4().hex
        if env in LOCKED_ENVS:
            # the lock is released on every way out: refusal, failed deploy, failed checks
            with EnvLock(self.store, env, run_id, digest):
                self._gated(c, env, run_id)
        else:
            self._gated(c, env, run_id)
        return run_id

    def _gated(self, c: cand.Candidate, env: str, run_id: str) -> None:
        records = self.ledger.records()
        production = self.ledger.current("production", records)
        refusals = gates.check(c, env, records, production)
        tried_production = any(r.env == "production" and r.kind == "deploy" for r in records)
        if env in gates.GATED_ENVS and production is None and not tried_production and not refusals:
            refusals += self._unknown_production(c)
        if env in gates.GATED_ENVS and not refusals:
            refusals += gates.pinned_manifest(self.manifest_for(c, env), env)
        if env == "production" and not refusals:
            refusals += self._parity_refusals(c)
        if refusals:
            raise gates.GateRefused(refusals)
        reset_base = None
        if env == "staging":
            reset_base = production
            if production is None:
                reset = self._reset_to_empty(c, run_id)
            else:
                self._say(f"resetting staging to production's candidate {production[:12]} first")
                reset = self._deploy_and_check(self.load(production), "staging", run_id, "reset")
            if not reset:
                raise PromotionFailed(
                    f"staging reset to production's state ({(production or 'empty')[:12]}) failed; "
                    "the candidate was not deployed (see the ledger)"
                )
        if not self._deploy_and_check(c, env, run_id, "candidate", reset_base):
            raise PromotionFailed(f"candidate {c.digest[:12]} failed in {env} (see the ledger)")

    def _unknown_production(self, c: cand.Candidate) -> list[gates.Refusal]:
        """A first promotion resets staging to empty because production is empty. If the
        director runs a production deployment this ledger never recorded, that is false: the
        change staging would get (a create) is not the change production would get. (One
        that this ledger's own failed production deploy left behind is known: retrying is fine.)"""
        name = deployment_name(c, "production")
        if self.deployed_manifest(name) is None:
            return []
        return [gates.Refusal(
            "known-production",
            f"the director runs {name}, but this ledger ({self.store.url}) records no candidate deployed to "
            "production, so staging cannot be reset to what production runs",
            "use the store whose ledger deployed it (--store / promotion.store), or, deliberately, delete "
            f"{name} on the director so that the first promotion creates it",
        )]

    def _parity_refusals(self, c: cand.Candidate) -> list[gates.Refusal]:
        diffs = self.parity_diff(c)
        if diffs is None:
            return [gates.Refusal(
                "parity", f"staging's deployment {deployment_name(c, 'staging')} is not on the director, so "
                "there is nothing to compare production's manifest with",
                f"`python -m promotion deploy {c.digest} --env staging` and let its checks pass")]
        return gates.parity(diffs, self.allowed_diff_paths)

    def parity_diff(self, c: cand.Candidate) -> list | None:
        """Staging as deployed (the production gate has made sure it runs candidate `c`,
        deployed by the latest staging run) versus what production would get from `c`.
        None when staging's deployment is missing on the director."""
        staging = self.deployed_manifest(deployment_name(c, "staging"))
        if staging is None:
            return None
        production = self.manifest_for(c, "production")
        return diff(normalize(staging), normalize(production))

    def diff_envs(self, left: str, right: str, digest: str | None = None) -> list:
        """Differences between two environments: as deployed now, or as candidate `digest`
        would deploy them."""
        if digest:
            c = self.load(digest)
            return diff(normalize(self.manifest_for(c, left)), normalize(self.manifest_for(c, right)))
        manifests = []
        for env in (left, right):
            current = self.ledger.current(env)
            if current is None:
                raise NotDeployed(f"{env} has no deployed candidate in the ledger; deploy one there first, or "
                                  "compare what a candidate would deploy with --candidate DIGEST")
            name = deployment_name(self.load(current), env)
            m = self.deployed_manifest(name)
            if m is None:
                raise NotDeployed(f"deployment {name} ({env}) is in the ledger but not on the director")
            manifests.append(m)
        return diff(normalize(manifests[0]), normalize(manifests[1]))


__all__ = ["LockHeld", "NotDeployed", "Promoter", "PromotionFailed"]
