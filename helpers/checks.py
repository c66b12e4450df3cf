"""What an app must do after each step: the smoke test and the scale check.

Two layers, on purpose. The *pure* functions decide from observed data (instance states,
HTTP answers, log lines, ssh results) and return a `Verdict` whose message names the step,
the app, the instance, what was expected and what was seen; they are unit-tested without
any platform. The *orchestrating* functions (`smoke_test`, `scale_check`) call the clients,
retry within a time budget where the platform is eventually consistent (routes, logs, SSH),
and raise `CheckFailed` with the verdict. Where the app runs is `helpers/placement.py`'s
job; what the director runs is `helpers/preflight.py`'s. Nothing here imports pytest.

Decisions follow prior-art.md §8: structured state, never CLI text; literal matches, never
regexes. Instances are reached through the router by *collecting distinct indices*: the
gorouter of cf v220/v231 has no `X-CF-APP-INSTANCE` (it came in Sept. 2016) and round-robins
every request, so the suite sends plain requests, asks each answer which instance it was,
and stops once every index has answered or a bounded number of requests has been spent;
the failure names the indices never seen. The same code works on newer routers.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.http_probe import FetchResult, classify_exception, classify_response, header
from helpers.verdicts import Budget, Verdict, require, wait_for


def _v(ok: bool, check: str, step: str, app: str, message: str, **details: Any) -> Verdict:
    return Verdict(ok, check, step, app, message, details)


def _state_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return str(value.get("state", "UNKNOWN"))
    return str(getattr(value, "state", "UNKNOWN"))


def field_of(value: Any, name: str) -> Any:
    """A field of a client's answer, whether a mapping (with `stats` nested) or an object."""
    if isinstance(value, Mapping):
        if name in value:
            return value[name]
        stats = value.get("stats")
        return stats.get(name) if isinstance(stats, Mapping) else None
    return getattr(value, name, None)


# --------------------------------------------------------------------------------------
# Pure decisions


def instances_running(step: str, app: str, states: Mapping[int, Any], expected: int) -> Verdict:
    """Exactly indices 0..expected-1, every one RUNNING."""
    seen = {int(i): _state_of(s) for i, s in states.items()}
    want = set(range(expected))
    missing = sorted(want - set(seen))
    extra = sorted(set(seen) - want)
    not_running = {i: s for i, s in sorted(seen.items()) if i in want and s != "RUNNING"}
    if missing or extra or not_running:
        parts = []
        if missing:
            parts.append(f"missing instance(s) {missing}")
        if extra:
            parts.append(f"unexpected instance(s) {extra}")
        if not_running:
            parts.append(", ".join(f"instance {i} is {s}" for i, s in not_running.items()))
        return _v(False, "instances running", step, app,
                  f"app {app}: expected {expected} instance(s) RUNNING, saw {seen or 'none'}: "
                  + "; ".join(parts), expected=expected, seen=seen)
    return _v(True, "instances running", step, app, f"app {app}: {expected} instance(s) RUNNING",
              seen=seen)


def instances_routable(step: str, app: str, reached: Mapping[int, str | None], expected: int,
                       attempts: int = 0, answers: Mapping[int, int] | None = None) -> Verdict:
    """Every index 0..expected-1 answered through the router (value: its instance id).
    `answers` (index -> number of answers) tells a router stuck on one instance apart from
    one that answers nothing."""
    missing = [i for i in range(expected) if not reached.get(i)]
    if missing:
        counts = ", ".join(f"#{i}: {n}" for i, n in sorted((answers or {}).items())) or "none"
        return _v(False, "instances routable", step, app,
                  f"app {app}: instance(s) {missing} never answered through the router "
                  f"(expected {expected} routable, reached {sorted(i for i, v in reached.items() if v)} "
                  f"in {attempts} requests; answers per instance: {counts})", expected=expected,
                  reached=dict(reached), answers=dict(answers or {}))
    ids = [reached[i] for i in range(expected)]
    if len(set(ids)) != len(ids):
        return _v(False, "instances routable", step, app,
                  f"app {app}: instances answered with duplicate instance ids {ids}", reached=dict(reached))
    return _v(True, "instances routable", step, app,
              f"app {app}: all {expected} instance(s) answered through the router", reached=dict(reached))


def log_line_matches(line: Any, nonce: str, index: int) -> bool:
    """A log line proves visibility for `index` when its message is exactly the probe's
    `nonce <nonce> index <i>` and it is attributed to an APP source with that instance."""
    message = field_of(line, "message")
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    source_type = str(field_of(line, "source_type") or "")
    source_instance = str(field_of(line, "source_instance") or "")
    return (str(message).strip() == f"nonce {nonce} index {index}" and source_type.startswith("APP")
            and source_instance == str(index))


def logs_visible(step: str, app: str, lines: Iterable[Any], nonces: Mapping[int, Iterable[str]],
                 expected: int) -> Verdict:
    """For each index, one of the nonces sent to it shows up as its own APP log line."""
    lines = list(lines)
    missing = [i for i in range(expected)
               if not any(log_line_matches(ln, n, i) for n in nonces.get(i, ()) for ln in lines)]
    if missing:
        return _v(False, "logs visible", step, app,
                  f"app {app}: no log line 'nonce <n> index <i>' from instance(s) {missing} in recent logs "
                  f"({len(lines)} lines seen)", missing=missing, lines_seen=len(lines))
    return _v(True, "logs visible", step, app, f"app {app}: a fresh log line from each of {expected} instance(s)")


def ssh_ran(step: str, app: str, index: int, result: Any, marker: str | None = None) -> Verdict:
    """`ssh` into `index` ran the command: exit 0 and `index=<i>` (and marker) in stdout."""
    if isinstance(result, BaseException):
        return _v(False, "ssh", step, app, f"app {app} instance {index}: ssh failed: {result}", index=index)
    status = field_of(result, "exit_status")
    stdout = str(field_of(result, "stdout") or "")
    stderr = str(field_of(result, "stderr") or "")
    lines = [ln.strip() for ln in stdout.splitlines()]
    problems = []
    if status != 0:
        problems.append(f"exit status {status} (expected 0)")
    if f"index={index}" not in lines:
        problems.append(f"stdout lacks 'index={index}' (saw {stdout.strip()[:120]!r})")
    if marker is not None and marker not in lines:
        problems.append(f"stdout lacks marker {marker!r}")
    if problems:
        return _v(False, "ssh", step, app, f"app {app} instance {index}: " + "; ".join(problems)
                  + (f"; stderr {stderr.strip()[:200]!r}" if stderr.strip() else ""), index=index,
                  exit_status=status)
    return _v(True, "ssh", step, app, f"app {app} instance {index}: ssh command exited 0 in the right instance",
              index=index)


def route_gone(step: str, app: str, status: int | None, router_error: str | None,
               error: str | None = None) -> Verdict:
    """After deleting app and route, the router answers 404 with X-Cf-Routererror: unknown_route."""
    if status == 404 and router_error == "unknown_route":
        return _v(True, "route removed", step, app, f"app {app}: route answers 404 unknown_route")
    seen = f"status {status}" if status is not None else f"error {error}"
    return _v(False, "route removed", step, app,
              f"app {app}: expected 404 with X-Cf-Routererror: unknown_route after delete, saw {seen}"
              f" (router error {router_error!r})", status=status, router_error=router_error)


def instance_gone(step: str, app: str, stats_indices: Iterable[int], index: int,
                  answered_ids: Iterable[str], gone_id: str | None) -> Verdict:
    """After scaling down, `index` is absent from stats and its instance id no longer answers."""
    indices = sorted(int(i) for i in stats_indices)
    answered = set(answered_ids)
    problems = []
    if index in indices:
        problems.append(f"instance {index} still in stats {indices}")
    if gone_id is not None and gone_id in answered:
        problems.append(f"instance {index} ({gone_id}) still answers through the router")
    if problems:
        return _v(False, "scale down", step, app, f"app {app}: " + "; ".join(problems),
                  stats=indices, answered=sorted(answered))
    return _v(True, "scale down", step, app, f"app {app}: instance {index} gone from stats and routing",
              stats=indices)


# --------------------------------------------------------------------------------------
# Gathering data from the platform

Http = Callable[..., FetchResult]  # http(url, headers=None) -> FetchResult; raises on transport errors


def requests_http(session_factory: Callable[[], Any], timeout: tuple[float, float] = (2.0, 5.0)) -> Http:
    """An `Http` over requests; a new session (fresh connection) per call."""

    def http(url: str, headers: Mapping[str, str] | None = None) -> FetchResult:
        session = session_factory()
        try:
            resp = session.get(url, headers={"Connection": "close", **dict(headers or {})}, timeout=timeout,
                               allow_redirects=False)
            return FetchResult(resp.status_code, dict(resp.headers), resp.content[:65536].decode("utf-8", "replace"))
        finally:
            session.close()

    return http


def _try(http: Http, url: str, headers: Mapping[str, str] | None = None) -> tuple[FetchResult | None, str | None]:
    try:
        return http(url, headers=headers), None
    except Exception as exc:
        return None, classify_exception(exc)


def _app_guid(app: Any) -> str:
    return str(field_of(app, "guid"))


def _app_name(app: Any) -> str:
    return str(field_of(app, "name") or _app_guid(app))


def identify(result: FetchResult) -> tuple[int, str] | None:
    """(index, instance id) from the probe's `/env` answer (JSON of its environment)."""
    try:
        env = json.loads(result.body)
        return int(env["CF_INSTANCE_INDEX"]), str(env.get("CF_INSTANCE_GUID") or env["CF_INSTANCE_INDEX"])
    except (ValueError, KeyError, TypeError):
        return None


def max_requests_for(expected: int) -> int:
    """How many plain requests may be spent collecting `expected` distinct instances. With
    round robin, `expected` requests suffice; with other clients interleaving (the route
    poller), each request lands on a given instance with probability about 1/expected, and
    missing one after 16 rounds is a chance of about expected * (1 - 1/expected)**(16 * expected)
    (under 1e-4 for two instances): a miss then means a real routing problem."""
    return max(20, 16 * expected)


@dataclass
class Reached:
    """What `reach_instances` collected: index -> instance id (None = never seen), requests
    made, and answers per index."""

    instances: dict[int, str | None]
    attempts: int
    answers: dict[int, int]

    @property
    def missing(self) -> list[int]:
        return [i for i, v in sorted(self.instances.items()) if not v]


def reach_instances(http: Http, url: str, expected: int, budget: Budget,
                    max_requests: int | None = None) -> Reached:
    """Reach every index through the router by collecting distinct indices: plain requests
    to the probe's `/env` (round robin spreads them), each answer saying which instance it
    came from, until all of 0..expected-1 have answered, `max_requests` have been sent, or
    the budget is spent (it also paces retries when nothing answers)."""
    limit = max_requests_for(expected) if max_requests is None else max_requests
    instances: dict[int, str | None] = dict.fromkeys(range(expected))
    answers: dict[int, int] = {}
    attempts = 0
    while True:
        for _ in range(max(expected, 1)):
            if attempts >= limit or all(instances.values()):
                break
            attempts += 1
            res, _ = _try(http, url.rstrip("/") + "/env")
            if res is not None and classify_response(res) is None:
                ident = identify(res)
                if ident is not None:
                    answers[ident[0]] = answers.get(ident[0], 0) + 1
                    if ident[0] in instances:
                        instances[ident[0]] = ident[1]
        if all(instances.values()) or attempts >= limit or not budget.sleep():
            return Reached(instances, attempts, answers)


def _call(note: Callable[[Verdict], Any], step: str, app: str, check: str, what: str, fn: Callable[[], Any]) -> Any:
    """Run a platform call; a client error becomes a failed verdict naming step and app."""
    try:
        return fn()
    except Exception as exc:
        note(_v(False, check, step, app, f"app {app}: {what} failed: {exc}"))
        raise  # unreachable: note() raises CheckFailed for a failed verdict


@dataclass
class SmokeResult:
    app_name: str
    app_guid: str
    verdicts: list[Verdict]
    hosts: dict[int, str | None]
    timings: dict[str, float]


def smoke_test(cf: Any, recent_logs: Callable[[Any, str], list[Any]], ssh_exec: Callable[..., Any], *,
               step: str, space_guid: str, app_dir: Path, http: Http, resolver: Any = None,
               instances: int = 2, name: str | None = None, timeout: float = 60.0,
               placement_hook: Callable[[str, dict[int, str | None]], Verdict] | None = None,
               on_verdict: Callable[[Verdict], None] | None = None,
               timeouts: Mapping[str, float] | None = None) -> SmokeResult:
    """Push a fresh app with `instances` instances and SSH, prove every instance RUNNING,
    routable, logging and reachable over SSH (and optionally placed right), then delete the
    app and its route and see the route answer unknown_route. The app is deleted whatever
    happens."""
    name = name or f"smoke-{uuid.uuid4().hex[:8]}"
    limits = dict(timeouts or {})

    def tmo(key: str) -> float:
        return float(limits.get(key, timeout))

    verdicts: list[Verdict] = []
    timings: dict[str, float] = {}

    def note(v: Verdict, history: list[Verdict] | None = None) -> Verdict:
        verdicts.append(v)
        if on_verdict is not None:
            on_verdict(v)
        return require(v, history)

    t = time.monotonic()
    app = _call(note, step, name, "push", f"push of {instances} instance(s) with SSH enabled",
                lambda: cf.push(name, app_dir, space_guid, instances=instances, enable_ssh=True))
    timings["push"] = time.monotonic() - t
    guid = _app_guid(app)
    hosts: dict[int, str | None] = {}
    route_guids: list[str] = []
    route_problems: list[str] = []  # the story says "delete the app *and its route*"
    url = cf.app_url(app)
    deleted = False
    try:
        try:
            route_guids = [str(field_of(r, "guid")) for r in cf.routes(guid)]
        except Exception as exc:
            route_problems.append(f"listing its routes failed ({exc}), so they could not be deleted")
        else:
            if not route_guids:
                route_problems.append("it had no route to delete")
        t = time.monotonic()
        v, hist = wait_for(lambda: instances_running(step, name, cf.instances(guid), instances),
                           Budget(tmo("app_start"), 0.2))
        note(v, hist)
        timings["running"] = time.monotonic() - t

        t = time.monotonic()
        reached = collect_instances(http, url, instances, Budget(tmo("route_ready"), 0.1))
        note(instances_routable(step, name, reached.instances, instances, reached.attempts, reached.answers))
        timings["routable"] = time.monotonic() - t

        t = time.monotonic()
        note(*_check_logs(cf, recent_logs, http, url, guid, name, step, instances, Budget(tmo("logs"), 0.3)))
        timings["logs"] = time.monotonic() - t

        t = time.monotonic()
        info = cf.info()
        endpoint = str(field_of(info, "app_ssh_endpoint"))
        fingerprint = str(field_of(info, "app_ssh_host_key_fingerprint"))
        for i in range(instances):
            marker = f"marker-{uuid.uuid4().hex[:8]}"
            command = f'echo "index=$CF_INSTANCE_INDEX"; echo {marker}; echo {marker} >&2'

            def attempt(i: int = i, marker: str = marker, command: str = command) -> Verdict:
                try:
                    result = ssh_exec(endpoint, fingerprint, f"cf:{guid}/{i}", cf.ssh_code(), command,
                                      resolver, min(tmo("ssh"), 30.0))
                except Exception as exc:
                    return ssh_ran(step, name, i, exc)
                return ssh_ran(step, name, i, result, marker)

            v, hist = wait_for(attempt, Budget(tmo("ssh"), 1.0))
            note(v, hist)
        timings["ssh"] = time.monotonic() - t

        if placement_hook is not None:
            stats = cf.stats(guid)
            hosts = {int(i): field_of(s, "host") for i, s in stats.items()}
            note(placement_hook(name, hosts))
        else:
            try:
                hosts = {int(i): field_of(s, "host") for i, s in cf.stats(guid).items()}
            except Exception:
                hosts = {}
    finally:
        t = time.monotonic()
        for rg in route_guids:
            try:
                cf.delete_route(rg)
            except Exception as exc:
                route_problems.append(f"deleting route {rg} failed: {exc}")
        try:
            cf.delete_app(guid)
            deleted = True
        except Exception:
            if not verdicts or verdicts[-1].ok:
                raise
        timings["delete"] = time.monotonic() - t

    if deleted:
        def gone() -> Verdict:
            res, err = _try(http, url.rstrip("/") + "/id")
            if res is None:
                return route_gone(step, name, None, None, err)
            return route_gone(step, name, res.status, header(res.headers, "X-Cf-Routererror"))

        v, hist = wait_for(gone, Budget(tmo("route_gone"), 0.2))
        note(v, hist)
    if route_problems:  # the router forgets a deleted app's route anyway: check CC's side too
        note(_v(False, "route deleted", step, name,
                f"app {name}: expected its route deleted with it, but " + "; ".join(route_problems),
                routes=route_guids))
    return SmokeResult(name, guid, verdicts, hosts, timings)


def collect_instances(http: Http, url: str, expected: int, budget: Budget) -> Reached:
    """`reach_instances` until every index answered, a fresh request allowance per round
    while the time budget lasts (instances still starting are not routable yet)."""
    total = Reached(dict.fromkeys(range(expected)), 0, {})
    while True:
        got = reach_instances(http, url, expected, budget)
        total.attempts += got.attempts
        for i, n in got.answers.items():
            total.answers[i] = total.answers.get(i, 0) + n
        total.instances.update({i: v for i, v in got.instances.items() if v})
        if not total.missing or not budget.sleep():
            return total


def _check_logs(cf: Any, recent_logs: Callable[[Any, str], list[Any]], http: Http, url: str, guid: str,
                name: str, step: str, instances: int, budget: Budget) -> tuple[Verdict, list[Verdict]]:
    """Make the instances print unique nonces (one plain request per instance and poll: the
    router round-robins them over the instances), and re-read recent logs on every poll until
    each instance's line shows up."""
    nonces: dict[int, list[str]] = {i: [] for i in range(instances)}
    history: list[Verdict] = []
    while True:
        for _ in range(instances):
            nonce = uuid.uuid4().hex[:12]
            res, _ = _try(http, f"{url.rstrip('/')}/log/{nonce}")
            if res is not None and classify_response(res) is None:
                # the request landed on some instance: its nonce counts for whichever printed it
                for j in range(instances):
                    nonces[j].append(nonce)
        try:
            lines = recent_logs(cf, guid)
        except Exception as exc:
            lines = []
            history.append(_v(False, "logs visible", step, name, f"app {name}: recent logs failed: {exc}"))
        verdict = logs_visible(step, name, lines, nonces, instances)
        history.append(verdict)
        if verdict.ok or not budget.sleep():
            return verdict, history


# --------------------------------------------------------------------------------------
# Scale check (A0 1 -> 2 -> 1)


def scale_check(cf: Any, http: Http, *, step: str, app: Any, up: int = 2, down: int = 1,
                timeout: float = 60.0, on_verdict: Callable[[Verdict], None] | None = None) -> list[Verdict]:
    """Scale to `up`: all RUNNING and each routable; scale to `down`: the removed instances
    leave stats and stop answering."""
    guid, name = _app_guid(app), _app_name(app)
    url = cf.app_url(app)
    verdicts: list[Verdict] = []

    def note(v: Verdict, history: list[Verdict] | None = None) -> None:
        verdicts.append(v)
        if on_verdict is not None:
            on_verdict(v)
        require(v, history)

    _call(note, step, name, "scale up", f"scaling to {up}", lambda: cf.scale(guid, up))
    v, hist = wait_for(lambda: instances_running(step, name, cf.instances(guid), up), Budget(timeout, 0.2))
    note(v, hist)
    reached = collect_instances(http, url, up, Budget(timeout, 0.1))
    note(instances_routable(step, name, reached.instances, up, reached.attempts, reached.answers))

    _call(note, step, name, "scale down", f"scaling to {down}", lambda: cf.scale(guid, down))
    removed = {i: reached.instances.get(i) for i in range(down, up)}

    def after_down() -> Verdict:
        # "gone from stats": the cell-level view (CC stats), not only the instance list
        stats_indices = [int(x) for x in cf.stats(guid)]
        answered: list[str] = []
        errors: list[str] = []
        probes = range(4 * up)  # round robin: a removed instance still routed would answer one of them
        for _ in probes:
            res, err = _try(http, url.rstrip("/") + "/id")
            if res is not None and classify_response(res) is None:
                answered.append(res.body.strip())
            else:
                errors.append(err or classify_response(res) or "?")  # type: ignore[arg-type]
        if not answered:  # "no longer answers" means nothing when nothing answers at all
            return _v(False, "scale down", step, name,
                      f"app {name}: after scaling {up} -> {down} no request answered through the router "
                      f"({len(probes)} tried: {', '.join(sorted(set(errors)))}); expected the remaining "
                      f"instance(s) to answer", errors=sorted(set(errors)))
        gone = [instance_gone(step, name, stats_indices, i, answered, ident) for i, ident in removed.items()]
        failed = [v for v in gone if not v.ok]
        if failed:
            return failed[0]
        running = instances_running(step, name, cf.instances(guid), down)
        if not running.ok:
            return running
        return _v(True, "scale down", step, name,
                  f"app {name}: scaled {up} -> {down}; instance(s) {sorted(removed)} gone from stats and routing")

    v, hist = wait_for(after_down, Budget(timeout, 0.3))
    note(v, hist)
    return verdicts
