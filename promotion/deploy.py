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

from promotion import candidate as cand
from promotion import gates
from promotion.checks import CheckReport, ResolveFn, run_checks, target_from
from promotion.ledger import Ledger, Record
from promotion.lock import LOCKED_ENVS, EnvLock, LockHeld
from promotion.manifest import deployment_name, render
from promotion.parity import DEFAULT_ALLOWED, diff, normalize
from promotion.store import Store

ENVS = cand.ENVIRONMENTS


class PromotionFailed(Exception):
    """A deploy or its checks failed (already recorded in the ledger)."""


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
        from helpers.net import REDACTOR

        self.out(REDACTOR.redact(message))

    # ------------------------------------------------------------------ reading

    def load(self, digest: str) -> cand.Candidate:
        cand.check_digest(digest)
        return cand.read(self.store.get(cand.key(digest)), digest)

    def deployed_manifest(self, name: str) -> dict[str, Any] | None:
        try:
            text = self.director.deployment_manifest(name)
        except Exception:
            return None
        if isinstance(text, dict):
            text = text.get("manifest", text)
        data = yaml.safe_load(text) if isinstance(text, str) else text
        return data if isinstance(data, dict) and data else None

    def _password(self, env: str, name: str) -> str:
        """The Redis password: given (REDIS_PASSWORD_<ENV>), else the one the deployment
        already runs with (so a redeploy never changes it), else a new random one. It is
        registered with the project's redactor so no log line can show it."""
        from helpers.net import REDACTOR

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
        task_id = None
        try:
            result = self.director.deploy(yaml.safe_dump(manifest, sort_keys=False))
            task_id = getattr(result, "id", None) or getattr(result, "task_id", None)
            outcome, detail = "passed", ""
        except Exception as exc:
            task_id = getattr(exc, "task_id", None)
            from helpers.net import REDACTOR

            outcome, detail = "failed", REDACTOR.redact(f"{type(exc).__name__}: {exc}")
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
            from helpers.net import REDACTOR
            from promotion.checks import CheckResult

            report = CheckReport((CheckResult("checks ran", False, REDACTOR.redact(f"{type(exc).__name__}: {exc}")),))
        self.ledger.append(
            Record(c.digest, env, "check", "passed" if report.passed else "failed", run_id, task_id=task_id,
                   purpose=purpose, reset_base=reset_base, detail=report.summary())
        )
        self._say(f"checks of {c.digest[:12]} in {env}: {report.summary()}")
        return report.passed

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
            with EnvLock(self.store, env, run_id, digest):
                self._gated(c, env, run_id)
        else:
            self._gated(c, env, run_id)
        return run_id

    def _gated(self, c: cand.Candidate, env: str, run_id: str) -> None:
        records = self.ledger.records()
        production = self.ledger.current("production", records)
        refusals = gates.check(c, env, records, production)
        if env == "production" and not refusals:
            refusals += gates.parity(self.parity_diff(c), self.allowed_diff_paths)
        if refusals:
            raise gates.GateRefused(refusals)
        reset_base = None
        if env == "staging":
            reset_base = production
            if production is None:
                self._say("production has no candidate yet: nothing to reset staging to")
            else:
                self._say(f"resetting staging to production's candidate {production[:12]} first")
                if not self._deploy_and_check(self.load(production), "staging", run_id, "reset"):
                    raise PromotionFailed(
                        f"staging reset to production's candidate {production[:12]} failed; "
                        "the candidate was not deployed (see the ledger)"
                    )
        if not self._deploy_and_check(c, env, run_id, "candidate", reset_base):
            raise PromotionFailed(f"candidate {c.digest[:12]} failed in {env} (see the ledger)")

    def parity_diff(self, c: cand.Candidate) -> list:
        """Staging as deployed for candidate `c` versus what production would get from it.
        If staging has moved on to another candidate since, `c`'s staging manifest is
        rendered instead (the same template merge the staging deploy used)."""
        staging = None
        if self.ledger.current("staging") == c.digest:
            staging = self.deployed_manifest(deployment_name(c, "staging"))
        if staging is None:
            staging = self.manifest_for(c, "staging")
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
                raise PromotionFailed(f"{env} has no deployed candidate in the ledger; pass --candidate DIGEST")
            name = deployment_name(self.load(current), env)
            m = self.deployed_manifest(name)
            if m is None:
                raise PromotionFailed(f"deployment {name} ({env}) not found on the director")
            manifests.append(m)
        return diff(normalize(manifests[0]), normalize(manifests[1]))


__all__ = ["LockHeld", "Promoter", "PromotionFailed"]
