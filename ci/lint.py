"""Static checks of our Concourse pipelines, task files and task scripts.

`fly set-pipeline` checks a pipeline's own structure only: it does not open task files,
does not know what a resource type accepts, and cannot see what a script reads. Each check
below is one that a broken pipeline of ours failed, found here instead of hours into a job:

* structure: every pipeline, job, step, resource and task-file key is one Concourse accepts;
* resources: `source` keys, get params and put params against each type's documented schema
  (ci/resource_schemas.py), required keys present, custom types known by their image;
* artifacts: every `get`/`put` names a declared resource; every `passed:` job exists and
  uses that resource; every task input is provided by an earlier step; inputs of `ensure:`
  and other hooks that only a plan task provides are `optional: true` (the plan may have
  failed before producing them);
* files: a path `INPUT/FILE` that a script reads, or a put's `file:`/`manifest:`, is one that
  the step providing INPUT produces (a resource type's documented files; a task script's
  writes);
* params: every param a task file declares is used by its script or a module the script
  runs; every `$PARAM` the script reads without a default is declared; every param a
  pipeline step sets is declared by the task; `ci.suite_config --from-env` is given a
  director or a CF;
* images: task images are registry images pinned to a tag (not `latest`) or digest, that
  have the tools the script runs (python, go);
* timeouts: every task step has a `timeout:`;
* pins: a downstream job's `get` without `passed:`, `trigger:` or a version pin floats;
* cf CLI: a job that runs CATs or DATs gets the cf CLI (github.com/cloudfoundry/cli) pinned to
  one version, and that version can serve the CF releases of manifests/versions/*.yml and is
  not older than the suites require (the facts and their sources: ci/cf_cli_era.py);
* secrets: values of credential-looking keys are `((vars))`.

    python -m ci.lint ci/pipelines/*.yml

Why hand-written: PyPI's Concourse packages were tried (docs/ci.md): `ol-concourse`'s
pydantic models accept any step (a misspelled step key validated), `bagcheck` checks
policies (branch names), `concourseatom` has no strict models; none knows resource types'
schemas or looks into task files and scripts.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ci.cf_cli_era import SUITE_NAMES, cli_problems, era_releases
from ci.resource_schemas import (
    CUSTOM_TYPES_BY_REPOSITORY,
    HOOKS,
    IMAGE_TOOLS,
    JOB_KEYS,
    LIBRARY_ENV,
    PIPELINE_KEYS,
    RESOURCE_KEYS,
    RESOURCE_TYPE_KEYS,
    SCHEMAS,
    STEP_KEYS,
    TASK_INPUT_KEYS,
    TASK_KEYS,
    ResourceSchema,
)

SECRET_KEY = re.compile(r"(password|secret|private_key|access_key|token|ca_cert|credentials?)$", re.I)
VAR = re.compile(r"^\(\([\w.-]+\)\)$")
SUITE = "upgrade-suite/"
# files our Python tools write under `--out DIR` (so a consumer of DIR/FILE can be checked)
OUT_FILES = {
    "manifests generate": {"cf.yml", "database.yml", "brain-and-pals.yml", "cell1.yml", "cell2.yml"},
    "ci.bosh_lite provision": {"config.yml", "instance.yml"},
    "ci.generate_manifests": {"v0", "v_prime", "secrets.yml"},
}
SHELL_VARS = {"PATH", "PWD", "HOME", "GOPATH", "SECONDS", "CONFIG"}
# the acceptance suites a task script runs, by the checkout path it runs them from
ACCEPTANCE_SUITES = {"cats": "cf-acceptance-tests", "dats": "diego-acceptance-tests"}
CF_CLI_GIT_URI = re.compile(r"github\.com[/:]cloudfoundry/cli(?:\.git)?/?$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")


@dataclass
class Provider:
    """Where a build artifact comes from: a get of a resource, or a task output."""

    kind: str  # get | task
    schema: ResourceSchema | None = None
    resource: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    script: str = ""  # the producing task's script text


def _load(path: Path, findings: Findings) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        findings.add(str(path), f"cannot be read as YAML ({exc})")
        return None


def _secrets(node: Any, where: str, findings: Findings) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}.{key}"
            looks_secret = isinstance(key, str) and SECRET_KEY.search(key.replace("-", "_"))
            if looks_secret and isinstance(value, str) and value and not VAR.match(value.strip()):
                findings.add(here, "looks like a credential but is not a ((var))")
            _secrets(value, here, findings)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _secrets(item, f"{where}[{i}]", findings)


def _keys(node: Any, allowed: frozenset[str], where: str, findings: Findings) -> None:
    if isinstance(node, dict):
        for key in sorted(set(node) - allowed):
            findings.add(where, f"unknown key {key!r}")


def _kind(step: dict[str, Any]) -> str | None:
    return next((k for k in STEP_KEYS if k in step), None)


def _steps(step: Any, hook: bool = False) -> Iterator[tuple[dict[str, Any], bool]]:
    """(step, inside a hook) in execution order, flattening in_parallel/do/try."""
    if not isinstance(step, dict):
        return
    kind = _kind(step)
    if kind == "in_parallel":
        inner = step["in_parallel"]
        for s in (inner.get("steps", []) if isinstance(inner, dict) else inner) or []:
            yield from _steps(s, hook)
    elif kind == "do":
        for s in step["do"] or []:
            yield from _steps(s, hook)
    elif kind == "try":
        yield from _steps(step["try"], hook)
    else:
        yield step, hook
    for name in HOOKS:
        if name in step:
            yield from _steps(step[name], True)


def _all_steps(node: Any, where: str, findings: Findings) -> None:
    """Key check of every step, nested ones included."""
    if isinstance(node, list):
        for s in node:
            _all_steps(s, where, findings)
        return
    if not isinstance(node, dict):
        return
    kind = _kind(node)
    if kind is None:
        findings.add(where, f"step {sorted(node)} is none of {', '.join(STEP_KEYS)}")
        return
    _keys(node, STEP_KEYS[kind], f"{where} {kind} {node.get(kind) if isinstance(node.get(kind), str) else ''}".strip(),
          findings)
    inner = node.get(kind) if kind in ("in_parallel", "do", "try") else None
    if isinstance(inner, dict) and kind == "in_parallel":
        inner = inner.get("steps")
    _all_steps(inner, where, findings)
    for name in HOOKS:
        if name in node:
            _all_steps(node[name], where, findings)


# ------------------------------------------------------------------ scripts


def _script_text(repo: Path, script: Path, seen: set[Path] | None = None) -> str:
    """The script and the helper scripts it sources (`. "$(dirname "$0")/x.sh"`)."""
    seen = seen or set()
    if script in seen or not script.is_file():
        return ""
    seen.add(script)
    text = script.read_text()
    for name in re.findall(r'^\s*\.\s+"\$\(dirname "\$0"\)/([\w.-]+)"', text, re.M):
        text += "\n" + _script_text(repo, script.parent / name, seen)
    return text


def _modules(text: str) -> list[str]:
    return re.findall(r"python -m ([\w.]+)", text)


def _module_source(repo: Path, module: str) -> str:
    parts = module.split(".")
    for candidate in (repo.joinpath(*parts).with_suffix(".py"), repo.joinpath(*parts, "__main__.py"),
                      repo.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            text = candidate.read_text()
            # one level of in-project imports: where a CLI keeps its env names
            for dep in re.findall(r"^from ((?:ci|promotion|manifests|helpers)\.[\w.]+) import", text, re.M):
                dep_path = repo.joinpath(*dep.split(".")).with_suffix(".py")
                if dep_path.is_file():
                    text += "\n" + dep_path.read_text()
            return text
    return ""


def _reads_without_default(text: str) -> set[str]:
    code = "\n".join(line.split(" #", 1)[0] for line in text.splitlines() if not line.lstrip().startswith("#"))
    used = set(re.findall(r"\$([A-Z][A-Z0-9_]+)\b", code)) | set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)\}", code))
    assigned = set(re.findall(r"(?:^|[\s;(])(?:export\s+|local\s+)?([A-Z][A-Z0-9_]+)=", code, re.M))
    return used - assigned - SHELL_VARS


def _normalize(path: str) -> str:
    """A path as a script writes it, with shell expansions as globs."""
    return re.sub(r"\$\([^)]*\)|\$\{[^}]*\}|\$[A-Za-z_]\w*", "*", path).strip("\"'")


def _writes(script: str, output: str) -> set[str]:
    """Paths under `output/` that a producing script names, plus the files of `--out output`."""
    names = {_normalize(m) for m in re.findall(rf"(?<![\w./-]){re.escape(output)}/([^\s\"';|)]+)", script)}
    if re.search(rf"(?<![\w./-]){re.escape(output)}/(?:\s|$)", script):
        names.add("*")  # files copied into the directory: any name
    for command, files in OUT_FILES.items():
        if re.search(rf"python -m {re.escape(command)}\b[^\n]*(?:\\\n[^\n]*)*--out {re.escape(output)}\b", script):
            names |= files
    return names


def _produces(provider: Provider, path: str) -> tuple[bool, str]:
    """Whether the provider's artifact has `path` (a file name or glob under it)."""
    first = path.split("/", 1)[0]
    if provider.kind == "task":
        written = _writes(provider.script, provider.resource.get("name", ""))
        if any(fnmatch.fnmatch(w, first) or fnmatch.fnmatch(first, w) for w in written):
            return True, ""
        if "*" in first and written:
            return True, ""
        return False, f"its producing task writes {sorted(written) or 'nothing named there'}"
    schema = provider.schema
    if schema is None or schema.get_files is None:
        return True, ""
    names = set(schema.get_files)
    source = provider.resource.get("source") or {}
    if schema is SCHEMAS["s3"]:
        if source.get("versioned_file"):
            names.add(str(source["versioned_file"]).rsplit("/", 1)[-1])
        elif source.get("regexp"):
            names.add(re.sub(r"\([^)]*\)", "1.0.0", str(source["regexp"]).rsplit("/", 1)[-1]).replace("\\", ""))
    if schema is SCHEMAS["github-release"]:
        names |= {str(g) for g in (provider.params.get("globs") or [])}
    for tarball in ("release.tgz", "stemcell.tgz"):
        if tarball in names and str(provider.params.get("tarball", True)).lower() == "false":
            names.discard(tarball)
    if any(fnmatch.fnmatch(n, first) or fnmatch.fnmatch(first, n) for n in names):
        return True, ""
    return False, f"a get of this {provider.resource.get('type')} resource writes {sorted(names)}"


# ------------------------------------------------------------------ task files


@dataclass
class Task:
    rel: str
    data: dict[str, Any]
    script: str
    modules: list[str]


def _image_problems(image: Any, where: str, findings: Findings) -> str | None:
    """Check an image_resource is a pinned registry image; return its repository."""
    if not isinstance(image, dict):
        findings.add(where, "has no image_resource: the task would run on whatever the worker offers")
        return None
    source = image.get("source") or {}
    repo = str(source.get("repository", ""))
    if image.get("type") not in ("registry-image", "docker-image"):
        findings.add(where, f"image_resource type {image.get('type')!r} is not a registry image")
    digest = (image.get("version") or {}).get("digest")
    tag = source.get("tag")
    if not digest and (tag is None or str(tag) == "latest"):
        findings.add(where, f"image {repo or '?'} is not pinned: give a tag other than latest, or version.digest")
    return repo


def load_task(repo: Path, task_path: Path, where: str, findings: Findings) -> Task | None:
    rel = str(task_path.relative_to(repo))
    if not task_path.is_file():
        findings.add(where, f"task file {rel} does not exist")
        return None
    data = _load(task_path, findings)
    if not isinstance(data, dict):
        findings.add(where, f"task file {rel} is not a mapping")
        return None
    _keys(data, TASK_KEYS, rel, findings)
    for key in ("platform", "run"):
        if key not in data:
            findings.add(rel, f"has no {key!r}")
    for item in data.get("inputs") or []:
        _keys(item, TASK_INPUT_KEYS, f"{rel} input", findings)
    image_repo = _image_problems(data.get("image_resource"), rel, findings)
    run_path = str((data.get("run") or {}).get("path", ""))
    script = ""
    if run_path.startswith(SUITE):
        script_path = repo / run_path.removeprefix(SUITE)
        if not script_path.is_file():
            findings.add(rel, f"run.path {run_path} does not exist in the repository")
        elif not script_path.stat().st_mode & 0o111:
            findings.add(rel, f"run.path {run_path} is not executable")
        else:
            script = _script_text(repo, script_path)
    modules = _modules(script)
    tools = IMAGE_TOOLS.get(image_repo or "", frozenset())
    needs = {"python": bool(modules) or "pip " in script or re.search(r"\bpython\b", script) is not None,
             "go": re.search(r"\bgo (install|test|build)\b|ginkgo|bin/test", script) is not None}
    for tool, needed in needs.items():
        if needed and tool not in tools:
            findings.add(rel, f"its script runs {tool}, which image {image_repo or '?'} is not known to have")
    params = data.get("params") or {}
    _secrets(params, f"{rel}.params", findings)
    if script:
        consumed = script + "".join(_module_source(repo, m) for m in modules)
        for name in sorted(params):
            if name not in consumed and name not in LIBRARY_ENV:
                findings.add(rel, f"param {name} is used neither by its script nor by the modules it runs")
        for name in sorted(_reads_without_default(script) - set(params)):
            findings.add(rel, f"its script reads ${name}, which the task does not declare as a param")
    return Task(rel, data, script, modules)


# ------------------------------------------------------------------ pipelines


def _resource_schema(resource: dict[str, Any], custom: dict[str, str]) -> ResourceSchema | None:
    rtype = resource.get("type")
    return SCHEMAS.get(custom.get(rtype, rtype))  # type: ignore[arg-type]


def _check_resources(pipeline: dict[str, Any], name: str, findings: Findings) -> dict[str, str]:
    custom: dict[str, str] = {}
    for rt in pipeline.get("resource_types") or []:
        _keys(rt, RESOURCE_TYPE_KEYS, f"{name}: resource type {rt.get('name')}", findings)
        repo = str((rt.get("source") or {}).get("repository", ""))
        _image_problems({"type": rt.get("type"), "source": rt.get("source"), "version": rt.get("version")},
                        f"{name}: resource type {rt.get('name')}", findings)
        if repo in CUSTOM_TYPES_BY_REPOSITORY:
            custom[rt["name"]] = CUSTOM_TYPES_BY_REPOSITORY[repo]
        else:
            findings.add(f"{name}: resource type {rt.get('name')}", f"no documented schema is known for {repo!r}")
    for resource in pipeline.get("resources") or []:
        where = f"{name}: resource {resource.get('name')}"
        _keys(resource, RESOURCE_KEYS, where, findings)
        schema = _resource_schema(resource, custom)
        if schema is None:
            findings.add(where, f"unknown type {resource.get('type')!r}")
            continue
        source = resource.get("source") or {}
        for key in sorted(set(source) - schema.source):
            findings.add(where, f"source key {key!r} is not one the {resource.get('type')} resource documents")
        for key in sorted(schema.required - set(source)):
            findings.add(where, f"source key {key!r} is required by the {resource.get('type')} resource")
    _secrets(pipeline.get("resources"), f"{name}: resources", findings)
    return custom


def check_pipeline(repo: Path, pipeline_path: Path) -> list[str]:
    findings = Findings()
    pipeline = _load(pipeline_path, findings)
    if not isinstance(pipeline, dict):
        return findings.problems or [f"{pipeline_path}: not a pipeline mapping"]
    name = pipeline_path.name
    _keys(pipeline, PIPELINE_KEYS, name, findings)
    custom = _check_resources(pipeline, name, findings)
    resources = {r["name"]: r for r in pipeline.get("resources") or []}
    jobs = {j["name"]: j for j in pipeline.get("jobs") or []}
    job_resources: dict[str, set[str]] = {}
    for jname, job in jobs.items():
        _keys(job, JOB_KEYS, f"{name}: job {jname}", findings)
        _all_steps(job.get("plan") or [], f"{name}: job {jname}", findings)
        for hook in HOOKS:
            if hook in job:
                _all_steps(job[hook], f"{name}: job {jname} {hook}", findings)
        job_resources[jname] = {s.get("resource", s.get("get") or s.get("put"))
                                for s, _ in _steps({"do": job.get("plan") or [], **{h: job[h] for h in HOOKS if h in job}})
                                if "get" in s or "put" in s}
    for jname, job in jobs.items():
        _check_job(repo, name, jname, job, jobs, resources, custom, job_resources, findings)
    return list(dict.fromkeys(findings.problems))  # a task file used by several jobs is reported once


def _check_job(repo: Path, name: str, jname: str, job: dict[str, Any], jobs: dict[str, Any],
               resources: dict[str, Any], custom: dict[str, str], job_resources: dict[str, set[str]],
               findings: Findings) -> None:
    where = f"{name}: job {jname}"
    available: dict[str, Provider] = {}
    plan_root: dict[str, Any] = {"do": job.get("plan") or []}
    plan_root.update({h: job[h] for h in HOOKS if h in job})
    downstream = any("passed" in s for s, _ in _steps(plan_root))
    from_plan_tasks: set[str] = set()
    suites: set[str] = set()
    cf_clis: list[tuple[str, str | None, str]] = []  # (resource, pinned tag, why not pinned)
    for step, in_hook in _steps(plan_root):
        if "get" in step or "put" in step:
            kind = "get" if "get" in step else "put"
            rname = step.get("resource", step[kind])
            resource = resources.get(rname)
            if resource is None:
                findings.add(where, f"{kind} of undeclared resource {rname!r}")
                continue
            schema = _resource_schema(resource, custom)
            allowed = (schema.get_params if kind == "get" else schema.put_params) if schema else frozenset()
            params = step.get("params") or {}
            for key in sorted(set(params) - allowed) if schema else []:
                findings.add(where, f"{kind} {rname}: param {key!r} is not one the {resource['type']} resource "
                                    f"documents for {kind}")
            for upstream in step.get("passed") or []:
                if upstream not in jobs:
                    findings.add(where, f"passed: names unknown job {upstream!r}")
                elif rname not in job_resources[upstream]:
                    findings.add(where, f"passed: [{upstream}] but {upstream} never uses {rname!r}")
            if kind == "get" and downstream and not (step.get("passed") or step.get("trigger") or step.get("version")
                                                      or resource.get("version")):
                findings.add(where, f"get {rname} floats: no passed:, trigger: or version pin, so this job tests "
                                    "whatever is newest rather than what the upstream jobs tested")
            if kind == "put" and schema:
                for key in sorted(schema.put_required - set(params)):
                    findings.add(where, f"put {rname}: param {key!r} is required")
                for key in ("file", "manifest"):
                    if isinstance(params.get(key), str):
                        _check_file(params[key], available, f"{where} put {rname} {key}", findings)
            if kind == "get":
                available[step[kind]] = Provider("get", schema, resource, params)
                if _is_cf_cli(resource):
                    cf_clis.append((rname, *_cf_cli_pin(resource, step)))
            elif schema and schema.get_files is not None:
                available[step[kind]] = Provider("get", schema, resource, step.get("get_params") or {})
        elif "task" in step:
            task = _check_task_step(repo, where, step, in_hook, available, from_plan_tasks, findings)
            suites |= {suite for suite, path in ACCEPTANCE_SUITES.items() if task and path in task.script}
    if suites:
        _check_acceptance_cli(repo, where, suites, cf_clis, findings)


def _is_cf_cli(resource: dict[str, Any]) -> bool:
    source = resource.get("source") or {}
    if resource.get("type") == "github-release":
        return source.get("owner") == "cloudfoundry" and source.get("repository") == "cli"
    return resource.get("type") == "git" and bool(CF_CLI_GIT_URI.search(str(source.get("uri", ""))))


def _cf_cli_pin(resource: dict[str, Any], step: dict[str, Any]) -> tuple[str | None, str]:
    """(the one tag a cf CLI get is pinned to, or None and why it is not pinned)."""
    version = step.get("version") or resource.get("version") or {}
    version = version if isinstance(version, dict) else {}
    if resource.get("type") == "github-release":
        tag = version.get("tag")
        return (str(tag), "") if tag else (None, "no `version: {tag: ...}`")
    tag = str((resource.get("source") or {}).get("tag_filter", ""))
    if not tag or any(c in tag for c in "*?[]"):
        return None, "source.tag_filter is not one exact tag"
    # with tag_filter the git resource's versions are {ref: TAG, commit: SHA} (assets/check)
    if version.get("ref") != tag or not COMMIT.match(str(version.get("commit", ""))):
        return None, f"no `version: {{ref: {tag}, commit: <its 40-hex commit>}}`, so a moved tag would move the CLI"
    return tag, ""


def _check_acceptance_cli(repo: Path, where: str, suites: set[str], cf_clis: list[tuple[str, str | None, str]],
                          findings: Findings) -> None:
    """CATs and DATs drive the cf CLI on the PATH: it must be one pinned version of the era."""
    names = " and ".join(SUITE_NAMES[s] for s in sorted(suites))
    if not cf_clis:
        findings.add(where, f"runs {names} but gets no cf CLI (github.com/cloudfoundry/cli): the suites would "
                            "drive whatever cf the image has, if any")
        return
    era = era_releases(repo)
    for rname, tag, why in cf_clis:
        if tag is None:
            findings.add(where, f"runs {names} with the cf CLI of resource {rname}, which is not pinned: {why}")
            continue
        for problem in cli_problems(tag, suites, era):
            findings.add(where, f"runs {names} with the cf CLI of resource {rname}: {problem} (ci/cf_cli_era.py)")


def _check_file(path: str, available: dict[str, Provider], where: str, findings: Findings) -> None:
    artifact, _, rest = path.partition("/")
    provider = available.get(artifact)
    if provider is None:
        findings.add(where, f"{path}: no earlier step provides {artifact!r}")
        return
    if rest:
        ok, why = _produces(provider, rest)
        if not ok:
            findings.add(where, f"{path} is not produced: {why}")


def _check_task_step(repo: Path, where: str, step: dict[str, Any], in_hook: bool, available: dict[str, Provider],
                     from_plan_tasks: set[str], findings: Findings) -> Task | None:
    tname = step["task"]
    here = f"{where} task {tname}"
    _secrets(step.get("params") or {}, f"{here}.params", findings)
    if "timeout" not in step:
        findings.add(here, "has no timeout: (a hung step would hold its worker, and an AWS bill, for ever)")
    file = step.get("file")
    if not file:
        findings.add(where, f"task {tname} has no file:")
        return None
    if not str(file).startswith(SUITE):
        findings.add(where, f"task file {file} is not in the upgrade-suite input")
        return None
    if "upgrade-suite" not in available:
        findings.add(where, f"task {tname} runs before upgrade-suite is fetched")
    task = load_task(repo, repo / str(file).removeprefix(SUITE), here, findings)
    if task is None:
        return None
    declared = task.data.get("params") or {}
    for key in sorted(set(step.get("params") or {}) - set(declared)):
        findings.add(here, f"sets param {key}, which {task.rel} does not declare (a typo would pass unnoticed)")
    if "ci.suite_config" in task.modules and "--from-env" in task.script:
        given = {**{k: v for k, v in declared.items() if v not in (None, "")}, **(step.get("params") or {})}
        if not ({"BOSH_DIRECTOR_URL", "CF_API"} & set(given)):
            findings.add(here, "runs ci.suite_config --from-env without BOSH_DIRECTOR_URL or CF_API: "
                               "the config would name neither a director nor a CF")
    for item in task.data.get("inputs") or []:
        if not isinstance(item, dict):
            continue
        iname = item.get("name")
        if iname not in available:
            if not item.get("optional"):
                findings.add(where, f"task {task.rel} needs input {iname!r}, which no earlier step provides")
            continue
        if in_hook and iname in from_plan_tasks and not item.get("optional"):
            findings.add(here, f"input {iname!r} comes from a plan task that may not have run; this hook needs "
                               "it `optional: true` (and a script that copes without it)")
    for iname, rest in re.findall(r"(?<![\w./$-])([a-z][\w-]*)/([\w.*-]+(?:/[\w.*-]+)*)", task.script):
        if iname in available and iname != "upgrade-suite" and {i.get("name") for i in task.data.get("inputs") or []
                                                               if isinstance(i, dict)} >= {iname}:
            ok, why = _produces(available[iname], rest)
            if not ok:
                findings.add(here, f"its script reads {iname}/{rest}, which is not produced: {why}")
    for out in task.data.get("outputs") or []:
        oname = out.get("name", "") if isinstance(out, dict) else ""
        if not oname or "/" in oname:
            findings.add(task.rel, f"bad output {out!r}")
            continue
        available[oname] = Provider("task", None, {"name": oname}, {}, task.script)
        if not in_hook:
            from_plan_tasks.add(oname)
    return task


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    repo = Path(__file__).resolve().parent.parent
    problems = [p for path in paths for p in check_pipeline(repo, path.resolve())]
    for problem in problems:
        print(problem)
    print(f"{len(paths)} pipeline(s) checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
