"""The pipeline's policy: what the gates allow, kept with the ledger rather than the caller.

A gate that whoever runs the command can loosen protects nothing: a config with
`allowed_diff_paths: ['**']` used to switch parity off. So the policy lives in the ledger,
versioned: the parity allow-list and each environment's binding (deployment name and
director uuid). Version 0 is built in (DEFAULT); every change is a `policy` record with the
whole new policy, the change and its reason, so widening parity or rebinding an environment
is a visible, recorded decision (`python -m promotion policy ...`).

A config may still *state* the policy (`promotion.allowed_diff_paths`,
`promotion.environments`): when it says something else than the ledger, the command is
refused (rule `pipeline-policy`) instead of the config quietly winning or losing.

Environments are bound here, never by a candidate: a candidate's templates produce a
manifest, and `render_refusals` checks that each environment's manifest names exactly that
environment's deployment (not another environment's, not one deployment twice) and its
director (rules `bound-deployment`, `bound-director`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from promotion.parity import DEFAULT_ALLOWED
from promotion.refusal import Refusal

ENVIRONMENTS = ("dev1", "dev2", "staging", "production")
POLICY_REMEDY = "see the pipeline's policy with `python -m promotion policy`"


@dataclass(frozen=True)
class Binding:
    deployment: str
    director_uuid: str | None = None  # None: bound at the environment's first deploy


@dataclass(frozen=True)
class Policy:
    version: int = 0
    allowed_diff_paths: tuple[str, ...] = DEFAULT_ALLOWED
    environments: Mapping[str, Binding] = field(
        default_factory=lambda: {env: Binding(f"redis-{env}") for env in ENVIRONMENTS})
    seq: int | None = None  # the ledger record that set it (None: built in)

    def binding(self, env: str) -> Binding:
        return self.environments[env]

    def env_of(self, deployment: str) -> str | None:
        return next((e for e, b in self.environments.items() if b.deployment == deployment), None)

    def to_doc(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "allowed_diff_paths": list(self.allowed_diff_paths),
            "environments": {e: {"deployment": b.deployment, "director_uuid": b.director_uuid}
                             for e, b in self.environments.items()},
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any], seq: int | None) -> Policy:
        envs = {str(e): Binding(str(b["deployment"]), b.get("director_uuid"))
                for e, b in (doc.get("environments") or {}).items()}
        return cls(int(doc["version"]), tuple(doc["allowed_diff_paths"]), envs, seq)

    def describe(self) -> str:
        where = "built in" if self.seq is None else f"ledger record #{self.seq}"
        lines = [f"policy version {self.version} ({where})",
                 f"  allowed_diff_paths: {', '.join(self.allowed_diff_paths)}"]
        for env, b in self.environments.items():
            lines.append(f"  {env}: deployment {b.deployment}, director {b.director_uuid or '(bound at first deploy)'}")
        return "\n".join(lines)


DEFAULT = Policy()


def current(records: list[Any]) -> Policy:
    """The policy in force: the last `policy` record's, else the built-in version 0."""
    last = next((r for r in reversed(records) if r.kind == "policy"), None)
    return DEFAULT if last is None else Policy.from_doc(last.extra["policy"], last.seq)


def problems(policy: Policy) -> list[str]:
    """What makes a policy unusable (checked before a change is recorded)."""
    out = []
    missing = [e for e in ENVIRONMENTS if e not in policy.environments]
    if missing:
        out.append(f"environments without a binding: {', '.join(missing)}")
    names = [b.deployment for b in policy.environments.values()]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        out.append(f"one deployment bound to two environments: {', '.join(twice)}")
    if any(not p or p.startswith(".") or p.endswith(".") for p in policy.allowed_diff_paths):
        out.append("an allowed diff path is empty or starts/ends with '.'")
    return out


def changed(old: Policy, new: Policy) -> list[str]:
    """Human lines for what a change does (the `policy` record's detail)."""
    lines = []
    added = [p for p in new.allowed_diff_paths if p not in old.allowed_diff_paths]
    removed = [p for p in old.allowed_diff_paths if p not in new.allowed_diff_paths]
    if added:
        lines.append(f"parity now allows differences at {', '.join(added)} (widened)")
    if removed:
        lines.append(f"parity no longer allows differences at {', '.join(removed)}")
    for env, b in new.environments.items():
        before = old.environments.get(env)
        if before != b:
            lines.append(f"{env} bound to deployment {b.deployment}, director {b.director_uuid or '(unbound)'}"
                         + (f" (was {before.deployment}, {before.director_uuid or '(unbound)'})" if before else ""))
    return lines


def with_change(policy: Policy, *, allow: tuple[str, ...] = (), disallow: tuple[str, ...] = (),
                bind: Mapping[str, Binding] | None = None) -> Policy:
    paths = [p for p in policy.allowed_diff_paths if p not in disallow]
    paths += [p for p in allow if p not in paths]
    envs = dict(policy.environments)
    envs.update(bind or {})
    return replace(policy, version=policy.version + 1, allowed_diff_paths=tuple(paths), environments=envs, seq=None)


def record_change(ledger: Any, change: Callable[[Policy], Policy], reason: str) -> tuple[Policy, Policy, Any]:
    """Apply `change` to the policy in force and append the result as a `policy` record:
    (old, new, record). The record is appended right after the records the change was
    computed from, or computed again, so two concurrent changes never drop each other.
    Refused when the new policy would be unusable; (old, old, None) when nothing changes."""
    from promotion.ledger import NO_CANDIDATE, Record
    from promotion.refusal import GateRefused

    while True:
        records = ledger.records()
        old = current(records)
        new = change(old)
        bad = problems(new)
        if bad:
            raise GateRefused([Refusal("pipeline-policy", f"the new policy would be unusable: {'; '.join(bad)}",
                                       "change it so that every environment has its own deployment")])
        lines = changed(old, new)
        if not lines:
            return old, old, None
        record = ledger.append_at(Record(NO_CANDIDATE, "", "policy", "recorded", uuid.uuid4().hex,
                                         detail=f"{reason}: {'; '.join(lines)}",
                                         extra={"policy": new.to_doc(), "reason": reason, "changes": lines}),
                                  len(records))
        if record is not None:
            return old, replace(new, seq=record.seq), record


def config_conflicts(policy: Policy, allowed_diff_paths: tuple[str, ...] | None,
                     environments: Mapping[str, Mapping[str, Any]] | None) -> list[Refusal]:
    """A config that states policy must state the ledger's: otherwise the caller would be
    deciding the gates (or would silently believe it does)."""
    out = []
    if allowed_diff_paths is not None and tuple(allowed_diff_paths) != policy.allowed_diff_paths:
        wider = [p for p in allowed_diff_paths if p not in policy.allowed_diff_paths]
        out.append(Refusal(
            "pipeline-policy",
            f"the config sets promotion.allowed_diff_paths to [{', '.join(allowed_diff_paths)}], but the "
            f"pipeline's policy (version {policy.version}) allows [{', '.join(policy.allowed_diff_paths)}]"
            + (f"; the config would widen parity by {', '.join(wider)}" if wider else ""),
            "remove promotion.allowed_diff_paths from the config (gate policy is kept with the ledger), or record "
            "the change as a decision: `python -m promotion policy allow-diff PATH --reason TEXT` "
            "(or `disallow-diff`)",
        ))
    for env, stated in (environments or {}).items():
        b = policy.environments.get(env)
        if b is None:
            out.append(Refusal("pipeline-policy", f"the config names an environment {env!r} the pipeline does not "
                               "have", f"use {', '.join(policy.environments)}"))
            continue
        dep = stated.get("deployment")
        uuid = stated.get("director_uuid")
        if dep is not None and dep != b.deployment:
            out.append(Refusal("pipeline-policy", f"the config binds {env} to deployment {dep}, the pipeline's policy "
                               f"(version {policy.version}) to {b.deployment}",
                               f"remove promotion.environments.{env}.deployment from the config, or record it: "
                               f"`python -m promotion policy bind {env} --deployment {dep} --reason TEXT`"))
        if uuid is not None and b.director_uuid is not None and uuid != b.director_uuid:
            out.append(Refusal("pipeline-policy", f"the config binds {env} to director {uuid}, the pipeline's policy "
                               f"(version {policy.version}) to {b.director_uuid}",
                               f"remove promotion.environments.{env}.director_uuid from the config, or record it: "
                               f"`python -m promotion policy bind {env} --director-uuid {uuid} --reason TEXT`"))
    return out


def render_refusals(renders: Mapping[str, Mapping[str, Any]], policy: Policy,
                    director_uuids: Mapping[str, str], what: str = "the candidate") -> list[Refusal]:
    """Each environment's manifest, as a candidate renders it, must name that environment's
    bound deployment and the director uuid the tool put in (a candidate that hard-codes a
    `director_uuid` aims at another director; one whose `name` is another environment's
    would deploy there)."""
    out = []
    names = {env: str(m.get("name")) for env, m in renders.items()}
    remedy = ("fix `meta.environment` in manifests/redis/networking-{env}.yml (it must be {want}) and build a new "
              "candidate; environments are bound by the pipeline's policy, never by a candidate (" + POLICY_REMEDY + ")")
    for env, name in names.items():
        want = policy.binding(env).deployment
        if name == want:
            continue
        other = policy.env_of(name)
        why = (f"{what}'s {env} manifest names deployment {name}, which is {other}'s" if other
               else f"{what}'s {env} manifest names deployment {name}, but {env} is bound to {want}")
        out.append(Refusal("bound-deployment", why, remedy.format(env=env, want=want)))
    twice = sorted({n for n in names.values() if list(names.values()).count(n) > 1})
    for name in twice:
        envs = [e for e, n in names.items() if n == name]
        out.append(Refusal("bound-deployment", f"{what}'s manifests name deployment {name} for {' and '.join(envs)} "
                           "(one deployment twice)", remedy.format(env=envs[-1], want=policy.binding(envs[-1]).deployment)))
    for env, m in renders.items():
        want = director_uuids.get(env)
        got = m.get("director_uuid")
        if want is not None and str(got) != want:
            out.append(Refusal("bound-director", f"{what}'s {env} manifest targets director {got}, but the tool deploys "
                               f"{env} to director {want}",
                               "remove `director_uuid` from the candidate's templates (the tool supplies it from the "
                               "environment's binding) and build a new candidate"))
    return out
