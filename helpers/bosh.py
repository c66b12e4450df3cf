"""BOSH Director client over its HTTP API (no `bosh` CLI, no output scraping).

Why the details matter (wire-contracts §2, §8; docs/architecture.md, Era: BOSH director):
the director routes deploy and state-change requests on `Content-Type: text/yaml`
(anything else, even on an empty body, is a 404); every long operation answers 302 to
`/tasks/<id>`, which must not be followed (a 2015 director behind nginx names no port in it);
task output is read incrementally with `Range: bytes=N-` so live progress reaches the
terminal while a deploy runs. Every error names the deployment, the task id, its state and
the director's own message.

One client for directors of every era, deciding by what the director says, never by what
it is: its `/info` version (job-level state changes carry the manifest before build 3181;
`GET /tasks?deployment=` filters only from build 3213) and the 404 of a route it lacks
(`/instances`, from 1.3213: before, instances come from the `/vms?format=full` task).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from urllib.request import url2pathname

import requests
import yaml

from helpers.config import TIMEOUT_DEFAULTS, BoshConfig
from helpers.net import REDACTOR, HelperError, Resolver, http_session, redacting_logger

__all__ = [
    "BoshApiError",
    "BoshError",
    "BoshTaskError",
    "BoshTaskTimeout",
    "Director",
    "DirectorVersion",
    "TaskResult",
]

log = redacting_logger(__name__)

EventCallback = Callable[[dict[str, Any]], None]
RUNNING_STATES = {"queued", "processing", "cancelling"}
FAILED_STATES = {"error", "cancelled", "timeout"}
MAX_POLL_ERRORS = 5  # consecutive transport failures tolerated while watching a task
_TASK_IN_LOCATION = re.compile(r"/tasks/(\d+)/?$")
_OLD_SCHEME = re.compile(r"^\s*1\.(\d+)\.")  # "1.3098.0 (00000000)": the build is 3098
_NEW_SCHEME = re.compile(r"^\s*(\d+)\.\d+")  # "283.1.6 (00000000)": v255 and later (builds >= 3232)
FIRST_NEW_SCHEME_MAJOR = 255
BUILD_EMPTY_BODY_JOB_STATE = 3181  # job-level PUT ?state= with an empty body uses the stored manifest
BUILD_TASKS_DEPLOYMENT_FILTER = 3213  # GET /tasks?deployment=


@dataclass(frozen=True)
class DirectorVersion:
    """What a director's `/info` version says about the API it serves. An unknown version
    counts as old: the requests made for old directors work on new ones too."""

    text: str
    build: int | None = None  # 1.<build>.0 directors
    new_scheme: bool = False  # v255+ (2016 on)

    @classmethod
    def parse(cls, text: str | None) -> DirectorVersion:
        text = str(text or "")
        old = _OLD_SCHEME.match(text)
        if old:
            return cls(text, build=int(old.group(1)))
        new = _NEW_SCHEME.match(text)
        if new and int(new.group(1)) >= FIRST_NEW_SCHEME_MAJOR:
            return cls(text, new_scheme=True)
        return cls(text)

    def at_least(self, build: int) -> bool:
        return self.new_scheme or (self.build is not None and self.build >= build)


class BoshError(HelperError):
    """Any failure talking to the director (transport, auth, unexpected answer)."""


class BoshApiError(BoshError):
    """The director answered with an error status; `code`/`description` from its JSON body."""

    def __init__(self, code: int | None, description: str, status: int, request: str = ""):
        self.code = code
        self.description = description
        self.status = status
        self.request = request
        code_s = f"Error {code}: " if code is not None else ""
        super().__init__(f"director answered {status} to {request}: {code_s}{description}".strip())


@dataclass
class TaskResult:
    """A finished task: its final JSON fields plus the complete event log."""

    id: int
    state: str
    description: str = ""
    result: str | None = None
    deployment: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    events_raw: str = ""
    duration: float = 0.0

    def error_messages(self) -> list[str]:
        """Error texts from the event log (task-level `error` entries and failed stages)."""
        out = []
        for e in self.events:
            if isinstance(e.get("error"), dict) and e["error"].get("message"):
                out.append(str(e["error"]["message"]))
            elif e.get("state") == "failed" and isinstance(e.get("data"), dict) and e["data"].get("error"):
                out.append(f"{e.get('stage', '')}: {e.get('task', '')}: {e['data']['error']}")
        return out


class BoshTaskError(BoshError):
    """A task ended in error/cancelled/timeout (or we gave up waiting): who, which, why."""

    def __init__(self, deployment: str | None, task_id: int, state: str, description: str,
                 result: TaskResult | None = None, message: str | None = None):
        self.deployment = deployment
        self.task_id = task_id
        self.state = state
        self.description = description
        self.result = result
        details = message or (result.result if result else None) or ""
        extra = [m for m in (result.error_messages() if result else []) if m and m not in details]
        dep = deployment or "(no deployment)"
        text = f"BOSH task {task_id} for deployment {dep} ({description or 'task'}) ended in state {state!r}"
        if details:
            text += f": {details}"
        if extra:
            text += " | events: " + "; ".join(extra[-3:])
        super().__init__(text)


class BoshTaskTimeout(BoshTaskError):
    """We stopped waiting for a task that is still running (the task itself goes on)."""


def _deployment_name(manifest_yaml: str) -> str | None:
    try:
        doc = yaml.safe_load(manifest_yaml)
    except yaml.YAMLError:
        return None
    return str(doc["name"]) if isinstance(doc, dict) and doc.get("name") else None


class Director:
    """Thin client of one director. Thread-safe enough for one suite thread plus callbacks."""

    def __init__(
        self,
        config: BoshConfig,
        resolver: Resolver | None = None,
        *,
        timeout: Callable[[str], float] | None = None,
        poll_interval: float = 0.5,
        on_task_done: Callable[[TaskResult], None] | None = None,
        session: requests.Session | None = None,
    ):
        if not config.url:
            raise BoshError("bosh.url is not configured")
        self.config = config
        self.url = config.url.rstrip("/")
        self._timeout = timeout or (lambda name: TIMEOUT_DEFAULTS[name])
        self.poll_interval = poll_interval
        self.on_task_done = on_task_done
        self.session = session or http_session(
            config.tls, resolver, timeout=(self._timeout("http_connect"), self._timeout("http_read"))
        )
        REDACTOR.register(config.password, config.client_secret)
        self._info: dict[str, Any] | None = None
        self._token: str | None = None
        self._token_expiry = 0.0
        self._has_instances_route: bool | None = None  # learnt from the first answer
        self._started: dict[int, str | None] = {}  # task id -> deployment, for tasks this client started

    # ------------------------------------------------------------------ plumbing

    def _auth_header(self, force_refresh: bool = False) -> dict[str, str]:
        info = self.info()
        auth = (info.get("user_authentication") or {}).get("type", "basic")
        if auth != "uaa":
            if not self.config.username:
                raise BoshError("director uses basic auth but bosh.username/password are not configured")
            return {"Authorization": requests.auth._basic_auth_str(self.config.username, self.config.password or "")}
        if force_refresh or not self._token or time.monotonic() > self._token_expiry:
            self._uaa_login(info)
        return {"Authorization": f"bearer {self._token}"}

    def _uaa_login(self, info: Mapping[str, Any]) -> None:
        uaa = ((info.get("user_authentication") or {}).get("options") or {}).get("url")
        if not uaa:
            raise BoshError("director advertises UAA auth but no user_authentication.options.url")
        if self.config.client:
            data = {"grant_type": "client_credentials"}
            auth = (self.config.client, self.config.client_secret or "")
        else:
            data = {"grant_type": "password", "username": self.config.username or "",
                    "password": self.config.password or ""}
            auth = ("bosh_cli", "")
        try:
            r = self.session.post(f"{uaa.rstrip('/')}/oauth/token", data=data, auth=auth,
                                  headers={"Accept": "application/json"})
        except requests.RequestException as e:
            raise BoshError(f"cannot reach the director's UAA at {uaa}: {e}")
        if r.status_code != 200:
            raise BoshError(f"director UAA login failed ({r.status_code}): {r.text[:300]}")
        body = r.json()
        self._token = body["access_token"]
        REDACTOR.register(self._token, body.get("refresh_token"))
        self._token_expiry = time.monotonic() + max(float(body.get("expires_in", 60)) - 30, 5)

    def _request(self, method: str, path: str, *, auth: bool = True, ok: tuple[int, ...] = (),
                 **kw: Any) -> requests.Response:
        url = path if path.startswith("http") else f"{self.url}{path}"
        what = f"{method} {path}"
        for attempt in (0, 1):
            headers = dict(kw.pop("headers", None) or {})
            if auth:
                headers.update(self._auth_header(force_refresh=attempt == 1))
            try:
                r = self.session.request(method, url, headers=headers, **kw)
            except requests.RequestException as e:
                raise BoshError(f"cannot reach the director at {self.url} ({what}): {e}")
            if r.status_code == 401 and auth and attempt == 0 and self._token:
                kw["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
                continue
            if r.status_code >= 400 and r.status_code not in ok:
                raise self._api_error(r, what)
            return r
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _api_error(r: requests.Response, what: str) -> BoshApiError:
        code, desc = None, r.text.strip()[:500]
        try:
            body = r.json()
            if isinstance(body, dict):
                code = body.get("code")
                desc = str(body.get("description") or desc)
        except ValueError:
            pass
        if r.status_code == 401:
            desc = f"{desc} (check bosh credentials)".strip()
        return BoshApiError(code, desc or r.reason, r.status_code, what)

    def _get_json(self, path: str, **kw: Any) -> Any:
        r = self._request("GET", path, **kw)
        try:
            return r.json()
        except ValueError:
            raise BoshError(f"director answered GET {path} with non-JSON: {r.text[:200]!r}")

    def _start_task(self, method: str, path: str, *, deployment: str | None, **kw: Any) -> int:
        r = self._request(method, path, allow_redirects=False, **kw)
        loc = r.headers.get("Location", "")
        m = _TASK_IN_LOCATION.search(urlsplit(loc).path) if loc else None
        if r.status_code not in (301, 302, 303, 307) or not m:
            raise BoshError(
                f"{method} {path} for deployment {deployment or '-'}: expected a redirect to a task, "
                f"got {r.status_code} Location={loc!r} body={r.text[:200]!r}"
            )
        task_id = int(m.group(1))
        self._started[task_id] = deployment
        log.info("task %s started: %s %s (deployment %s)", task_id, method, path, deployment or "-")
        return task_id

    # ------------------------------------------------------------------ reads

    def info(self, refresh: bool = False) -> dict[str, Any]:
        """`GET /info` (unauthenticated): name, uuid, version, user_authentication."""
        if self._info is None or refresh:
            self._info = self._get_json("/info", auth=False)
        return self._info

    def uuid(self) -> str:
        return str(self.info()["uuid"])

    def version(self) -> DirectorVersion:
        return DirectorVersion.parse(self.info().get("version"))

    def authenticated_user(self) -> str | None:
        """Who the director thinks we are (None = credentials rejected)."""
        info = self._request("GET", "/info").json()
        return info.get("user") or None

    def deployments(self) -> list[dict[str, Any]]:
        return self._get_json("/deployments")

    def deployment_names(self) -> list[str]:
        return [d["name"] for d in self.deployments()]

    def releases(self) -> list[dict[str, Any]]:
        return self._get_json("/releases")

    def stemcells(self) -> list[dict[str, Any]]:
        return self._get_json("/stemcells")

    def release(self, name: str, version: str | None = None) -> dict[str, Any]:
        """What the director keeps of a release: `GET /releases/<name>` (every version's jobs
        and packages with sha1 and version, and the versions) or, with `version`, that
        version's jobs and packages with their `fingerprint`, `sha1` and blobstore ids."""
        params = {"version": version} if version is not None else None
        return self._get_json(f"/releases/{quote(name)}", params=params)

    def deployment_manifest(self, name: str) -> str:
        return str(self._get_json(f"/deployments/{quote(name)}").get("manifest") or "")

    @staticmethod
    def _route_missing(e: BoshApiError) -> bool:
        """A 404 that is not the director's DeploymentNotFound (70000): no such route."""
        return e.status == 404 and e.code != 70000

    def instances(self, name: str) -> list[dict[str, Any]]:
        """Each instance as `/instances` lists it (`job`, `index`, `id`, `ips`, `cid`,
        `agent_id`, `az`). A director without that route (before 1.3213, a 404) lists only
        agent ids and cids in `/vms`; there the instances come from its `/vms?format=full`
        task, with `id` and `az` None (it has neither) and only the instances that have a VM."""
        return self._by_instances_route(
            lambda: self._get_json(f"/deployments/{quote(name)}/instances"),
            lambda: [{"agent_id": r.get("agent_id"), "cid": r.get("vm_cid"), "job": r.get("job_name"),
                      "index": r.get("index"), "id": r.get("id"), "az": r.get("az"),
                      "ips": list(r.get("ips") or [])} for r in self._full_state(name, "vms")])

    def instances_full(self, name: str, on_event: EventCallback | None = None) -> list[dict[str, Any]]:
        """Process-level state (`format=full`, rows as the director writes them: `job_name`,
        `job_state`, `processes`, ...): `/instances?format=full` where the director has it,
        else `/vms?format=full` (VMs only)."""
        return self._by_instances_route(lambda: self._full_state(name, "instances", on_event),
                                        lambda: self._full_state(name, "vms", on_event))

    def _by_instances_route(self, with_route: Callable[[], list[dict[str, Any]]],
                            without: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """`with_route()` on a director that has `/deployments/:d/instances`, else `without()`;
        the first 404 of the route (not a DeploymentNotFound) is remembered."""
        if self._has_instances_route is not False:
            try:
                rows = with_route()
                self._has_instances_route = True
                return rows
            except BoshApiError as e:
                if not self._route_missing(e):
                    raise
                self._has_instances_route = False
        return without()

    def _full_state(self, name: str, kind: str, on_event: EventCallback | None = None) -> list[dict[str, Any]]:
        tid = self._start_task("GET", f"/deployments/{quote(name)}/{kind}?format=full", deployment=name)
        self.wait_task(tid, on_event, deployment=name, timeout=self._timeout("bosh_task"))
        out = self._request("GET", f"/tasks/{tid}/output?type=result").text
        rows = []
        for line in out.splitlines():
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    raise BoshError(f"task {tid} (deployment {name}): result line is not JSON: {line[:200]!r}")
        return rows

    def tasks(self, *, deployment: str | None = None, states: tuple[str, ...] = (), limit: int | None = None,
              all_types: bool = False) -> list[dict[str, Any]]:
        """`GET /tasks`, newest first. For `deployment`, directors from build 3213 filter
        themselves; an older one ignores the parameter and its task hashes do not name their
        deployment, so only the tasks this client started for it can be attributed to it."""
        params: dict[str, str] = {"verbose": "2" if all_types else "1"}
        if states:
            params["state"] = ",".join(states)
        if limit is not None:
            params["limit"] = str(limit)
        filters = deployment is not None and self.version().at_least(BUILD_TASKS_DEPLOYMENT_FILTER)
        if filters:
            params["deployment"] = str(deployment)
        rows = self._get_json("/tasks", params=params)
        if deployment is None:
            return rows
        return [t for t in rows if t.get("deployment") == deployment
                or ("deployment" not in t and self._started.get(int(t.get("id", -1))) == deployment)]

    def task(self, task_id: int) -> dict[str, Any]:
        return self._get_json(f"/tasks/{int(task_id)}")

    def locks(self) -> list[dict[str, Any]]:
        """`GET /locks`: `[{type, resource, timeout}]`; a running deploy or delete holds
        `{type: deployment, resource: [name]}` (both eras)."""
        return self._get_json("/locks")

    def task_events(self, task_id: int) -> list[dict[str, Any]]:
        """The whole event log of a task (no Range), parsed line by line."""
        r = self._request("GET", f"/tasks/{int(task_id)}/output?type=event")
        return [_parse_event(line) for line in r.text.splitlines() if line.strip()]

    # ------------------------------------------------------------------ task watching

    def _read_output(self, task_id: int, offset: int) -> tuple[bytes, int]:
        """One Range poll of the event output: (new bytes, new offset)."""
        r = self._request("GET", f"/tasks/{task_id}/output?type=event", headers={"Range": f"bytes={offset}-"},
                          ok=(416,))
        if r.status_code in (204, 416):
            return b"", offset
        body = r.content
        if r.status_code == 206:
            return body, offset + len(body)
        # 200: the whole output (server ignored Range, or output was empty): skip what we had.
        new = body[offset:] if len(body) >= offset else body
        return new, max(len(body), offset)

    def wait_task(
        self,
        task_id: int,
        on_event: EventCallback | None = None,
        *,
        deployment: str | None = None,
        timeout: float | None = None,
    ) -> TaskResult:
        """Poll until the task finishes, streaming each event line to `on_event` as it arrives.

        Raises BoshTaskError if it ends in error/cancelled/timeout, BoshTaskTimeout if it is
        still running after `timeout` seconds (default: the `bosh_task` timeout).
        """
        limit = self._timeout("bosh_task") if timeout is None else timeout
        start = time.monotonic()
        deadline = start + limit
        offset, pending, raw = 0, b"", bytearray()
        events: list[dict[str, Any]] = []
        interval = min(0.05, self.poll_interval)
        task: dict[str, Any] = {}

        def drain(final: bool) -> None:
            nonlocal offset, pending
            chunk, offset = self._read_output(task_id, offset)
            raw.extend(chunk)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if final and pending.strip():
                lines.append(pending)
                pending = b""
            for line in lines:
                if not line.strip():
                    continue
                ev = _parse_event(line.decode("utf-8", "replace"))
                events.append(ev)
                if on_event is not None:
                    try:
                        on_event(ev)
                    except Exception as e:  # a display bug must not abort a deploy watch
                        log.warning("on_event callback failed: %s", e)

        transport_errors = 0
        while True:
            try:
                task = self.task(task_id)
                state = str(task.get("state"))
                done = state not in RUNNING_STATES
                drain(final=done)
                transport_errors = 0
            except BoshError as e:
                if isinstance(e, BoshApiError) and e.status not in (502, 503, 504):
                    raise
                # A director hiccup during an hour-long deploy must not abandon the watch: the task
                # runs on regardless. Give up only after several failures in a row.
                transport_errors += 1
                if transport_errors > MAX_POLL_ERRORS or time.monotonic() >= deadline:
                    raise BoshError(f"lost the director while watching task {task_id} "
                                    f"(deployment {deployment or '-'}): {e}")
                log.warning("task %s: poll failed (%s), retrying", task_id, e)
                time.sleep(min(1.0, self.poll_interval * 2))
                continue
            if done:
                break
            if time.monotonic() >= deadline:
                res = self._result(task_id, task, deployment, events, raw, start)
                self._notify(res)
                raise BoshTaskTimeout(
                    deployment or task.get("deployment"), task_id, f"{state} (still running)",
                    str(task.get("description") or ""), res,
                    message=f"gave up waiting after {limit:.0f}s (timeout; the task was left running)",
                )
            time.sleep(interval)
            interval = min(interval * 1.5, self.poll_interval)
        res = self._result(task_id, task, deployment, events, raw, start)
        self._notify(res)
        if res.state != "done":
            raise BoshTaskError(res.deployment, task_id, res.state, res.description, res)
        return res

    @staticmethod
    def _result(task_id: int, task: Mapping[str, Any], deployment: str | None, events: list[dict[str, Any]],
                raw: bytearray, start: float) -> TaskResult:
        return TaskResult(
            id=int(task_id), state=str(task.get("state")), description=str(task.get("description") or ""),
            result=task.get("result"), deployment=deployment or task.get("deployment"), events=list(events),
            events_raw=raw.decode("utf-8", "replace"), duration=time.monotonic() - start,
        )

    def _notify(self, res: TaskResult) -> None:
        if self.on_task_done is not None:
            try:
                self.on_task_done(res)
            except Exception as e:
                log.warning("on_task_done callback failed: %s", e)

    # ------------------------------------------------------------------ changes

    def deploy(self, manifest_yaml: str, on_event: EventCallback | None = None, *, recreate: bool = False,
               skip_drain: bool = False) -> TaskResult:
        """`POST /deployments` (text/yaml) and wait for the task (`bosh_deploy` timeout)."""
        name = _deployment_name(manifest_yaml)
        params = {}
        if recreate:
            params["recreate"] = "true"
        if skip_drain:  # bosh's SkipDrain: `*` is every instance group (`true` would name one)
            params["skip_drain"] = "*"
        body = manifest_yaml.encode("utf-8") if isinstance(manifest_yaml, str) else manifest_yaml
        tid = self._start_task("POST", "/deployments", deployment=name, params=params, data=body,
                               headers={"Content-Type": "text/yaml"})
        return self.wait_task(tid, on_event, deployment=name, timeout=self._timeout("bosh_deploy"))

    def change_job_state(self, deployment: str, state: str, job: str = "*", index: int | str | None = None,
                         on_event: EventCallback | None = None, *, skip_drain: bool = False) -> TaskResult:
        """Start/stop/restart/recreate/detach jobs (`PUT .../jobs/<job>[/<index>]?state=`, text/yaml).

        The body is empty (the director uses the deployment's stored manifest), except for a
        job-level change on a director before build 3181, which reads the manifest from the
        body: it gets the stored manifest (`GET /deployments/<d>`), as the Ruby CLI sent it.
        `skip_drain`: from build 3146 the drain of the job is skipped; 1.3098 ignores it at
        job level and always skips it at instance level."""
        if state not in ("started", "stopped", "detached", "restart", "recreate"):
            raise ValueError(f"unknown job state {state!r}")
        path = f"/deployments/{quote(deployment)}/jobs/{quote(job, safe='*')}"
        if index is not None:
            path += f"/{quote(str(index))}"
        params = {"state": state}
        if skip_drain:
            params["skip_drain"] = "true"
        body = b""
        if index is None and not self.version().at_least(BUILD_EMPTY_BODY_JOB_STATE):
            body = self.deployment_manifest(deployment).encode("utf-8")
        tid = self._start_task("PUT", path, deployment=deployment, params=params, data=body,
                               headers={"Content-Type": "text/yaml"})
        return self.wait_task(tid, on_event, deployment=deployment, timeout=self._timeout("bosh_task"))

    def delete_deployment(self, name: str, on_event: EventCallback | None = None, *, force: bool = False) -> TaskResult:
        """`DELETE /deployments/<name>`. Only call for deployments this run created."""
        params = {"force": "true"} if force else {}
        tid = self._start_task("DELETE", f"/deployments/{quote(name)}", deployment=name, params=params)
        return self.wait_task(tid, on_event, deployment=name, timeout=self._timeout("bosh_task"))

    def upload_release(self, path_or_url: str | Path, on_event: EventCallback | None = None) -> TaskResult:
        """Upload a release tarball (binary POST) or have the director fetch a URL (JSON location)."""
        return self._upload("/releases", path_or_url, on_event)

    def upload_stemcell(self, path_or_url: str | Path, on_event: EventCallback | None = None) -> TaskResult:
        return self._upload("/stemcells", path_or_url, on_event)

    def _upload(self, endpoint: str, path_or_url: str | Path, on_event: EventCallback | None) -> TaskResult:
        s = str(path_or_url)
        if s.startswith(("http://", "https://")):
            tid = self._start_task("POST", endpoint, deployment=None, data=json.dumps({"location": s}),
                                   headers={"Content-Type": "application/json"})
        else:
            # a file:// location is read here and uploaded, as the bosh CLI does
            p = Path(url2pathname(urlsplit(s).path)) if s.startswith("file://") else Path(s)
            try:
                fh = p.open("rb")
            except OSError as e:
                raise BoshError(f"cannot read {p}: {e.strerror or e}")
            with fh:
                tid = self._start_task("POST", endpoint, deployment=None, data=fh,
                                       headers={"Content-Type": "application/x-compressed",
                                                "Content-Length": str(p.stat().st_size)})
        return self.wait_task(tid, on_event, timeout=self._timeout("bosh_upload"))


def _parse_event(line: str) -> dict[str, Any]:
    """One event line as a dict; a line that is not JSON is kept as {"raw": line}."""
    try:
        ev = json.loads(line)
        return ev if isinstance(ev, dict) else {"raw": line}
    except ValueError:
        return {"raw": line}


def format_event(ev: Mapping[str, Any]) -> str:
    """A one-line human rendering of an event for live progress on the terminal."""
    if "raw" in ev:
        return str(ev["raw"])
    if isinstance(ev.get("error"), dict):
        return f"Error {ev['error'].get('code')}: {ev['error'].get('message')}"
    if ev.get("type") in ("warning", "deprecation"):
        return f"{ev['type']}: {ev.get('message')}"
    tags = ",".join(ev.get("tags") or [])
    stage = ev.get("stage", "")
    prefix = f"{stage} {tags}".strip() if tags else stage
    line = f"{prefix}: {ev.get('task', '')} ({ev.get('index')}/{ev.get('total')}) {ev.get('state', '')}"
    data = ev.get("data") or {}
    if isinstance(data, dict) and (data.get("error") or data.get("status")):
        line += f" - {data.get('error') or data.get('status')}"
    return line
