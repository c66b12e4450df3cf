"""What the director asks the VMs' agents besides deploying: `ssh` (setup/cleanup) and
`fetch_logs`, and the blobstore the agents put log bundles in (`GET /resources/:id`).

Era differences (docs/architecture.md, Era: BOSH director):
* ssh, 1.3098 (jobs/ssh.rb): targets are filtered by `job` and `indexes` (the `ids` a newer
  CLI also sends are ignored); each result entry is the agent's answer plus `index`. The
  stemcell-2776 agent answers `command`, `status`, `ip` only. Today: `ids` (uuids or
  indexes) and `indexes`, only instances with a VM, and the entry adds `id`, `job`, and the
  agent's `host_public_key`.
* fetch_logs, 1.3098: one instance by job and index (looked up in the request); the task
  result is the blobstore id. Today: `*` for job or index means all, and several instances'
  bundles are packed together (`<job>.<uuid>.<time>.tgz` each).
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import threading
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

from simulator.director import errors, presenters
from simulator.director.errors import DirectorError
from simulator.director.sshd import VmSshd
from simulator.director.state import Deployment, DirectorState, Instance
from simulator.director.tasks import Stage, Task
from simulator.director.vmfs import VmDisks


def _ruby_inspect(value: Any) -> str:
    """Ruby 2's Hash#inspect/Array#inspect, for task descriptions such as
    `ssh: setup:{"job"=>"db", "indexes"=>["0"]}`."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_ruby_inspect(k)}=>{_ruby_inspect(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_ruby_inspect(v) for v in value) + "]"
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value))


class Agents:
    def __init__(self, director: DirectorState, state_dir: Path, listen: bool) -> None:
        self.d = director
        self.disks = VmDisks(Path(state_dir) / "vms")
        self.sshd = VmSshd(self.disks, listen)
        self._blobs = Path(state_dir) / "director" / "blobstore"
        self._lock = threading.Lock()

    def close(self) -> None:
        self.sshd.close()

    # ---------------------------------------------------------------- blobstore

    def put_blob(self, data: bytes) -> str:
        blob_id = str(uuidlib.uuid4())
        self._blobs.mkdir(parents=True, exist_ok=True)
        (self._blobs / blob_id).write_bytes(data)
        return blob_id

    def blob(self, blob_id: str) -> bytes:
        path = self._blobs / blob_id
        if not re.fullmatch(r"[0-9a-f-]{36}", blob_id) or not path.is_file():
            raise errors.resource_not_found(blob_id, self.d.era.q)
        return path.read_bytes()

    # ---------------------------------------------------------------- ssh

    def submit_ssh(self, name: str, payload: dict[str, Any], user: str) -> Task:
        era = self.d.era
        if era.name == "2015":  # InstanceManager#ssh looks up the body's deployment_name
            name = str(payload.get("deployment_name") or name)
        dep = self.d.get_deployment(name)
        command = str(payload.get("command") or "")
        target = payload.get("target") if isinstance(payload.get("target"), dict) else {}
        params = payload.get("params") if isinstance(payload.get("params"), dict) else {}
        task = self.d.new_task("ssh", f"ssh: {command}:{_ruby_inspect(target)}", user, name)

        def work(t: Task) -> str | None:
            instances = self._ssh_targets(dep, target)
            results = []
            for inst in instances:
                t.debug(f"ssh {command} {era.q(f'{inst.view.group}/{inst.view.index}')}")
                results.append(self._ssh_one(inst, command, params))
                self.d.events.record(user, f"{command} ssh", "instance", f"{inst.view.group}/{inst.view.id}",
                                     task=t.id, deployment=name, instance=f"{inst.view.group}/{inst.view.id}",
                                     context={"user": params.get("user_regex") or params.get("user")})
            t.result_line(results)
            return None

        return self.d.run_task(task, work, None)

    def _ssh_targets(self, dep: Deployment, target: dict[str, Any]) -> list[Instance]:
        era = self.d.era
        job = target.get("job")
        indexes = [str(i) for i in target.get("indexes") or []]
        ids = [str(i) for i in target.get("ids") or []]
        with self.d._lock:
            candidates = sorted(dep.instances, key=lambda i: (i.view.group, i.view.index))
        if job:
            candidates = [i for i in candidates if i.view.group == job]
        if era.name == "2015":
            for value in indexes:  # an integer column compared with text (postgres)
                if not re.fullmatch(r"\s*[-+]?\d+\s*", value):
                    raise DirectorError(errors.NON_DIRECTOR_ERROR,
                                        f'PG::InvalidTextRepresentation: ERROR:  invalid input syntax for '
                                        f'integer: "{value}"', 500)
            if indexes:
                candidates = [i for i in candidates if str(i.view.index) in {v.strip().lstrip("+") for v in indexes}]
            if not candidates:
                shown = {"deployment_id": dep.name, **({"index": indexes} if indexes else {}),
                         **({"job": job} if job else {})}
                raise DirectorError(70001, f"No instances matched {_ruby_inspect(shown)}", 404)
            missing = [i for i in candidates if i.vm_cid is None]
            if missing:
                raise DirectorError(errors.INSTANCE_VM_MISSING,
                                    f"{era.q(f'{missing[0].view.group}/{missing[0].view.index}')} doesn't reference a VM", 400)
            return candidates
        wanted = ids or indexes
        if wanted:
            candidates = [i for i in candidates if str(i.view.index) in wanted or i.view.id in wanted]
        found = [i for i in candidates if i.vm_cid is not None]
        if not found:
            raise DirectorError(errors.NON_DIRECTOR_ERROR,
                                f"No instance with a VM in deployment '{dep.name}' matched filter "
                                f"{_ruby_inspect({'job': job} if job else {})}", 500)
        return found

    def _ssh_one(self, inst: Instance, command: str, params: dict[str, Any]) -> dict[str, Any]:
        if command == "setup":
            try:
                self.sshd.setup(inst.view, str(params.get("user") or ""), str(params.get("public_key") or ""))
            except ValueError as exc:
                raise DirectorError(errors.RPC_REMOTE_EXCEPTION, f"Action Failed ssh: {exc}", 400)
            result: dict[str, Any] = {"command": "setup", "status": "success", "ip": inst.view.ips[0]}
            if self.d.era.ssh_host_key_in_result:
                result["host_public_key"] = self.sshd.host_public_key(inst.view)
        elif command == "cleanup":
            self.sshd.cleanup(inst.view, str(params.get("user_regex") or ""))
            result = {"command": "cleanup", "status": "success"}
        else:
            raise DirectorError(errors.RPC_REMOTE_EXCEPTION, "Action Failed ssh: Unknown command for SSH method", 400)
        return presenters.ssh_result(self.d.era, inst, result)

    # ---------------------------------------------------------------- logs

    def submit_fetch_logs(self, name: str, job: str, index_or_id: str, kind: str, filters: list[str],
                          user: str) -> Task:
        era = self.d.era
        dep = self.d.get_deployment(name)
        if era.name == "2015":
            if not re.fullmatch(r"\s*[-+]?\d+\s*", index_or_id):  # Models::Instance.find(index: ...) on postgres
                raise errors.ServerError(f'PG::InvalidTextRepresentation: invalid input syntax for integer: "{index_or_id}"')
            instances = [self.d.find_instance(dep, job, index_or_id)]
        else:
            with self.d._lock:
                instances = [i for i in sorted(dep.instances, key=lambda i: (i.view.group, i.view.index))
                             if (job == "*" or i.view.group == job)
                             and (index_or_id == "*" or str(i.view.index) == index_or_id or i.view.id == index_or_id)]
            if job == "*" or index_or_id == "*":  # a wildcard means the instances that have a VM
                instances = [i for i in instances if i.vm_cid is not None]
            if not instances:
                raise errors.instance_not_found(name, job, index_or_id)
        task = self.d.new_task("fetch_logs", "fetch logs", user, name)

        def work(t: Task) -> str | None:
            if len(instances) == 1:
                return self._fetch(t, instances[0], kind, filters)
            bundle = io.BytesIO()
            with tarfile.open(fileobj=bundle, mode="w:gz") as tar:
                for inst in instances:
                    data = self._fetch(t, inst, kind, filters, keep=False)
                    info = tarfile.TarInfo(f"./{inst.view.group}.{inst.view.id}."
                                           f"{time.strftime('%Y-%m-%d-%H-%M-%S', time.gmtime())}.tgz")
                    info.size, info.mtime = len(data), int(time.time())
                    tar.addfile(info, io.BytesIO(data))
            step = Stage(t, "Fetching group of logs", 1).step("Packing log files together")
            step.started()
            blob_id = self.put_blob(bundle.getvalue())
            step.finished()
            return blob_id

        return self.d.run_task(task, work, name, deployment_lock=True)

    def _fetch(self, task: Task, inst: Instance, kind: str, filters: list[str], keep: bool = True) -> Any:
        """The agent packs the logs (a stage per instance); the blobstore id, or the bytes."""
        if inst.vm_cid is None:
            raise DirectorError(errors.INSTANCE_VM_MISSING, f"{self.d.era.q(self.d.label(inst))} doesn't reference a VM",
                                400)
        step = Stage(task, f"Fetching logs for {self.d.label(inst)}", 1).step("Finding and packing log files")
        step.started()
        data = self.disks.pack_logs(inst.view, kind, filters)
        step.finished()
        return self.put_blob(data) if keep else data
