"""Ledger records cross-checked with the director's own tasks.

Anyone who can write the store can write a record saying "candidate X deployed to dev1 and
passed". What they cannot write is the director's task list. So every deploy or delete
record carries the facts the director gave about its task when it ended (`GET /tasks/:id`:
id, state, result, timestamp, user), and before a gate trusts a record it asks the director
again. Only what both eras of director offer is used: on the 2015 director a task has no
`deployment` field, but a finished deploy or delete task's `result` is
`/deployments/<name>` (bosh@5ea8a74f9d:bosh-director/lib/bosh/director/jobs/
update_deployment.rb:37, delete_deployment.rb:64), and its `timestamp` is the time it
finished (job_runner.rb:154-157). A director keeps only its newest `director.max_tasks` tasks
(500 by default: release/jobs/director/spec:70-72, api/task_remover.rb), so a record older
than that can no longer be confirmed and is not trusted: the remedy is a fresh run.

Task ids only grow on one director, so the chain's order can be checked against them too:
a task recorded by an intent's completion was started after the intent was written, so its
id is higher than that of every task whose outcome was recorded before the intent.

A deploy record also says which release versions the deployment ran, with their
fingerprints (`extra.releases`). `confirm_release` asks the director for the release
itself: a director refuses a second, different release under a name and version it has
(another commit, job or package fingerprint: bosh@5ea8a74f9d:bosh-director/lib/bosh/
director/jobs/update_release.rb:126-136, 198-202, 505-509), so what it holds under that name
is what the deployment ran.
"""

from __future__ import annotations

from typing import Any

from promotion.ledger import COMPLETIONS, Record, completions
from promotion.policy import Policy
from promotion.refusal import Refusal
from promotion.releases import ReleaseContents, from_director

RULE = "director-task"
RELEASE_RULE = "final-from-tested-dev"
FACTS = ("id", "state", "result", "timestamp", "user")


def facts(director: Any, task_id: int) -> dict[str, Any]:
    """What the director says about a task, reduced to what every era reports."""
    task = director.task(int(task_id))
    return {k: task.get(k) for k in FACTS}


def expected_result(record: Record) -> str:
    return f"/deployments/{record.deployment}"


def _refusal(record: Record, why: str) -> Refusal:
    return Refusal(RULE, f"ledger record {record.label()} {why}, so the gates do not trust it",
                   "if the record is genuine, give this command the director it names; otherwise the ledger was "
                   "written by someone other than this tool: restore it from the bucket's versioning or backup "
                   "(docs/promotion.md, 'Threat model')")


def _other_director(record: Record, uuid: str) -> Refusal | None:
    """The record was made on another director than the one this command asks about it."""
    if record.director_uuid == uuid:
        return None
    return _refusal(record, f"was made on director {record.director_uuid}, but this command talks to director "
                    f"{uuid} (configure promotion.environments.{record.env}.bosh for it)")


def verify(record: Record, director: Any, records: list[Record], policy: Policy) -> Refusal | None:
    """None when the director confirms the record; else a refusal naming the record and
    what was expected versus seen."""
    if record.task is None or record.task_id is None:
        return _refusal(record, "names no director task")
    binding = policy.environments.get(record.env)
    if binding is None or binding.director_uuid is None:
        # the tool binds an environment (a policy record) before its first deploy, so a run
        # in an unbound environment is not this tool's: it names whatever director it likes
        return Refusal(RULE, f"ledger record {record.label()} claims a run in {record.env or '-'}, which the "
                       f"pipeline's policy (version {policy.version}) binds to no director: this tool binds an "
                       "environment before its first deploy, so it did not write that record, and the gates do "
                       "not trust it",
                       f"deploy the candidate to {record.env} with this tool (`python -m promotion deploy DIGEST "
                       f"--env {record.env}`); if the ledger was written by someone else, restore it from the "
                       "bucket's versioning or backup (docs/promotion.md, 'Threat model')")
    if record.director_uuid != binding.director_uuid:
        # the command's director for the record's environment comes from the caller's config:
        # confirming a run with it proves nothing unless it is the environment's bound director
        return Refusal(RULE, f"ledger record {record.label()} was made on director {record.director_uuid}, but "
                       f"{record.env} is bound to director {binding.director_uuid} (pipeline policy version "
                       f"{policy.version}), so the gates do not trust it",
                       f"deploy the candidate to {record.env} on its bound director; if {record.env} really moved, "
                       f"record it: `python -m promotion policy bind {record.env} --director-uuid UUID --reason "
                       "TEXT` (see the pipeline's policy with `python -m promotion policy`)")
    uuid = str(director.uuid())
    wrong_director = _other_director(record, uuid)
    if wrong_director:
        return wrong_director
    bound = policy.binding(record.env).deployment if record.env in policy.environments else None
    if record.deployment != bound:
        return _refusal(record, f"says it changed deployment {record.deployment}, but {record.env} is deployment {bound}")
    try:
        seen = facts(director, record.task_id)
    except Exception as exc:
        if getattr(exc, "status", None) == 404:
            return Refusal(RULE, f"ledger record {record.label()} names task {record.task_id}, which director {uuid} "
                           "does not have, so the gates do not trust it",
                           "a director keeps only its newest tasks (director.max_tasks, 500 by default): if the "
                           f"record is old, deploy the candidate to {record.env} again for a run the director can "
                           "confirm; if the task never existed, the ledger was written by someone other than this "
                           "tool: restore it from the bucket's versioning or backup (docs/promotion.md, 'Threat model')")
        raise
    want = dict(record.task)
    if record.passed:
        want["state"] = "done"
        want["result"] = expected_result(record)
    wrong = [f"{k} {want.get(k)!r} expected, director says {seen.get(k)!r}" for k in FACTS if want.get(k) != seen.get(k)]
    if wrong:
        return _refusal(record, f"does not match the director's task {record.task_id}: {'; '.join(wrong)}")
    for other in records:
        if (other.kind in COMPLETIONS and other.seq != record.seq and other.task_id == record.task_id
                and other.director_uuid == record.director_uuid):
            return _refusal(record, f"claims task {record.task_id}, which record #{other.seq} claims too")
    intent = next((r for r in records if r.seq == record.intent and r.kind == "intent"), None)
    if intent is None:
        return _refusal(record, f"completes intent #{record.intent}, which is not an intent record")
    if (intent.run_id, intent.env, intent.candidate, intent.deployment) != (
            record.run_id, record.env, record.candidate, record.deployment) or intent.seq > record.seq:
        return _refusal(record, f"completes intent #{intent.seq}, which announced another run, environment, "
                        "candidate or deployment")
    done = completions(records)
    for other in records:
        if (other.seq < intent.seq and other.kind in COMPLETIONS and other.task_id is not None
                and other.director_uuid == record.director_uuid and other.task_id >= record.task_id
                and done.get(other.intent) is other):
            return _refusal(record, f"names task {record.task_id}, but record #{other.seq}, written before its "
                            f"intent #{intent.seq}, already names the later task {other.task_id} (task ids only grow)")
    return None


def confirm_release(record: Record, claimed: ReleaseContents, director: Any) -> Refusal | None:
    """None when the record's director still holds the release version the record says its
    deployment ran, with the same fingerprints and commit. The fingerprints in a record are
    the store's word; the director's copy is what the run really deployed."""
    uuid = str(director.uuid())
    wrong_director = _other_director(record, uuid)
    if wrong_director:
        return wrong_director
    try:
        seen = from_director(director, claimed.name, claimed.version)
    except Exception as exc:
        if getattr(exc, "status", None) == 404:
            return Refusal(RELEASE_RULE, f"ledger record {record.label()} says its deployment ran dev release "
                           f"{claimed.label}, which director {uuid} no longer has, so its fingerprints cannot be "
                           "confirmed", f"upload that dev release again (`bosh upload-release` of its tarball), or "
                           f"deploy a candidate with a dev release of the same sources to {record.env} again")
        raise
    wrong = claimed.differences(seen, "recorded", "director has")
    if claimed.commit_hash != seen.commit_hash:
        wrong.append(f"commit: recorded {claimed.commit_hash or '(none)'}, director has {seen.commit_hash or '(none)'}")
    if wrong:
        return _refusal(record, f"says its deployment ran dev release {claimed.label}, but director {uuid} holds "
                        f"another one under that name and version: {'; '.join(wrong)}")
    return None
