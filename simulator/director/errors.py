"""Director errors with the director's numeric codes (`bosh-director/lib/bosh/director/errors.rb`).

A `DirectorError` raised in a handler becomes `{"code": ..., "description": ...}` with its
HTTP status; raised inside a task it becomes the task's `error` entry and `result`.
"""

from __future__ import annotations

from collections.abc import Callable

Quote = Callable[[object], str]


def _q(name: object) -> str:
    """Today's quoting of names in messages; a 2015 director passes `DirectorEra.q` (`name')."""
    return f"'{name}'"


class ServerError(Exception):
    """Not a DirectorError (e.g. a database error): the director answers 500 with no body."""


class DirectorError(Exception):
    def __init__(self, code: int, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


def task_not_found(task_id: object) -> DirectorError:
    return DirectorError(10000, f"Task {task_id} not found", 404)


def release_not_found(name: str, q: Quote = _q) -> DirectorError:
    return DirectorError(30005, f"Release {q(name)} doesn't exist", 404)


def release_version_not_found(name: str, version: str, q: Quote = _q) -> DirectorError:
    return DirectorError(30006, f"Release version {q(f'{name}/{version}')} doesn't exist", 404)


def release_invalid(message: str) -> DirectorError:
    return DirectorError(30001, message, 400)


def release_reuploaded_otherwise(kind: str, item: str, release: str, q: Quote = _q) -> DirectorError:
    """A release version uploaded again with a job or package of another fingerprint
    (bosh@5ea8a74f9d:bosh-director/lib/bosh/director/jobs/update_release.rb:198-202, 505-509)."""
    return DirectorError(30012 if kind == "package" else 30013,
                         f"{kind} {q(item)} had different fingerprint in previously uploaded release {q(release)}", 400)


def release_commit_mismatch(release: str, commit_hash: str, uncommitted: bool, q: Quote = _q) -> DirectorError:
    """A release version uploaded again from another commit (update_release.rb:133-136; the
    2015 message names the new upload's commit, today's the stored one: the caller says which)."""
    return DirectorError(30014, f"release {q(release)} has already been uploaded with commit_hash as {q(commit_hash)} "
                                f"and uncommitted_changes as {q(str(uncommitted).lower())}", 400)


def missing_field(message: str) -> DirectorError:
    return DirectorError(40001, message, 400)


def invalid_type(message: str) -> DirectorError:
    return DirectorError(40000, message, 400)


def stemcell_not_found(name: str, version: str) -> DirectorError:
    return DirectorError(50003, f"Stemcell '{name}/{version}' doesn't exist", 404)


def stemcell_invalid(message: str) -> DirectorError:
    return DirectorError(50001, message, 400)


def deployment_not_found(name: str, q: Quote = _q) -> DirectorError:
    return DirectorError(70000, f"Deployment {q(name)} doesn't exist", 404)


def instance_not_found(deployment: str, job: str, index_or_id: str, q: Quote = _q) -> DirectorError:
    return DirectorError(70001, f"{q(f'{deployment}/{job}/{index_or_id}')} doesn't exist", 404)


def invalid_instance_index(value: str, q: Quote = _q, or_id: bool = True) -> DirectorError:
    """Today: "Invalid instance index or id 'x'"; 1.3098 took an index only: "Invalid instance index `x'"."""
    what = "index or id" if or_id else "index"
    return DirectorError(70002, f"Invalid instance {what} {q(value)}", 400)


def job_not_found(deployment: str, job: str) -> DirectorError:
    return DirectorError(70009, f"Job '{job}' doesn't exist in deployment '{deployment}'", 404)


def bad_manifest(message: str) -> DirectorError:
    return DirectorError(440001, message, 400)


def deployment_invalid(message: str, code: int = 140000) -> DirectorError:
    """Manifest problems found while binding the deployment plan (reported by the task)."""
    return DirectorError(code, message, 400)


# codes used by deployment-plan validation (errors.rb, JobXxx / NetworkXxx families)
JOB_UNKNOWN_RELEASE = 140003
JOB_MISSING_TEMPLATE = 140005
JOB_UNKNOWN_RESOURCE_POOL = 140007
JOB_NETWORK_INSTANCE_IP_MISMATCH = 140008
JOB_UNKNOWN_NETWORK = 140012
JOB_DUPLICATE_NAME = 140013
JOB_INVALID_INSTANCES = 140001
NETWORK_STATIC_IP_OUT_OF_RANGE = 130002
NETWORK_IP_IN_USE = 130003
NETWORK_NO_CAPACITY = 130004
DIRECTOR_UUID_MISMATCH = 440002
INSTANCE_NOT_RUNNING = 400007
INSTANCE_VM_MISSING = 70004
RPC_REMOTE_EXCEPTION = 450001
JOB_NOT_FOUND = 70009
SIMULATED_FAILURE = 100
# any exception that is not a DirectorError (`DirectorError.create_from_exception`)
NON_DIRECTOR_ERROR = 100
# Lock::TimeoutError is not a DirectorError: the event log reports it with the generic code 100
LOCK_TIMEOUT = 100


def resource_not_found(blobstore_id: str, q: Quote = _q) -> DirectorError:
    return DirectorError(100002, f"Resource {q(blobstore_id)} not found in the blobstore", 404)
