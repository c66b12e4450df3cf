"""The test doubles of tests/: one FakeDirector, one FakeCC.

Both stand in for the *client surface* the helpers use (`helpers.bosh.Director`,
`helpers.cf.CloudFoundry` plus the router, recent logs and ssh in front of the apps), in
memory, with switches for the failures the tests need. They are deliberately simple and
era-agnostic: anything that depends on how the real components behave on the wire is
tested against the simulator or the clients' own HTTP fakes, not here.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from helpers.http_probe import FetchResult

V0 = {"cf": "220", "diego": "0.1434.0", "garden-linux": "0.307.0"}
V_PRIME = {"cf": "231", "diego": "0.1454.0", "garden-linux": "0.333.0", "etcd": "36"}
CELL_IPS = {"cell1": "10.244.16.2", "cell2": "10.244.16.6"}  # by deployment name suffix


@dataclass
class Task:
    id: int
    deployment: str
    state: str = "done"
    description: str = "create deployment"


class TaskFailed(RuntimeError):
    def __init__(self, task_id: int, deployment: str, message: str) -> None:
        super().__init__(f"BOSH task {task_id} for deployment {deployment} ended in state 'error': {message}")
        self.task_id = task_id


class FakeDirector:
    """A director's deployments, releases and tasks, in memory.

    `existing`: deployment -> release -> version. `fail_on`: a substring of
    "<action> <deployment>" (action: deploy | stopped | started | delete) whose task fails.
    `calls` lists every task as (action, deployment). `ips` maps deployment -> instance IPs
    (default: by its name's cell suffix).
    """

    def __init__(self, existing: dict[str, dict[str, str]] | None = None,
                 uploaded: list[tuple[str, str]] | None = None, authenticated: str | None = "admin",
                 ips: dict[str, list[str]] | None = None) -> None:
        self.existing = dict(existing or {})
        self.uploaded = list(uploaded if uploaded is not None else
                             [(n, v) for vs in (V0, V_PRIME) for n, v in vs.items()])
        self.authenticated = authenticated
        self.ips = dict(ips or {})
        self.state: dict[str, str] = {}  # deployment -> started | stopped
        self.calls: list[tuple[str, str]] = []
        self.events: list[dict[str, Any]] = []
        self.fail_on: str | None = None
        self._ids = itertools.count(1)

    # -- reads --------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return {"name": "fake", "uuid": "uuid-1", "version": "1.3262.0"}

    def uuid(self) -> str:
        return "uuid-1"

    def authenticated_user(self) -> str | None:
        return self.authenticated

    def releases(self) -> list[dict[str, Any]]:
        out: dict[str, list[dict[str, str]]] = {}
        for n, v in self.uploaded:
            out.setdefault(n, []).append({"version": v})
        return [{"name": n, "release_versions": vs} for n, vs in out.items()]

    def stemcells(self) -> list[dict[str, str]]:
        return [{"name": "stem", "version": "2776"}]

    def deployment_names(self) -> list[str]:
        return list(self.existing)

    def deployments(self) -> list[dict[str, Any]]:
        return [{"name": n, "releases": [{"name": k, "version": v} for k, v in r.items()]}
                for n, r in self.existing.items()]

    def instances(self, name: str) -> list[dict[str, Any]]:
        ips = self.ips.get(name) or [ip for suffix, ip in CELL_IPS.items() if name.endswith(suffix)] or ["10.244.0.2"]
        return [{"job": "cell", "index": 0, "ips": ips}]

    # -- tasks --------------------------------------------------------------------------------

    def _task(self, action: str, name: str) -> Task:
        task_id = next(self._ids)
        self.calls.append((action, name))
        if self.fail_on and self.fail_on in f"{action} {name}":
            raise TaskFailed(task_id, name, "injected")
        return Task(task_id, name)

    def deploy(self, manifest_yaml: str, on_event: Any = None) -> Task:
        doc = yaml.safe_load(manifest_yaml)
        if on_event:
            on_event({"stage": "Updating instance", "task": doc["name"], "state": "started"})
        task = self._task("deploy", doc["name"])
        self.existing[doc["name"]] = {r["name"]: str(r["version"]) for r in doc.get("releases") or []}
        self.state[doc["name"]] = "started"
        return task

    def change_job_state(self, name: str, state: str, on_event: Any = None) -> Task:
        task = self._task(state, name)
        self.state[name] = state
        return task

    def delete_deployment(self, name: str, on_event: Any = None, force: bool = False) -> Task:
        task = self._task("delete", name)
        self.existing.pop(name, None)
        self.state.pop(name, None)
        return task


@dataclass
class Line:
    message: str
    source_type: str
    source_instance: str
    timestamp_ns: int = 0


@dataclass
class SshResult:
    exit_status: int
    stdout: str
    stderr: str = ""


@dataclass
class App:
    guid: str
    name: str
    instances: int
    routed: bool = True
    host: str = ""
    domain: str = "bosh-lite.com"
    routes: list[str] = field(default_factory=list)


class FakeCC:
    """A tiny CF in memory: the CC client surface (push, instances, stats, scale, routes,
    delete, info, ssh code), the router in front of the apps (`http`), their recent logs
    (`recent_logs`) and ssh into them (`ssh_exec`). Apps behave like the probe app
    (`/env`, `/id`, `/log/<nonce>`).

    The router round-robins every request over the app's instances: like the gorouter of
    cf v220/v231 it knows no `X-CF-APP-INSTANCE` (docs/era-facts.md §5).

    Switches: `crash` {(guid, index)}; `drop_logs`; `ssh_exit`; `wrong_index_ssh`;
    `stale_after_scale_down` (the router still knows the removed instance for N requests);
    `push_error` (raised by push).
    """

    def __init__(self) -> None:
        self.apps: dict[str, App] = {}
        self.deleted_routes: list[str] = []
        self.logs: dict[str, list[Line]] = {}
        self.crash: set[tuple[str, int]] = set()
        self.rr = 0
        self.drop_logs = False
        self.ssh_exit = 0
        self.wrong_index_ssh = False
        self.stale_after_scale_down = 0
        self.push_error: Exception | None = None
        self.orgs: dict[str, str] = {}
        self.deleted_orgs: list[str] = []
        self.host_of: dict[str, str] = {}  # stats host per app guid
        self.place: Any = None  # () -> the cell IP new instances land on (default: cell1's)
        self.logins = 0

    # -- the CC client surface ------------------------------------------------------------

    def login(self) -> None:
        self.logins += 1

    def info(self, refresh: bool = False) -> dict[str, Any]:
        return {"app_ssh_endpoint": "ssh.bosh-lite.com:2222", "app_ssh_host_key_fingerprint": "aa:bb"}

    def ssh_endpoint(self) -> tuple[str, str, str]:
        return "ssh.bosh-lite.com:2222", "aa:bb", "ssh-proxy"

    def ssh_code(self) -> str:
        return "code"

    def ensure_org_space(self, org: str, space: str) -> tuple[str, str]:
        self.orgs.setdefault(org, f"org-{org}")
        return self.orgs[org], f"space-{space}"

    def delete_org(self, guid: str) -> bool:
        self.deleted_orgs.append(guid)
        return True

    def push(self, name: str, app_dir: Any, space_guid: str, instances: int = 1, enable_ssh: bool = True,
             memory: int = 64) -> App:
        if self.push_error is not None:
            raise self.push_error
        guid = f"guid-{name}"
        self.apps[guid] = App(guid, name, instances, host=name, routes=[f"route-{guid}"])
        return self.apps[guid]

    def app_url(self, app: Any) -> str:
        name = app["name"] if isinstance(app, dict) else app.name
        return f"http://{name}.bosh-lite.com"

    def routes(self, guid: str) -> list[dict[str, str]]:
        return [{"guid": f"route-{guid}"}]

    def instances(self, guid: str) -> dict[int, str]:
        a = self.apps[guid]
        return {i: ("CRASHED" if (guid, i) in self.crash else "RUNNING") for i in range(a.instances)}

    def stats(self, guid: str) -> dict[int, dict[str, Any]]:
        host = self.host_of.get(guid) or (self.place() if self.place is not None else CELL_IPS["cell1"])
        return {i: {"host": host, "port": 6000 + i} for i in range(self.apps[guid].instances)}

    def scale(self, guid: str, n: int) -> None:
        if n < self.apps[guid].instances:
            self.stale_after_scale_down = 2
        self.apps[guid].instances = n

    def delete_route(self, route_guid: str) -> bool:
        self.deleted_routes.append(route_guid)
        for app in self.apps.values():
            if route_guid in app.routes:
                app.routed = False
        return True

    def delete_app(self, guid: str) -> bool:
        app = self.apps[guid]
        app.routed = False
        app.instances = 0
        return True

    # -- the router ---------------------------------------------------------------------------

    def http(self, url: str, headers: dict[str, str] | None = None) -> FetchResult:
        rest = url.split("//", 1)[1]
        host = rest.split(".")[0]
        path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        app = next((a for a in self.apps.values() if a.name == host and a.routed), None)
        if app is None:
            return FetchResult(404, {"X-Cf-Routererror": "unknown_route"}, "")
        n = app.instances
        pool = n + 1 if self.stale_after_scale_down else n  # the router still knows a removed instance
        idx = self.rr % max(pool, 1)
        self.rr += 1
        if self.stale_after_scale_down:
            self.stale_after_scale_down -= 1
        if (app.guid, idx) in self.crash:
            return FetchResult(502, {"X-Cf-Routererror": "endpoint_failure"}, "")
        if path == "/env":
            return FetchResult(200, {}, json.dumps({"CF_INSTANCE_INDEX": str(idx),
                                                    "CF_INSTANCE_GUID": f"{app.guid}-{idx}"}))
        if path == "/id":
            return FetchResult(200, {}, f"{app.guid}-{idx}")
        if path.startswith("/log/"):
            nonce = path.split("/log/")[1]
            if not self.drop_logs:
                self.logs.setdefault(app.guid, []).append(Line(f"nonce {nonce} index {idx}", "APP/PROC/WEB", str(idx)))
            return FetchResult(200, {}, "ok")
        return FetchResult(200, {}, f"probe {host} instance {idx}")

    def recent_logs(self, cf: Any, guid: str) -> list[Line]:
        return list(self.logs.get(guid, []))

    def ssh_exec(self, endpoint: str, fingerprint: str, user: str, password: str, command: str, resolver: Any,
                 timeout: float) -> SshResult:
        idx = int(user.rsplit("/", 1)[1])
        marker = command.split("echo ")[2].split(";")[0].strip()
        shown = 1 - idx if self.wrong_index_ssh else idx
        return SshResult(self.ssh_exit, f"index={shown}\n{marker}\n", marker)


SUFFIX = {"cf": "", "database": "-diego-database", "brain-and-pals": "-diego-brain-and-pals",
          "cell1": "-diego-cell1", "cell2": "-diego-cell2"}


def fake_generate(versions: str, target: str, director_uuid: str, out: Any, stubs: Any, prefix: str, *,
                  secrets_file: Any, cf_admin_user: str | None, cf_admin_password: str | None) -> dict[str, Any]:
    """Stands in for `manifests.generate.generate`: five tiny manifests naming their releases."""
    from pathlib import Path

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for piece, suffix in SUFFIX.items():
        releases = dict(V0 if versions == "v0" else V_PRIME)
        if piece == "cf":
            releases = {"cf": releases["cf"]}
        doc = {"name": prefix + suffix, "director_uuid": director_uuid,
               "releases": [{"name": k, "version": v} for k, v in releases.items()],
               "resource_pools": [{"name": "z1", "stemcell": {"name": "stem", "version": "2776"}}],
               "admin": cf_admin_user}
        path = out / f"{piece}.yml"
        path.write_text(yaml.safe_dump(doc))
        paths[piece] = path
    return paths


def upgrade_config(cell_stop: str = "stop", manifests: dict[str, str | None] | None = None) -> Any:
    """The parts of a suite config the upgrade's helpers read."""
    from types import SimpleNamespace

    return SimpleNamespace(
        upgrade=SimpleNamespace(deployment_prefix="cf-warden", versions={"v0": "v0", "v_prime": "v_prime"},
                                manifests=manifests or {"v0": None, "v_prime": None}, stubs=(), cell_stop=cell_stop),
        cf=SimpleNamespace(admin_user="admin", admin_password="pw", system_domain="bosh-lite.com",
                           apps_domain="bosh-lite.com"),
        timeout_scale=1.0, timeout=lambda name: 1.0)


def fake_manifests(directory: Any, **config: Any) -> Any:
    """Manifest sets for a fake director, generated by `fake_generate`."""
    from manifests.sets import prepare

    return prepare(upgrade_config(**config), "uuid-1", directory, generate=fake_generate)
