"""Resuming a recorded run: where it goes on, and whether the platform still is as it left it.

Why: a real upgrade run takes hours (its users report one to two); a failure in D4 must not mean starting over.
A resumed run (`pytest suites/upgrade_stable --resume [RUN]`) continues after the last step
that passed, in the same org with the same A0, on the deployments the run created. That is
safe only if nothing changed in between, and only on what the run created, so before any
BOSH operation every recorded fact is compared with the director and CF, and the run is
refused with *every* difference at once:

* the director is the one the run was recorded on (its uuid);
* every deployment the record says the run created is named as this run's own manifest for
  it names it, and recorded with that manifest's digest (a state file edited to name another
  deployment, or another manifest, is refused);
* it exists, the director holds that manifest (sha256 of the text it stores; also the
  manifest of a deploy the run began but did not finish), runs the releases that manifest
  pins, and is running or stopped as recorded;
* no deployment of the story exists that the run did not create (a later step would deploy
  onto it);
* the org and space exist with the recorded guids; A0 exists and runs.

Ownership across invocations: the record lives in the run's private directory, beside the
manifests it deployed, whose generated credentials make their digests this run's alone; a
deployment is this run's only when the director holds one of those manifests under the name
the record and the manifest agree on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from helpers import story


class Manifests(Protocol):
    def name(self, deployment: str) -> str: ...
    def digest(self, deployment: str, version: str) -> str: ...
    def releases(self, deployment: str, version: str) -> dict[str, str]: ...


class ResumeRefused(Exception):
    """The run cannot be resumed; `str()` lists every reason."""

    def __init__(self, run_id: str, problems: list[str]) -> None:
        self.problems = list(problems)
        head = f"cannot resume run {run_id}: {len(problems)} difference(s) from its record; nothing was changed"
        super().__init__("\n".join([head, *(f"  - {p}" for p in problems)]))


@dataclass(frozen=True)
class Plan:
    """Where a resumed run goes on: the first story step that did not pass, and the steps
    already passed (with the invocation that passed them)."""

    start: story.Step
    done: dict[str, int]  # step id -> invocation (0-based) that passed it

    def skip_reason(self, step_id: str, run_id: str) -> str | None:
        if step_id not in self.done:
            return None
        return f"resumed run {run_id}: passed in invocation {self.done[step_id] + 1}"


def plan(record: Mapping[str, Any]) -> Plan | None:
    """None when every step passed (nothing to resume)."""
    steps = record.get("steps") or {}
    done: dict[str, int] = {}
    for st in story.STORY:
        data = steps.get(st.id) or {}
        if data.get("outcome") != "passed":
            return Plan(st, done)
        done[st.id] = int(data.get("invocation") or 0)
    return None


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def differences(record: Mapping[str, Any], *, director: Any, manifests: Manifests,
                new_cf: Callable[[], Any] | None = None, job_states: Callable[[str], Iterable[str]] | None = None
                ) -> list[str]:
    """Every way the director and CF differ from `record` (module docstring); [] means resume.

    `job_states(name)` -> the job state of each instance of a deployment (`running`,
    `stopped`, ...), read through a read-only director task; `new_cf()` -> a logged-in CF
    client (only called when the record has an org or A0)."""
    problems: list[str] = []
    uuid = director.uuid()
    if record.get("director_uuid") != uuid:
        problems.append(f"the run was recorded on director {record.get('director_uuid')}, this director is {uuid}")
    existing = set(director.deployment_names())
    deployed: dict[str, dict[str, str]] | None = None
    deployments: Mapping[str, Any] = record.get("deployments") or {}
    attempts: Mapping[str, Any] = record.get("attempts") or {}
    for label in sorted({*deployments, *attempts}):
        if label not in story.DEPLOYMENTS:
            problems.append(f"the run state names a deployment {label!r} that is not one of the story's "
                            f"({', '.join(story.DEPLOYMENTS)})")
            continue
        ours = manifests.name(label)
        dep, attempt = deployments.get(label), attempts.get(label)
        entries = [e for e in (dep, attempt) if e]
        foreign = sorted({str(e.get("name")) for e in entries if e.get("name") != ours})
        if foreign:
            problems.append(f"{label}: the run state names deployment {', '.join(foreign)}, but this run's manifest "
                            f"for {label} deploys {ours}; the suite never touches a deployment it did not create")
            continue
        digests: dict[str, str] = {}  # one entry when a step deployed again the manifest it already had
        tampered = False
        for e in entries:
            version = str(e.get("version"))
            want = _safe(lambda v=version, lb=label: manifests.digest(lb, v))
            if version not in story.VERSIONS or e.get("manifest") != want:
                problems.append(f"{label} ({ours}): the run state records manifest {_short(e.get('manifest'))} at "
                                f"{version}, this run's manifest is {_short(want)} (the state or the manifest "
                                "was changed)")
                tampered = True
            else:
                digests[str(e.get("manifest"))] = version
        if tampered:
            continue
        if ours not in existing:
            if dep and not dep.get("deleted"):
                problems.append(f"{label} ({ours}): recorded as created by this run, the director has no such "
                                "deployment")
            continue
        if dep and dep.get("deleted"):
            problems.append(f"{label} ({ours}): recorded as deleted (stopped by delete), the director has it")
            continue
        held = sha256(director.deployment_manifest(ours))
        if held not in digests:
            problems.append(f"{label} ({ours}): the director holds another manifest ({_short(held)}) than the one "
                            f"this run deployed ({', '.join(_short(d) for d in digests)}): changed by someone else")
            continue
        version = digests[held]
        if deployed is None:
            deployed = _deployed_versions(director)
        pinned = manifests.releases(label, version)
        runs = deployed.get(ours, {})
        wrong = sorted(r for r, v in pinned.items() if runs.get(r) != v)
        if wrong:
            problems.append(f"{label} ({ours}): runs " + ", ".join(f"{r} {runs.get(r) or 'absent'}" for r in wrong)
                            + f"; its {version} manifest pins " + ", ".join(f"{r} {pinned[r]}" for r in wrong))
        if dep and not attempt and job_states is not None:
            want_state = "running" if dep.get("running", True) else "stopped"
            seen = sorted(set(job_states(ours)))
            if seen != [want_state]:
                problems.append(f"{label} ({ours}): recorded {want_state}, its instances are "
                                f"{', '.join(seen) or 'none'}")
    for label in story.DEPLOYMENTS:
        name = _safe(lambda lb=label: manifests.name(lb))
        if label not in deployments and label not in attempts and name in existing:
            problems.append(f"{label} ({name}): exists on the director, but this run did not create it; the suite "
                            "never touches a deployment it did not create")
    if record.get("org") or (record.get("apps") or {}).get("A0"):
        problems.extend(_cf_differences(record, new_cf))
    return problems


def _cf_differences(record: Mapping[str, Any], new_cf: Callable[[], Any] | None) -> list[str]:
    if new_cf is None:
        return ["cannot check the run's org and A0: no CF client"]
    try:
        cf = new_cf()
    except Exception as exc:
        return [f"cannot log in to CF to check the run's org and A0: {exc}"]
    problems: list[str] = []
    org, space = record.get("org") or {}, record.get("space") or {}
    if org:
        try:
            guid = cf.find_org(org.get("name"))
        except Exception as exc:  # not "no such org": CF did not answer
            problems.append(f"org {org.get('name')} ({org.get('guid')}): cannot look it up in CF ({exc})")
        else:
            if guid != org.get("guid"):
                problems.append(f"org {org.get('name')}: recorded as {org.get('guid')}, CF has "
                                f"{guid or 'no such org'}")
    if space:
        try:
            seen = cf.get(f"/v2/spaces/{space.get('guid')}")
            name = (seen.get("entity") or {}).get("name")
            if name != space.get("name"):
                problems.append(f"space {space.get('name')} ({space.get('guid')}): CF names it {name!r}")
        except Exception as exc:
            problems.append(f"space {space.get('name')} ({space.get('guid')}): not found in CF ({exc})")
    a0 = (record.get("apps") or {}).get("A0")
    if a0:
        try:
            name = (cf.app(a0.get("guid")).get("entity") or {}).get("name")
        except Exception as exc:
            return [*problems, f"A0 ({a0.get('name')}, {a0.get('guid')}): not found in CF ({exc})"]
        if name != a0.get("name"):
            problems.append(f"A0 ({a0.get('guid')}): recorded as {a0.get('name')}, CF names it {name!r}")
        try:
            states = sorted({i.state for i in cf.instances(a0.get("guid")).values()})
        except Exception as exc:
            return [*problems, f"A0 ({a0.get('name')}): cannot tell whether it runs ({exc})"]
        if "RUNNING" not in states:
            problems.append(f"A0 ({a0.get('name')}): no instance is RUNNING (instances: {', '.join(states) or 'none'})")
    return problems


def _deployed_versions(director: Any) -> dict[str, dict[str, str]]:
    from helpers.preflight import deployed_versions

    return deployed_versions(director)


def _safe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:
        return None


def _short(digest: Any) -> str:
    return f"sha256 {str(digest)[:12]}" if digest else "none"
