"""Running an errand (`POST /deployments/:d/errands/:name/runs`, `bosh run-errand`).

Errand instance groups (`lifecycle: errand`) are part of the plan but get no VMs at deploy
time (updater.py leaves them out). Running one creates its instances, runs the job once
(the simulator's errands always succeed: exit code 0), writes one result line per instance
and, unless `keep-alive`, deletes the VMs again, so they show in `/instances` only while
the errand runs. Task type `run_errand`, result `Errand 'x' completed successfully (exit code 0)`.
"""

from __future__ import annotations

import uuid as uuidlib

from simulator.director import errors
from simulator.director.errors import DirectorError
from simulator.director.state import DirectorState, Instance
from simulator.director.tasks import Stage, Task
from simulator.director.updater import Updater, consume_task_faults, create_vm, delete_instance
from simulator.world import InstanceView

# bosh errors.rb: RunErrandError (a group that is not an errand)
RUN_ERRAND_ERROR = 80002


def run_errand(director: DirectorState, task: Task, name: str, errand: str, keep_alive: bool) -> str:
    fail_message = consume_task_faults(director, task, name)
    dep = director.get_deployment(name)
    group = dep.plan.group(errand)
    if group is None:
        raise DirectorError(errors.JOB_NOT_FOUND, f"Errand '{errand}' doesn't exist", 404)
    if not group.is_errand:
        raise DirectorError(RUN_ERRAND_ERROR,
                            f"Instance group '{errand}' is not an errand. To mark an instance group as an errand "
                            "set its lifecycle to 'errand' in the deployment manifest.", 400)
    if fail_message is not None:
        raise DirectorError(errors.SIMULATED_FAILURE, fail_message)

    created: list[Instance] = []
    with director._lock:
        held: dict[str, str] = {}
        dep_of: dict[str, str] = {}
        for other in director.deployments.values():
            for inst in other.instances:
                dep_of[inst.view.id] = other.name
                for ip in inst.networks.values():
                    held[ip] = inst.view.id
        for ip, (dep_name, inst_id) in director.pending_ips.items():
            held.setdefault(ip, inst_id)
            dep_of.setdefault(inst_id, dep_name)
        pools: dict[str, tuple[list[str], set[str]]] = {}
        for index in range(group.instances):
            inst_id = str(uuidlib.uuid4())
            nets = Updater._allocate(dep.plan, group, index, inst_id, {}, held, dep_of, pools)
            az = group.azs[index % len(group.azs)] if group.azs else None
            view = InstanceView(name, group.name, index, inst_id, list(nets.values()), list(group.templates),
                                group.properties, state="started", job_state="starting")
            inst = Instance(view=view, az=az, vm_type=group.vm_type, stemcell=group.stemcell, networks=dict(nets),
                            bootstrap=index == 0, persistent_disk=group.persistent_disk)
            create_vm(inst)
            dep.instances.append(inst)
            created.append(inst)

    profile = director.world.profile
    try:
        stage = Stage(task, director.era.create_vms_stage, len(created))
        for inst in created:
            step = stage.step(director.label(inst))
            step.started()
            task.sleep(profile.stage_step)
            step.finished()
        task.checkpoint()
        stage = Stage(task, "Running errand", len(created))
        for inst in created:
            step = stage.step(director.label(inst))
            step.started()
            inst.view.job_state = "running"
            director.world.bus.emit("started", inst.view)
            task.sleep(profile.instance_update)
            inst.view.job_state = "stopped"
            task.result_line({"exit_code": 0, "stdout": f"errand {errand} ran on {director.label(inst)}\n", "stderr": "",
                              "logs": {"blobstore_id": None}, "errand_name": errand,
                              "instance": {"group": group.name, "id": inst.view.id}})
            step.finished()
    finally:
        if not keep_alive:
            stage = Stage(task, "Deleting errand instances", len(created))
            for inst in created:
                step = stage.step(director.label(inst))
                step.started()
                delete_instance(director, dep, inst, skip_drain=True, force=True)
                step.finished()
    return f"Errand '{errand}' completed successfully (exit code 0)"
