"""The upgrade-from-stable choreography: the steps as data, and the functions that run them.

The stories fix an order (D1; D3 then stop D4; D2 then start D4 and stop D3; CF; start D3
then D4) and, after each step, where the smoke app must land: cells of the intended Diego
version. Keeping that as data (`STAGES`) lets the suite modules stay one-liners that read
like the stories, and lets tests check the choreography itself without a director.

`UpgradeRun` holds what a run shares across the ordered modules: the clients, the generated
manifests (V0 and V-prime, with the same secrets), the step recorder and the A0 poller. Every
BOSH operation is recorded as a step (kind diego/cf) so outage windows name it; every BOSH
task is handed to `on_task` (artifacts) and its events to `on_event` (live terminal output).
Nothing here imports pytest.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from helpers import checks
from helpers.checks import CheckFailed, Verdict
from helpers.poller import OutageWindow, Poller
from helpers.steps import StepPolicy, StepRecorder

PIECES = ("cf", "database", "brain-and-pals", "cell1", "cell2")
CELLS = ("cell1", "cell2")
LABELS = {"cf": "CF", "database": "D1", "brain-and-pals": "D2", "cell1": "D3", "cell2": "D4"}
KIND = {"cf": "cf", "database": "diego", "brain-and-pals": "diego", "cell1": "diego", "cell2": "diego"}


class StepFailed(RuntimeError):
    """A BOSH operation of a step failed; the message names the step, the operation and the
    deployment before the client's own text (which names the task id and the director's
    message), so a failure reads as a sentence of the story."""


@dataclass(frozen=True)
class Op:
    """One BOSH operation on one piece: deploy at a version, stop, or start."""

    action: str  # deploy | stop | start
    piece: str
    version: str = "v_prime"  # for deploy: which manifest set

    @property
    def label(self) -> str:
        d = LABELS[self.piece]
        if self.action == "deploy":
            return f"deploy {d} at {'V0' if self.version == 'v0' else 'V-prime'}"
        return f"{self.action} {d}"


@dataclass(frozen=True)
class Stage:
    """One step of the stories: operations, then checks (smoke placement, A0 scaling)."""

    id: str
    title: str  # the step name used in reports and in test names
    kind: str  # diego | cf | setup
    ops: tuple[Op, ...]
    smoke_cells: tuple[str, ...]  # the cell pieces the smoke app may land on afterwards
    cell_versions: Mapping[str, str] = field(default_factory=dict)  # cell piece -> v0 | v_prime expected

    @property
    def test_suffix(self) -> str:
        return self.title.lower().replace(" ", "_").replace("-", "_").replace(",", "")


DEPLOY_V0 = Stage("v0", "deploy V0", "setup",
                  tuple(Op("deploy", p, "v0") for p in PIECES), CELLS, {"cell1": "v0", "cell2": "v0"})

STAGES: dict[str, Stage] = {s.id: s for s in (
    Stage("d1", "upgrade D1", "diego", (Op("deploy", "database"),), CELLS, {"cell1": "v0", "cell2": "v0"}),
    Stage("d3", "upgrade D3", "diego", (Op("deploy", "cell1"), Op("stop", "cell2")), ("cell1",),
          {"cell1": "v_prime"}),
    Stage("d2", "upgrade D2", "diego", (Op("deploy", "brain-and-pals"), Op("start", "cell2"), Op("stop", "cell1")),
          ("cell2",), {"cell2": "v0"}),
    Stage("cf", "upgrade CF", "cf", (Op("deploy", "cf"),), ("cell2",), {"cell2": "v0"}),
    Stage("d4", "upgrade D4", "diego", (Op("start", "cell1"), Op("deploy", "cell2")), CELLS,
          {"cell1": "v_prime", "cell2": "v_prime"}),
)}
ORDER = ("d1", "d3", "d2", "cf", "d4")


def validate_choreography(stages: Iterable[Stage] = tuple(STAGES[i] for i in ORDER)) -> list[str]:
    """Invariants the stories rely on: at every point at least one cell runs; a cell is
    stopped only while the other runs; the smoke cells after each stage are exactly the
    running cells, at the versions the stage claims. Returns the problems found."""
    problems: list[str] = []
    running = {c: True for c in CELLS}
    version = dict.fromkeys(PIECES, "v0")
    for st in stages:
        for op in st.ops:
            if op.action == "deploy":
                version[op.piece] = op.version
            elif op.action == "stop":
                other = [c for c in CELLS if c != op.piece]
                if not any(running[c] for c in other):
                    problems.append(f"{st.title}: {op.label} while no other cell runs")
                running[op.piece] = False
            elif op.action == "start":
                running[op.piece] = True
        live = tuple(c for c in CELLS if running[c])
        if set(live) != set(st.smoke_cells):
            problems.append(f"{st.title}: smoke cells {st.smoke_cells} but running cells {live}")
        for cell, want in st.cell_versions.items():
            if version[cell] != want:
                problems.append(f"{st.title}: expects {cell} at {want}, it is at {version[cell]}")
    return problems


# --------------------------------------------------------------------------------------
# Manifests


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PARSED: dict[tuple[str, float], Any] = {}


def load_manifest(path: Path) -> Any:
    """Parse a manifest once (keyed by path and mtime): the suite reads them many times."""
    p = Path(path)
    key = (str(p.resolve()), p.stat().st_mtime)
    if key not in _PARSED:
        _PARSED[key] = yaml.load(p.read_text(), Loader=_LOADER)
    return _PARSED[key]


def manifest_releases(path: Path) -> dict[str, str]:
    doc = load_manifest(path)
    return {str(r["name"]): str(r["version"]) for r in doc.get("releases") or []}


def manifest_stemcells(path: Path) -> set[tuple[str, str]]:
    doc = load_manifest(path)
    out = set()
    for pool in doc.get("resource_pools") or []:
        sc = pool.get("stemcell") or {}
        if sc.get("name"):
            out.add((str(sc["name"]), str(sc.get("version", "latest"))))
    for sc in doc.get("stemcells") or []:
        if sc.get("name") or sc.get("os"):
            out.add((str(sc.get("name") or sc.get("os")), str(sc.get("version", "latest"))))
    return out


def haproxy_certificates(cf_manifests: Iterable[Path]) -> list[str]:
    """The certificates (never the key) of `ha_proxy.ssl_pem` in these CF manifests, global or
    job-level: what the suite trusts for CF once it deploys them, so that TLS verification
    stays on with no user setting (docs/manifests.md, "The HAProxy certificate")."""
    from helpers.net import pem_certificates

    found: list[str] = []
    for path in cf_manifests:
        doc = load_manifest(path) or {}
        for props in [doc.get("properties") or {}, *((job or {}).get("properties") or {}
                                                      for job in doc.get("jobs") or [])]:
            pem = (props.get("ha_proxy") or {}).get("ssl_pem") if isinstance(props, Mapping) else None
            if isinstance(pem, str):
                found.extend(c for c in pem_certificates(pem) if c not in found)
    return found


def prepare_manifests(config: Any, director_uuid: str, out_dir: Path,
                      generate: Callable[..., dict[str, Path]] | None = None) -> dict[str, dict[str, Path]]:
    """V0 and V-prime manifests for this director: pre-generated dirs from the config, or
    generated into `out_dir/<set>/` with one shared secrets file, the config's CF domain and
    its CF admin credentials (so the deployed CF is the one the suite talks to, and its UAA
    accepts exactly the credentials the suite uses)."""
    if generate is None:
        from manifests.generate import generate as default_generate  # late: manifests is optional for checks

        generate = default_generate
    from manifests.generate import write_domain_stub

    up = config.upgrade
    out: dict[str, dict[str, Path]] = {}
    secrets = Path(out_dir) / "secrets.yml"
    stubs = tuple(up.stubs)
    domain = config.cf.system_domain or config.cf.apps_domain
    if domain:  # the CF the suite talks to is the CF the manifests describe
        stubs = (str(write_domain_stub(domain, out_dir)), *stubs)
    for key in ("v0", "v_prime"):
        given = (up.manifests or {}).get(key)
        if given:
            out[key] = {p: Path(given) / f"{p}.yml" for p in PIECES}
            continue
        out[key] = generate(up.versions.get(key, key), target="bosh-lite", director_uuid=director_uuid,
                            out=Path(out_dir) / key, stubs=stubs, prefix=up.deployment_prefix,
                            secrets_file=secrets, cf_admin_user=config.cf.admin_user,
                            cf_admin_password=config.cf.admin_password)
    return out


def deployment_name(manifest: Path) -> str:
    return str(load_manifest(manifest)["name"])


# --------------------------------------------------------------------------------------
# The run


@dataclass
class Routability:
    """A0 during one step: its outage windows, those that broke the step's policy, and
    whether the poller sampled the step at all (no samples must never read as "no outage")."""

    step: str
    windows: list[OutageWindow]
    violations: list[OutageWindow]
    summary: dict[str, Any]
    expected_samples: int = 0  # what the fixed schedule should have taken during the step

    @property
    def undersampled(self) -> bool:
        """Fewer than half the scheduled samples (a step shorter than one interval may have none)."""
        return int(self.summary.get("attempted", 0)) < max(min(self.expected_samples, 1), self.expected_samples // 2)

    def message(self) -> str:
        head = (f"A0 lost its route during {self.step!r}: {len(self.violations)} outage window(s) broke the "
                f"policy ({self.summary.get('failed', 0)} of {self.summary.get('attempted', 0)} samples failed)")
        return "\n".join([head] + [f"  - {w.describe()}" for w in self.violations])

    def failure(self) -> str | None:
        """Why `test_a0_routable_during_<step>` fails, or None when it passes."""
        parts = []
        if self.undersampled:
            parts.append(f"the A0 poller took {self.summary.get('attempted', 0)} samples during {self.step!r} "
                         f"(expected about {self.expected_samples}, one every {self.summary.get('interval')}s): "
                         "A0's routability was not measured")
        if self.violations:
            parts.append(self.message())
        return "\n".join(parts) or None


class UpgradeRun:
    """Shared state of one upgrade-from-stable run (created once per session)."""

    def __init__(self, *, config: Any, director: Any, cf_factory: Callable[[], Any], manifests_dir: Path,
                 recorder: StepRecorder, app_dir: Path, http: checks.Http,
                 recent_logs: Callable[[Any, str], list[Any]], ssh_exec: Callable[..., Any],
                 resolver: Any = None, poller_factory: Callable[[str], Poller] | None = None,
                 on_event: Callable[[dict[str, Any]], None] | None = None,
                 on_verdict: Callable[[Verdict], None] | None = None,
                 run_id: str | None = None, generate: Callable[..., dict[str, Path]] | None = None,
                 on_cf_trust: Callable[[list[str]], None] | None = None) -> None:
        self.config = config
        self.director = director
        self._cf_factory = cf_factory
        self._cf: Any = None
        self.manifests_dir = Path(manifests_dir)
        self.recorder = recorder
        self.app_dir = Path(app_dir)
        self.http = http
        self.recent_logs = recent_logs
        self.ssh_exec = ssh_exec
        self.resolver = resolver
        self.poller_factory = poller_factory
        self.poller: Poller | None = None
        self.on_event = on_event
        self.on_verdict = on_verdict
        self.on_cf_trust = on_cf_trust  # told the HAProxy certificates of the CF manifests
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self._generate = generate
        self.manifests: dict[str, dict[str, Path]] = {}
        self.names: dict[str, str] = {}
        self.state: dict[str, dict[str, Any]] = {}  # piece -> {"version": v0|v_prime, "running": bool}
        self.created: list[str] = []  # deployments this run created (the only ones it may touch)
        self.a0: Any = None
        self.org_guid: str | None = None
        self.space_guid: str | None = None
        self.timings: dict[str, float] = {}

    # -- helpers ----------------------------------------------------------------------

    def timeout(self, name: str) -> float:
        """A named, scaled timeout from the config (an unknown name is a bug: it raises)."""
        return float(self.config.timeout(name))

    def _note(self, v: Verdict) -> None:
        """Hand a verdict to the run's record (report.json, live failure lines)."""
        if self.on_verdict is not None:
            self.on_verdict(v)

    @property
    def cf(self) -> Any:
        if self._cf is None:
            self._cf = self._cf_factory()
        return self._cf

    def _timed(self, key: str, start: float) -> None:
        self.timings[key] = self.timings.get(key, 0.0) + (time.monotonic() - start)

    # -- preflight -----------------------------------------------------------------------

    def prepare(self) -> dict[str, dict[str, Path]]:
        """Generate (or locate) the manifests for this director."""
        if not self.manifests:
            self.manifests = prepare_manifests(self.config, self.director.uuid(), self.manifests_dir, self._generate)
            self.names = {p: deployment_name(self.manifests["v0"][p]) for p in PIECES}
            trusted = haproxy_certificates(self.manifests[key]["cf"] for key in ("v0", "v_prime"))
            if trusted:  # the CF the suite deploys presents what its manifests say
                self.config = self.config.with_cf_trust(trusted)
                if self.on_cf_trust is not None:
                    self.on_cf_trust(trusted)
        return self.manifests

    def preflight(self) -> list[Verdict]:
        """Director reachable and authenticated; uploads present; none of our deployments exists
        (deployments this same run created, e.g. by the smoke suite in one session, are ours)."""
        step = "preflight"
        self.director.info()
        user = self.director.authenticated_user()
        if not user:
            v = Verdict(False, "authenticated", step, "director",
                        "the director did not accept the configured credentials (no authenticated user)")
            self._note(v)
            raise CheckFailed(v)
        self.prepare()
        required: set[tuple[str, str]] = set()
        stemcells: set[tuple[str, str]] = set()
        for key in ("v0", "v_prime"):
            for p in PIECES:
                required |= set(manifest_releases(self.manifests[key][p]).items())
                stemcells |= manifest_stemcells(self.manifests[key][p])
        uploaded = {(str(r["name"]), str(v["version"])) for r in self.director.releases()
                    for v in r.get("release_versions") or []}
        stems = {(str(s["name"]), str(s["version"])) for s in self.director.stemcells()}
        verdicts = [checks.missing_uploads(step, required, uploaded, stemcells, stems),
                    checks.no_existing_deployments(step, self.names.values(),
                                                   set(self.director.deployment_names()) - set(self.created))]
        for v in verdicts:
            self._note(v)
        failed = [v for v in verdicts if not v.ok]
        if len(failed) == 1:
            checks.require(failed[0])
        if failed:  # every problem at once: missing uploads *and* existing deployments
            raise CheckFailed(Verdict(False, "preflight", step, "director",
                                      "\n".join(f"{v.check}: {v.message}" for v in failed)), failed)
        return verdicts

    # -- BOSH operations ----------------------------------------------------------------

    def _manifest_text(self, piece: str, version: str) -> str:
        return Path(self.manifests[version][piece]).read_text()

    def run_op(self, op: Op, kind: str, step: str | None = None, policy: StepPolicy | None = None) -> Any:
        """One BOSH operation, recorded as its own step (attribution of outage windows) under
        `policy` (the enclosing step's, so that `poller.policy."upgrade CF"` also governs the CF
        deploy inside it). Failures other than our own checks become `StepFailed` naming `step`."""
        name = self.names[op.piece]
        start = time.monotonic()
        try:
            with self.recorder.step(f"{op.label} ({name})", kind=kind, policy=policy):
                result = self._apply(op, name)
        except CheckFailed:
            raise
        except Exception as exc:
            raise StepFailed(f"[{step or op.label}] {op.label} of deployment {name} failed: {exc}") from exc
        finally:
            self._timed("bosh", start)
        return result

    def _apply(self, op: Op, name: str) -> Any:
        """The director calls of one operation; only deployments this run created are changed."""
        delete_mode = getattr(self.config.upgrade, "cell_stop", "stop") == "delete"
        if op.action == "deploy":
            if name not in self.created and name in self.director.deployment_names():
                raise CheckFailed(checks.no_existing_deployments(op.label, [name], [name]))
            result = self.director.deploy(self._manifest_text(op.piece, op.version), on_event=self.on_event)
            if name not in self.created:
                self.created.append(name)
            self.state[op.piece] = {"version": op.version, "running": True}
            return result
        self._require_ours(name)
        if op.action == "stop":
            result = self.director.change_job_state(name, "stopped", on_event=self.on_event)
            if delete_mode:  # DUSTs' stop + delete + redeploy, from our own manifest
                result = self.director.delete_deployment(name, on_event=self.on_event, force=True)
            self.state[op.piece]["running"] = False
        elif op.action == "start":
            if delete_mode:
                result = self.director.deploy(self._manifest_text(op.piece, self.state[op.piece]["version"]),
                                              on_event=self.on_event)
            else:
                result = self.director.change_job_state(name, "started", on_event=self.on_event)
            self.state[op.piece]["running"] = True
        else:
            raise ValueError(f"unknown operation {op.action!r}")
        return result

    def _require_ours(self, name: str) -> None:
        if name not in self.created:
            raise RuntimeError(f"refusing to change deployment {name}: this run did not create it")

    def run_stage(self, stage: Stage) -> None:
        """All operations of a stage inside one recorded step named `stage.title`."""
        self.prepare()
        with self.recorder.step(stage.title, kind=stage.kind) as step:
            for op in stage.ops:
                self.run_op(op, stage.kind, stage.title, step.policy)
        if stage.kind == "cf":
            # only a sample scheduled after the CF step ended proves A0 came back: one taken
            # before the router went away says nothing about the upgraded routing tier
            self.wait_cf_back(stage, self.poller.next_seq if self.poller is not None else 0)

    def wait_cf_back(self, stage: Stage, since: int) -> None:
        """After CF: the API answers again, and (if polling) A0 answers again in a sample
        numbered `since` or later; enforcement of routability resumes from there."""
        start = time.monotonic()
        with self.recorder.step(f"wait for CF and A0 after {stage.title}", kind="setup"):
            self._cf = None  # log in again: UAA and CC were replaced
            deadline = time.monotonic() + self.timeout("api_ready")
            while True:
                try:
                    self.cf.info(refresh=True)
                    break
                except Exception:
                    self._cf = None
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            if self.poller is not None and self.poller.running:
                ok = self.poller.wait_ok(self.timeout("route_ready"), since_seq=since)
                if ok is None:
                    raise CheckFailed(Verdict(False, "A0 back after CF", stage.title, "A0",
                                              f"A0 did not answer again within {self.timeout('route_ready'):.0f}s "
                                              f"after {stage.title} (expected a routable sample, saw "
                                              f"{self._samples_since(since)})", {"since_seq": since}))
        self._timed("wait", start)

    def _samples_since(self, seq: int) -> str:
        """What the poller saw from sample `seq` on, for a failure message."""
        late = [s for s in self.poller.samples() if s.seq >= seq] if self.poller is not None else []
        if not late:
            return "no sample"
        last = late[-1]
        return (f"{len(late)} sample(s), {sum(not s.ok for s in late)} failed, the last one "
                f"{last.error or 'ok'}{' ' + str(last.status) if last.status else ''}")

    # -- checks ------------------------------------------------------------------------------

    def verify_versions(self, stage: Stage, pieces: Iterable[str] | None = None) -> list[Verdict]:
        """Each deployment touched (default: all) runs the releases its manifest pins."""
        deployed = checks.deployed_versions(self.director)
        out = []
        for piece in pieces or PIECES:
            st = self.state.get(piece)
            if st is None:
                continue
            name = self.names[piece]
            expected = manifest_releases(self.manifests[st["version"]][piece])
            v = checks.deployment_versions(stage.title, name, expected, deployed.get(name, {}))
            self._note(v)
            out.append(checks.require(v))
        return out

    def ensure_space(self) -> str:
        if self.space_guid is None:
            org = f"DUSTPY-{self.run_id}-ORG"
            self.org_guid, self.space_guid = self.cf.ensure_org_space(org, f"DUSTPY-{self.run_id}-SPACE")
        return self.space_guid

    def expected_diego(self, stage: Stage) -> dict[str, str]:
        out = {}
        for cell, version in stage.cell_versions.items():
            if cell in stage.smoke_cells:
                out[self.names[cell]] = manifest_releases(self.manifests[version][cell]).get("diego", "")
        return out

    def smoke(self, stage: Stage) -> checks.SmokeResult:
        """The smoke test after a step, with the placement check for this stage."""
        cells = [self.names[c] for c in CELLS]
        allowed = [self.names[c] for c in stage.smoke_cells]
        expected = self.expected_diego(stage)

        def hook(app_name: str, hosts: dict[int, str | None]) -> Verdict:
            return checks.placement_check(self.cf, self.director, step=stage.title, app={"name": app_name},
                                          cells=cells, allowed=allowed, expected_diego=expected, hosts=hosts)

        return self.smoke_test(stage.title, f"smoke-{self.run_id}-{stage.id}", hook)

    def smoke_test(self, step: str, name: str | None = None,
                   placement_hook: Callable[[str, dict[int, str | None]], Verdict] | None = None
                   ) -> checks.SmokeResult:
        """A fresh 2-instance app in this run's space, recorded as a step (timeline, live
        output); also what `suites/smoke` runs against any CF."""
        start = time.monotonic()
        try:
            with self.recorder.step(f"smoke test after {step}" if step != "smoke" else "smoke test", kind="setup"):
                return checks.smoke_test(
                    self.cf, self.recent_logs, self.ssh_exec, step=step, space_guid=self.ensure_space(),
                    app_dir=self.app_dir, http=self.http, resolver=self.resolver, instances=2, name=name,
                    timeout=self.timeout("route_ready"), placement_hook=placement_hook, on_verdict=self._note,
                    timeouts={k: self.timeout(k) for k in ("app_start", "route_ready", "logs", "ssh", "route_gone")})
        finally:
            self._timed("checks", start)

    def push_a0(self) -> Any:
        start = time.monotonic()
        space = self.ensure_space()
        self.a0 = self.cf.push(f"a0-{self.run_id}", self.app_dir, space, instances=1, enable_ssh=True)
        v, hist = checks.wait_for(
            lambda: checks.instances_running("deploy V0", "A0", self.cf.instances(self.a0.guid), 1),
            checks.Budget(self.timeout("app_start"), 0.2))
        self._note(v)
        checks.require(v, hist)
        reached = checks.collect_instances(self.http, self.cf.app_url(self.a0), 1,
                                           checks.Budget(self.timeout("route_ready"), 0.1))
        v = checks.instances_routable("deploy V0", "A0", reached.instances, 1, reached.attempts, reached.answers)
        self._note(v)
        checks.require(v)
        self._timed("checks", start)
        return self.a0

    def start_poller(self) -> Poller:
        if self.poller is None:
            if self.poller_factory is None or self.a0 is None:
                raise RuntimeError("A0 must be pushed before the poller starts")
            self.poller = self.poller_factory(self.cf.app_url(self.a0).rstrip("/") + "/id")
            self.poller.start()
            if self.poller.wait_ok(self.timeout("route_ready")) is None:
                raise CheckFailed(Verdict(False, "poller", "deploy V0", "A0",
                                          f"the A0 poller never saw a routable answer from {self.poller.url} within "
                                          f"{self.timeout('route_ready'):.0f}s (saw {self._samples_since(0)})"))
        return self.poller

    def scale_a0(self, stage: Stage) -> list[Verdict]:
        if self.a0 is None:
            raise RuntimeError("A0 was never pushed (deploy V0 failed)")
        start = time.monotonic()
        try:
            with self.recorder.step(f"scale A0 after {stage.title}", kind="setup"):
                return checks.scale_check(self.cf, self.http, step=stage.title, app=self.a0,
                                          timeout=self.timeout("scale"), on_verdict=self._note)
        finally:
            self._timed("checks", start)

    def routability(self, stage: Stage) -> Routability:
        if self.poller is None:
            raise RuntimeError("the A0 poller is not running (deploy V0 failed)")
        step = self.recorder.get(stage.title)
        if step is None:
            raise RuntimeError(f"step {stage.title!r} never ran")
        windows = self.poller.windows()
        return Routability(stage.title, [w for w in windows if stage.title in w.steps],
                           self.poller.violations(step), self.poller.summary(step),
                           int((step.duration or 0.0) / self.poller.interval))

    # -- teardown ------------------------------------------------------------------------------

    def cleanup_cf(self) -> None:
        """Delete the org this run created (apps and routes with it)."""
        if self.org_guid is not None and self._cf is not None:
            try:
                self._cf.delete_org(self.org_guid)
            finally:
                self.org_guid = None
