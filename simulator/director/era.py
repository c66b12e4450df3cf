"""Which director the simulator is: the BOSH-Lite director of late 2015, or one of today.

Everything that differs between the two is data here, so that the HTTP layer (api.py), the
models and the presenters ask one question ("does this era have X?") instead of comparing
version strings. The facts and their sources are in docs/architecture.md, section
"Era: BOSH director"; the short form:

* `2015` is bosh 1.3098.0 ("Adding final release for build 3098", cloudfoundry/bosh@5ea8a74f9d,
  2015-10-07): the final release current when cf v220 was cut (2015-10-08) and the build the
  era facts of ../shared/docs/era-facts.md §2 describe. Sinatra 1.4 behind nginx: auth is a
  route condition, an unmatched route is Sinatra's `<h1>Not Found</h1>`, nginx passes `Host`
  without the port (so redirects name no port), job-level state changes read the manifest
  from the body, instance paths take an index only, messages quote names `like this'.
* `current` is bosh v283.1.6 (tag of cloudfoundry/bosh, the newest in the mirror): auth in a
  `before` filter, `Endpoint '<path>' not found.`, `/instances`, `/diff`, `/events`,
  `/configs`, `/tasks?deployment=`, non-converging instance actions, tasks with
  `started_at`/`deployment`/`context_id`.
"""

from __future__ import annotations

from dataclasses import dataclass

ERAS = ("2015", "current")
DEFAULT_ERA = "2015"

# endpoints every era serves (names of api.py's rules)
_COMMON = frozenset({
    "info", "tasks", "task", "task_output", "cancel_task", "deployments", "deploy", "deployment",
    "delete_deployment", "job_state", "instance_state", "errands", "run_errand", "vms", "releases", "release",
    "upload_release", "stemcells", "upload_stemcell", "cloud_configs", "locks", "package_matches",
    "package_matches_compiled", "ssh", "logs", "resource",
})
# what later directors added (first final release in brackets, era-facts §2)
_LATER = frozenset({
    "instances",  # 1.3213
    "diff",  # 1.3181
    "runtime_configs",  # 1.3213
    "events",  # 1.3232
    "configs",  # 2017-10 (98f8accf1d)
    "cancel_tasks",  # POST /tasks/cancel
    "instance_action",  # v270.3.0 (non-converging actions)
})

# the first path segment of every controller mounted on the director (Rack::URLMap): a path
# outside these is answered by the URLMap itself, `Not Found: <path>`
_MOUNTS_1_3098 = frozenset({"backups", "cloud_configs", "deployments", "info", "locks", "packages", "releases",
                            "resources", "resurrection", "stemcells", "task", "tasks", "users"})
_MOUNTS_CURRENT = frozenset({"cleanup", "cloud_configs", "runtime_configs", "cpi_configs", "configs", "deployments",
                             "deployment_configs", "disks", "director", "dynamic_disks", "networks", "orphan_disks",
                             "orphaned_vms", "info", "locks", "packages", "releases", "resources", "resurrection",
                             "stemcells", "stemcell_uploads", "task", "tasks", "events", "vms", "jobs",
                             "link_providers", "link_consumers", "link_address", "links", "deployed_variables"})


@dataclass(frozen=True)
class DirectorEra:
    name: str
    version: str  # `/info` version: "<release version> (<revision>)"
    default_auth: str  # basic (BOSH-Lite's local users) or uaa
    routes: frozenset[str]
    mounts: frozenset[str]
    # 1.3098: auth is a condition of each route, evaluated after `consumes`; so a request
    # that matches no route is a 404 whatever its credentials. Today: a `before` filter.
    auth_before_routing: bool
    # 1.3098 behind nginx (`Host $host`): redirects are https://<host>/tasks/N, no port
    location_keeps_port: bool
    # job-level `PUT /deployments/:d/jobs/:job?state=` with an empty body uses the stored
    # manifest (from 1.3181); before, the body is always the manifest
    empty_body_job_state: bool
    # instance paths accept a uuid besides the index (`:index_or_id`, 2016)
    instance_uuid_paths: bool
    # `POST /deployments` parses the manifest in the request (400s) instead of in the task
    validates_manifest_in_request: bool
    task_keys: tuple[str, ...]
    # the task hash's `timestamp` is null while queued/processing (2019, 6cef3e854d)
    timestamp_null_while_running: bool
    update_stage: str  # the event-log stage of instance updates
    create_vms_stage: str
    # the stemcell's agent returns the VM's ssh host key in the ssh setup result (bosh-agent
    # 3977ec0e3, 2015-09-17; the 2776 warden stemcell's agent predates it)
    ssh_host_key_in_result: bool
    # quote style of names in messages: `name' (Ruby 1.8 habit, until 2016) or 'name'
    quote_open: str
    # `GET /tasks` filters besides state/limit/verbose (`deployment=` from 1.3213)
    task_filters: tuple[str, ...]

    def has(self, endpoint: str) -> bool:
        return endpoint in self.routes

    @property
    def context_ids(self) -> bool:
        """`X-Bosh-Context-Id` is read (at most 64 characters) and kept on the task: the
        directors whose task hashes carry `context_id`."""
        return "context_id" in self.task_keys

    def q(self, name: object) -> str:
        return f"{self.quote_open}{name}'"


ERA_2015 = DirectorEra(
    name="2015", version="1.3098.0 (00000000)", default_auth="basic", routes=_COMMON, mounts=_MOUNTS_1_3098,
    auth_before_routing=False, location_keeps_port=False, empty_body_job_state=False, instance_uuid_paths=False,
    validates_manifest_in_request=False, task_keys=("id", "state", "description", "timestamp", "result", "user"),
    timestamp_null_while_running=False, update_stage="Updating job", create_vms_stage="Creating bound missing VMs",
    ssh_host_key_in_result=False, quote_open="`", task_filters=(),
)

ERA_CURRENT = DirectorEra(
    name="current", version="283.1.6 (00000000)", default_auth="uaa", routes=_COMMON | _LATER,
    mounts=_MOUNTS_CURRENT, auth_before_routing=True, location_keeps_port=True, empty_body_job_state=True,
    instance_uuid_paths=True, validates_manifest_in_request=True,
    task_keys=("id", "state", "description", "timestamp", "started_at", "result", "user", "deployment", "context_id"),
    timestamp_null_while_running=True, update_stage="Updating instance", create_vms_stage="Creating missing vms",
    ssh_host_key_in_result=True, quote_open="'", task_filters=("deployment", "context_id"),
)


def era(name: str | None) -> DirectorEra:
    """The era called `name` (None: the default, the era-exact BOSH-Lite of V0's time)."""
    chosen = name or DEFAULT_ERA
    for e in (ERA_2015, ERA_CURRENT):
        if e.name == chosen:
            return e
    raise ValueError(f"unknown director era {chosen!r}; choose one of: {', '.join(ERAS)}")
