"""Static checks of our Concourse pipelines, task files and scripts.

`fly validate-pipeline` only checks a pipeline's own syntax; it does not open the task
files, so a renamed input, a missing script or a `passed:` on a job that never had the
resource is found only when the pipeline runs (hours later, for upgrade-from-stable).
These checks find them at once:

* every `get`/`put` names a declared resource, every resource a known type;
* every `passed:` job exists and gets or puts that resource itself;
* every task `file:` exists, its `run.path` script exists and is executable, and every
  input it declares is provided by an earlier step of the same plan (a `get` or a previous
  task's output), and every declared output is a directory name only;
* `ensure:` steps (and their task files) pass the same checks;
* no literal secret: values of keys that look like credentials are `((vars))`.

    python -m ci.lint ci/pipelines/*.yml
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BUILTIN_TYPES = {"git", "s3", "time", "semver", "registry-image", "docker-image", "bosh-io-release",
                 "bosh-io-stemcell", "github-release", "pool", "cf", "mock"}
SECRET_KEY = re.compile(r"(password|secret|private_key|access_key|token|ca_cert|credentials?)$", re.I)
VAR = re.compile(r"^\(\([\w.-]+\)\)$")
STEP_KINDS = ("get", "put", "task", "in_parallel", "do", "try", "aggregate")


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")


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


def _steps(step: Any) -> Iterator[dict[str, Any]]:
    """Steps in execution order, flattening in_parallel/do/try (their hooks come after)."""
    if not isinstance(step, dict):
        return
    if "in_parallel" in step:
        inner = step["in_parallel"]
        inner = inner.get("steps", []) if isinstance(inner, dict) else inner
        for s in inner or []:
            yield from _steps(s)
    elif "aggregate" in step:
        for s in step["aggregate"] or []:
            yield from _steps(s)
    elif "do" in step:
        for s in step["do"] or []:
            yield from _steps(s)
    elif "try" in step:
        yield from _steps(step["try"])
    else:
        yield step
    for hook in ("on_success", "on_failure", "on_abort", "on_error", "ensure"):
        if hook in step:
            yield from _steps(step[hook])


def check_task_file(repo: Path, task_path: Path, where: str, available: set[str],
                    findings: Findings) -> set[str]:
    """Check one task file; return the outputs it adds to the build's artifacts."""
    if not task_path.is_file():
        findings.add(where, f"task file {task_path.relative_to(repo)} does not exist")
        return set()
    task = _load(task_path, findings)
    if not isinstance(task, dict):
        findings.add(where, f"task file {task_path.relative_to(repo)} is not a mapping")
        return set()
    rel = task_path.relative_to(repo)
    for key in ("platform", "run"):
        if key not in task:
            findings.add(str(rel), f"has no {key!r}")
    run_path = (task.get("run") or {}).get("path", "")
    if run_path.startswith("upgrade-suite/"):
        script = repo / run_path.removeprefix("upgrade-suite/")
        if not script.is_file():
            findings.add(str(rel), f"run.path {run_path} does not exist in the repository")
        elif not script.stat().st_mode & 0o111:
            findings.add(str(rel), f"run.path {run_path} is not executable")
    inputs = {i["name"] for i in task.get("inputs") or [] if isinstance(i, dict) and not i.get("optional")}
    for name in sorted(inputs - available):
        findings.add(where, f"task {rel} needs input {name!r}, which no earlier step provides")
    outputs = set()
    for out in task.get("outputs") or []:
        name = out.get("name", "") if isinstance(out, dict) else ""
        if not name or "/" in name:
            findings.add(str(rel), f"bad output {out!r}")
        outputs.add(name)
    _secrets(task.get("params") or {}, f"{rel}.params", findings)
    return outputs


def check_pipeline(repo: Path, pipeline_path: Path) -> list[str]:
    findings = Findings()
    pipeline = _load(pipeline_path, findings)
    if not isinstance(pipeline, dict):
        return findings.problems or [f"{pipeline_path}: not a pipeline mapping"]
    name = pipeline_path.name
    types = BUILTIN_TYPES | {t["name"] for t in pipeline.get("resource_types") or []}
    resources = {r["name"]: r for r in pipeline.get("resources") or []}
    for rname, resource in resources.items():
        if resource.get("type") not in types:
            findings.add(f"{name}: resource {rname}", f"unknown type {resource.get('type')!r}")
    _secrets(pipeline.get("resources"), f"{name}: resources", findings)
    jobs = {j["name"]: j for j in pipeline.get("jobs") or []}
    job_resources: dict[str, set[str]] = {}
    for jname, job in jobs.items():
        used: set[str] = set()
        for step in _steps({"do": job.get("plan") or [], **({"ensure": job["ensure"]} if "ensure" in job else {})}):
            for kind in ("get", "put"):
                if kind in step:
                    used.add(step.get("resource", step[kind]))
        job_resources[jname] = used

    for jname, job in jobs.items():
        available: set[str] = set()
        plan_root = {"do": job.get("plan") or []}
        for hook in ("ensure", "on_failure", "on_success", "on_abort"):
            if hook in job:
                plan_root[hook] = job[hook]
        for step in _steps(plan_root):
            where = f"{name}: job {jname}"
            if "get" in step or "put" in step:
                kind = "get" if "get" in step else "put"
                resource = step.get("resource", step[kind])
                if resource not in resources:
                    findings.add(where, f"{kind} of undeclared resource {resource!r}")
                for upstream in step.get("passed") or []:
                    if upstream not in jobs:
                        findings.add(where, f"passed: names unknown job {upstream!r}")
                    elif resource not in job_resources[upstream]:
                        findings.add(where, f"passed: [{upstream}] but {upstream} never uses {resource!r}")
                available.add(step[kind])
            elif "task" in step:
                _secrets(step.get("params") or {}, f"{where} task {step['task']}.params", findings)
                file = step.get("file")
                if not file:
                    findings.add(where, f"task {step['task']} has no file:")
                    continue
                if not file.startswith("upgrade-suite/"):
                    findings.add(where, f"task file {file} is not in the upgrade-suite input")
                    continue
                if "upgrade-suite" not in available:
                    findings.add(where, f"task {step['task']} runs before upgrade-suite is fetched")
                available |= check_task_file(repo, repo / file.removeprefix("upgrade-suite/"),
                                             f"{where} task {step['task']}", available, findings)
    return findings.problems


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
