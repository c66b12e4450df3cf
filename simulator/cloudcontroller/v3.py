"""Read-only CC v3 views of the v2 app model: what cf CLI 6.40-6.53 reads for `cf app` and
the summary after `cf push` (wire-contracts §7; v2v3 actor `GetApplicationSummaryByNameAndSpace`):

* `GET /v3/apps?names=&space_guids=` and `/v3/apps/<guid>`: the app (state, lifecycle),
* `GET /v3/apps/<guid>/processes`, `/v3/processes/<guid>`: its one `web` process, whose guid
  is the app guid as on a real CC (v2 apps are v3 apps with a web process),
* `GET /v3/processes/<guid>/stats`: per-instance state and usage (from Diego, as v2 stats),
* `GET /v3/apps/<guid>/droplets/current`: the staged droplet (404 before staging).

Nothing here changes state; writes stay on v2, which is what v6 `push`/`scale` use.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from simulator.cloudcontroller.cc import _attr, _epoch_seconds
from simulator.cloudcontroller.errors import CCError
from simulator.cloudcontroller.models import App

if TYPE_CHECKING:
    from simulator.cloudcontroller.cc import CloudController

USAGE_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class V3Views:
    def __init__(self, cc: CloudController) -> None:
        self.cc = cc

    def _base(self) -> str:
        return self.cc.endpoints()["api"] + "/v3"

    def _stack_name(self, app: App) -> str:
        stack = self.cc.store.get("stacks", app.stack_guid)
        return stack.name if stack else "cflinuxfs2"

    # ------------------------------------------------------------------ apps

    def apps(self, names: list[str] | None, space_guids: list[str] | None, guids: list[str] | None,
             org_guids: list[str] | None) -> list[App]:
        def org_of(app: App) -> str | None:
            space = self.cc.store.get("spaces", app.space_guid)
            return space.organization_guid if space else None

        found = [a for a in self.cc.store.all("apps")
                 if (names is None or a.name in names) and (space_guids is None or a.space_guid in space_guids)
                 and (guids is None or a.guid in guids) and (org_guids is None or org_of(a) in org_guids)]
        return sorted(found, key=lambda a: (a.created_at, a.name))

    def app(self, app: App) -> dict[str, Any]:
        base = self._base()
        g = app.guid
        return {
            "guid": g, "name": app.name, "state": app.state, "created_at": app.created_at,
            "updated_at": app.updated_at or app.created_at,
            "lifecycle": {"type": "docker", "data": {}} if app.docker_image else {
                "type": "buildpack",
                "data": {"buildpacks": [app.buildpack] if app.buildpack else [], "stack": self._stack_name(app)}},
            "relationships": {"space": {"data": {"guid": app.space_guid}}},
            "metadata": {"labels": {}, "annotations": {}},
            "links": {"self": {"href": f"{base}/apps/{g}"},
                      "space": {"href": f"{base}/spaces/{app.space_guid}"},
                      "processes": {"href": f"{base}/apps/{g}/processes"},
                      "droplets": {"href": f"{base}/apps/{g}/droplets"},
                      "current_droplet": {"href": f"{base}/apps/{g}/droplets/current"}},
        }

    # ------------------------------------------------------------------ processes

    def process(self, app: App) -> dict[str, Any]:
        base = self._base()
        g = app.guid
        return {
            "guid": g, "type": "web", "command": app.command or app.detected_start_command or None,
            "instances": app.instances, "memory_in_mb": app.memory, "disk_in_mb": app.disk_quota,
            "health_check": {"type": app.health_check_type,
                             "data": {"timeout": app.health_check_timeout, "invocation_timeout": None}},
            "created_at": app.created_at, "updated_at": app.updated_at or app.created_at,
            "relationships": {"app": {"data": {"guid": g}}},
            "metadata": {"labels": {}, "annotations": {}},
            "links": {"self": {"href": f"{base}/processes/{g}"}, "app": {"href": f"{base}/apps/{g}"},
                      "space": {"href": f"{base}/spaces/{app.space_guid}"},
                      "stats": {"href": f"{base}/processes/{g}/stats"}},
        }

    def process_stats(self, app: App) -> list[dict[str, Any]]:
        """One entry per desired index. A stopped or unstaged app reports every index DOWN;
        Diego's BBS being down is a 503 (CC's `StatsUnavailable`)."""
        now = time.time()
        usage_time = time.strftime(USAGE_TIME_FORMAT, time.gmtime(now))

        def down(index: int) -> dict[str, Any]:
            return {"type": "web", "index": index, "state": "DOWN", "host": None, "uptime": 0,
                    "mem_quota": None, "disk_quota": None, "fds_quota": None, "isolation_segment": None,
                    "details": None, "usage": {}, "instance_ports": []}

        if app.state != "STARTED" or app.package_state != "STAGED":
            return [down(i) for i in range(app.instances)]
        try:
            best = self.cc._by_index(app)
        except CCError as exc:
            raise CCError("InstancesUnavailable", description=f"Stats server temporarily unavailable. {exc}")
        out = []
        for index in range(app.instances):
            if index not in best:
                out.append(down(index))
                continue
            state, lrp = best[index]
            since = _epoch_seconds(_attr(lrp, "since", 0))
            port = _attr(lrp, "port", None)
            out.append({
                "type": "web", "index": index, "state": state, "host": _attr(lrp, "cell_ip", None),
                "uptime": int(max(0.0, now - since)) if since and state == "RUNNING" else 0,
                "mem_quota": app.memory * 1024 * 1024, "disk_quota": app.disk_quota * 1024 * 1024,
                "fds_quota": 16384, "isolation_segment": None,
                "details": _attr(lrp, "details", None) or _attr(lrp, "placement_error", None),
                "usage": {"time": usage_time, "cpu": 0.0, "mem": 0, "disk": 0},
                "instance_ports": [{"external": port, "internal": 8080}] if port else []})
        return out

    # ------------------------------------------------------------------ droplets

    def current_droplet(self, app: App) -> dict[str, Any]:
        droplet = app.droplet
        if droplet is None or app.package_state != "STAGED":
            raise CCError("ResourceNotFound", "Droplet not found")
        base = self._base()
        guid = str(getattr(droplet, "guid", "") or app.guid)
        buildpack = app.detected_buildpack or app.buildpack
        return {
            "guid": guid, "state": "STAGED", "error": None,
            "lifecycle": {"type": "buildpack", "data": {}},
            "buildpacks": [{"name": buildpack, "detect_output": buildpack, "buildpack_name": buildpack,
                            "version": None}] if buildpack else [],
            "stack": self._stack_name(app), "image": None,
            "execution_metadata": "",
            "process_types": {"web": app.detected_start_command or getattr(droplet, "command", "") or ""},
            "checksum": {"type": "sha256", "value": app.staged_package_hash},
            "created_at": app.package_updated_at or app.created_at,
            "updated_at": app.updated_at or app.created_at,
            "relationships": {"app": {"data": {"guid": app.guid}}},
            "metadata": {"labels": {}, "annotations": {}},
            "links": {"self": {"href": f"{base}/droplets/{guid}"}, "app": {"href": f"{base}/apps/{app.guid}"}},
        }

