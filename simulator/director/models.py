"""The director's operations: every change a client can start, as a `Task` that runs on its
own thread, serialised per deployment as a real director's deployment lock does.

No HTTP here (see api.py). The state and the task runner are `state.py`'s `DirectorState`;
the update engine is updater.py, errands errands.py, the agents' ssh and logs agents.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator.catalog import Catalog
from simulator.director import errors, presenters, vmfs
from simulator.director.agents import Agents
from simulator.director.era import ERA_2015, DirectorEra
from simulator.director.errands import run_errand
from simulator.director.errors import DirectorError
from simulator.director.manifest import parse_manifest_text
from simulator.director.releases import Archive, from_archive, read_location
from simulator.director.state import DirectorState
from simulator.director.tasks import Task
from simulator.director.updater import Updater, delete_deployment
from simulator.world import World

# an upload: the archive read from the request, the error reading it, or None (a location)
Upload = Archive | DirectorError | None
STATES = ("started", "stopped", "detached", "restart", "recreate")


class Director(DirectorState):
    """The director: its state plus the operations that change it, and the VMs' agents."""

    def __init__(self, world: World, username: str, password: str, catalog: Catalog | None = None,
                 era: DirectorEra = ERA_2015) -> None:
        super().__init__(world, username, password, catalog, era)
        # the VMs' sshds listen on their own addresses only where the simulator owns 10.244.0.0/16
        self.agents = Agents(self, world.state_dir, listen=bool(world.settings.get("vm_network_native")))
        vmfs.attach(world, self.agents.disks)
        world.bus.subscribe("deleted", self.agents.sshd.forget)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the agents, cancel running tasks and wait (bounded) for their threads."""
        self._closed.set()
        self.agents.close()
        super().close(timeout)

    # ------------------------------------------------------------------ uploads

    def submit_release_upload(self, user: str, data: Upload = None, location: str | None = None) -> Task:
        task = self.new_task("update_release", "create release", user)

        def work(t: Task) -> str | None:
            rv = from_archive(_archive(data, location, "release"))
            _simple_stage(t, "Extracting release", "Extracting release")()
            added = self.add_release(rv)
            if not added:
                t.event({"type": "warning", "message": f"Release '{rv.name}/{rv.version}' has been previously uploaded"})
            for p in rv.packages:
                _simple_stage(t, "Creating new packages", f"{p.name}/{p.version}")()
            for job in rv.job_details:
                _simple_stage(t, "Creating new jobs", f"{job.name}/{job.version or rv.commit_hash}")()
            _simple_stage(t, "Release has been created", f"{rv.name}/{rv.version}")()
            self.events.record(user, "create", "release", rv.name, task=t.id, context={"version": rv.version})
            return f"Created release '{rv.name}/{rv.version}'"

        return self.run_task(task, work, "releases")
    def submit_stemcell_upload(self, user: str, data: Upload = None, location: str | None = None) -> Task:
        task = self.new_task("update_stemcell", "create stemcell", user)

        def work(t: Task) -> str | None:
            mf = _archive(data, location, "stemcell").manifest
            if not mf.get("name") or mf.get("version") is None:
                raise errors.stemcell_invalid("Stemcell manifest (stemcell.MF) must have 'name' and 'version'")
            name, version = str(mf["name"]), str(mf["version"])
            _simple_stage(t, "Update stemcell", "Extracting stemcell archive")()
            _simple_stage(t, "Update stemcell", "Uploading stemcell to the cloud")()
            self.add_stemcell(name, version, str(mf.get("operating_system", "ubuntu-trusty")))
            return f"/stemcells/{name}/{version}"

        return self.run_task(task, work, "stemcells")
    # ------------------------------------------------------------------ deployments

    def submit_deploy(self, manifest_text: str, user: str, options: dict[str, Any], context_id: str = "") -> Task:
        """`POST /deployments`. Today's director parses the manifest in the request (400s);
        1.3098 wrote the body to a file unread and the task found its problems."""
        if self.era.validates_manifest_in_request:
            name: str | None = str(parse_manifest_text(manifest_text)["name"])
        else:
            name = _manifest_name(manifest_text)
        desc = "create deployment (dry run)" if options.get("dry_run") else "create deployment"
        task = self.new_task("update_deployment", desc, user, name, context_id)
        return self._run_update(task, manifest_text, options, None)

    def _run_update(self, task: Task, manifest_text: str, options: dict[str, Any],
                    state_change: tuple[tuple[str, str | None], str] | None, deployment: str | None = None) -> Task:
        """The update_deployment job. `deployment` (today's state changes) overrides the
        manifest's name. Where the era parses in the task (1.3098), a manifest without a
        usable name fails the task before any lock is taken, as `Psych.load(text)['name']` does."""
        if deployment is None and not self.era.validates_manifest_in_request:
            try:
                parse_manifest_text(manifest_text)
            except DirectorError as exc:
                problem = _ruby_load_error(manifest_text, exc)

                def fail(t: Task) -> str | None:
                    raise problem

                return self.run_task(task, fail, None)
        manifest = parse_manifest_text(manifest_text)
        name = deployment or str(manifest["name"])
        manifest["name"] = name

        def work(t: Task) -> str | None:
            Updater(self, t, name, manifest_text, manifest, options, state_change=state_change).run()
            return f"/deployments/{name}"

        return self.run_task(task, work, name, deployment_lock=True)

    def submit_state_change(self, deployment: str, job: str, index_or_id: str | None, state: str,
                            body: str, user: str, options: dict[str, Any], context_id: str = "",
                            description: str = "create deployment") -> Task:
        """`PUT /deployments/:d/jobs/:job[/:index]?state=`. An empty body means the stored
        manifest, except at job level before 1.3181, where the body is always the manifest
        (an empty one fails the task as Ruby fails on it)."""
        if state not in STATES:
            raise errors.DirectorError(40000, f"Unknown state '{state}'", 400)
        dep = self.get_deployment(deployment)
        target: tuple[str, str | None] = (job, None)
        if index_or_id is not None:
            inst = self.find_instance(dep, job, index_or_id)
            target = (job, inst.view.id)
        elif job != "*" and self.era.validates_manifest_in_request:
            groups = {i.view.group for i in dep.instances} | {g.name for g in dep.plan.groups}
            if job not in groups:
                raise errors.job_not_found(deployment, job)
        task = self.new_task("update_deployment", description, user, deployment, context_id)
        if body.strip() or (index_or_id is None and not self.era.empty_body_job_state):
            # the body is the manifest; today the URL names the deployment, 1.3098 took the body's name
            return self._run_update(task, body, options, (target, state),
                                    deployment if self.era.validates_manifest_in_request else None)
        return self._run_update(task, dep.manifest_text, options, (target, state), deployment)
    def submit_delete(self, name: str, user: str, force: bool = False) -> Task:
        self.get_deployment(name)
        task = self.new_task("delete_deployment", f"delete deployment {name}", user, name)
        def work(t: Task) -> str | None:
            delete_deployment(self, t, name, force)
            return f"/deployments/{name}"

        return self.run_task(task, work, name, deployment_lock=True)

    def submit_errand(self, name: str, errand: str, user: str, keep_alive: bool = False,
                      context_id: str = "") -> Task:
        self.get_deployment(name)
        task = self.new_task("run_errand", f"run errand {errand} from deployment {name}", user, name, context_id)
        def work(t: Task) -> str | None:
            return run_errand(self, t, name, errand, keep_alive)

        return self.run_task(task, work, name, deployment_lock=True)

    def submit_vm_state(self, name: str, user: str, kind: str) -> Task:
        """`GET /deployments/:d/{vms,instances}?format=full`: one result line per VM (per
        instance for `instances`). 1.3098's task result is empty."""
        self.get_deployment(name)
        task = self.new_task("vms", "retrieve vm-stats", user, name)

        def work(t: Task) -> str | None:
            with self._lock:
                instances = list(self.get_deployment(name).instances)
            shown = [i for i in sorted(instances, key=lambda i: (i.view.group, i.view.index))
                     if kind == "instances" or i.vm_cid is not None]
            for inst in shown:
                t.result_line(presenters.vm_state(self.era, inst))
            return None if self.era.name == "2015" else f"Found {len(shown)} instances"

        return self.run_task(task, work, None)


# ---------------------------------------------------------------------- helpers


def _simple_stage(task: Task, stage: str, label: str) -> Callable[[], None]:
    def run() -> None:
        task.stage_event(stage, label, 1, 1, "started")
        task.stage_event(stage, label, 1, 1, "finished")
    return run


def _archive(data: Upload, location: str | None, what: str) -> Archive:
    if isinstance(data, DirectorError):
        raise data
    if isinstance(data, Archive):
        return data
    return read_location(location or "", what)


def _manifest_name(text: str) -> str | None:
    """The deployment a manifest names, if it parses (for the task's own record only)."""
    try:
        doc = parse_manifest_text(text)
    except DirectorError:
        return None
    return str(doc["name"])


def _ruby_load_error(text: str, problem: DirectorError) -> DirectorError:
    """What 1.3098's UpdateDeployment job fails with on a manifest it cannot use: an empty
    body loads as `false`, and `false['name']` is Ruby's NoMethodError (a generic error,
    code 100); other problems are the validation errors the planner raises."""
    if not text.strip():
        return DirectorError(errors.NON_DIRECTOR_ERROR, "undefined method `[]' for false:FalseClass", 500)
    return problem
