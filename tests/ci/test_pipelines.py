"""The pipelines are consistent, and the linter that says so catches what it should."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from ci.lint import check_pipeline

REPO = Path(__file__).resolve().parents[2]
PIPELINES = sorted((REPO / "ci" / "pipelines").glob("*.yml"))


def _jobs(pipeline: Path) -> dict:
    return {j["name"]: j for j in yaml.safe_load(pipeline.read_text())["jobs"]}


def test_there_are_pipelines() -> None:
    assert {p.name for p in PIPELINES} >= {"diego.yml", "redis.yml"}


@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: p.name)
def test_pipeline_is_consistent(pipeline: Path) -> None:
    assert check_pipeline(REPO, pipeline) == []


def test_every_task_file_is_used_and_every_script_is_referenced() -> None:
    used_tasks = set()
    for pipeline in PIPELINES:
        used_tasks |= {line.split("upgrade-suite/", 1)[1].strip() for line in pipeline.read_text().splitlines()
                       if "file: upgrade-suite/ci/tasks/" in line}
    on_disk = {str(p.relative_to(REPO)) for p in (REPO / "ci" / "tasks").glob("*.yml")}
    assert on_disk == used_tasks
    scripts = {str(p.relative_to(REPO)) for p in (REPO / "ci" / "scripts").glob("*.sh")} - {"ci/scripts/lib.sh"}
    referenced = {yaml.safe_load((REPO / t).read_text())["run"]["path"].removeprefix("upgrade-suite/")
                  for t in on_disk}
    assert scripts == referenced


def test_promotion_requires_cats_dats_and_upgrade_from_stable() -> None:
    jobs = _jobs(REPO / "ci/pipelines/diego.yml")
    gets = [s for step in jobs["promote-candidate"]["plan"] for s in step.get("in_parallel", [step])
            if s.get("get") == "diego-release-candidate"]
    assert gets and set(gets[0]["passed"]) == {"cats", "dats", "upgrade-from-stable"}
    for job in ("cats", "dats", "upgrade-from-stable"):
        gets = [s for step in jobs[job]["plan"] for s in step.get("in_parallel", [step])
                if s.get("get") == "diego-release-candidate"]
        assert gets[0]["passed"] == ["ketchup-smoke-tests"], job


def test_bosh_lite_is_destroyed_in_ensure_whatever_happens() -> None:
    job = _jobs(REPO / "ci/pipelines/diego.yml")["upgrade-from-stable"]
    ensure_steps = job["ensure"]["do"]
    assert any(s.get("task") == "destroy-bosh-lite" for s in ensure_steps)
    plan_tasks = [s.get("task") for s in job["plan"]]
    assert plan_tasks.index("provision-bosh-lite") < plan_tasks.index("run-upgrade-stable")
    assert "destroy-bosh-lite" not in plan_tasks  # only in ensure, so a failure cannot skip it


# --- the linter finds each kind of mistake ------------------------------------------------


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "ci", tmp_path / "ci")
    return tmp_path


def _mutate(repo: Path, name: str, edit) -> list[str]:
    path = repo / "ci" / "pipelines" / name
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))
    return check_pipeline(repo, path)


def _job(data: dict, name: str) -> dict:
    return next(j for j in data["jobs"] if j["name"] == name)


def test_lint_finds_undeclared_resource(repo_copy: Path) -> None:
    def edit(d):
        d["resources"] = [r for r in d["resources"] if r["name"] != "v0-cf-release"]
    problems = _mutate(repo_copy, "diego.yml", edit)
    assert any("undeclared resource 'v0-cf-release'" in p for p in problems)


def test_lint_finds_passed_on_job_without_the_resource(repo_copy: Path) -> None:
    def edit(d):
        _job(d, "cats")["plan"][0]["in_parallel"][1]["passed"] = ["dats"]  # cats' cf-release
    problems = _mutate(repo_copy, "diego.yml", edit)
    assert any("passed: [dats] but dats never uses 'cf-release'" in p for p in problems)


def test_lint_finds_missing_task_input(repo_copy: Path) -> None:
    def edit(d):
        plan = _job(d, "upgrade-from-stable")["plan"]
        _job(d, "upgrade-from-stable")["plan"] = [s for s in plan if s.get("task") != "generate-manifests"]
    problems = _mutate(repo_copy, "diego.yml", edit)
    assert any("needs input 'manifests'" in p for p in problems)


def test_lint_finds_literal_secret(repo_copy: Path) -> None:
    def edit(d):
        _job(d, "upgrade-from-stable")["plan"][2]["params"]["BOSH_DIRECTOR_PASSWORD"] = "hunter2"
    problems = _mutate(repo_copy, "diego.yml", edit)
    assert any("BOSH_DIRECTOR_PASSWORD" in p and "not a ((var))" in p for p in problems)


def test_lint_finds_missing_or_non_executable_script(repo_copy: Path) -> None:
    (repo_copy / "ci/scripts/run-upgrade-stable.sh").chmod(0o644)
    (repo_copy / "ci/scripts/destroy-bosh-lite.sh").unlink()
    problems = check_pipeline(repo_copy, repo_copy / "ci/pipelines/diego.yml")
    assert any("run-upgrade-stable.sh is not executable" in p for p in problems)
    assert any("destroy-bosh-lite.sh does not exist" in p for p in problems)


def test_lint_finds_missing_task_file(repo_copy: Path) -> None:
    (repo_copy / "ci/tasks/upload-releases.yml").unlink()
    problems = check_pipeline(repo_copy, repo_copy / "ci/pipelines/diego.yml")
    assert any("upload-releases.yml does not exist" in p for p in problems)


def test_redis_candidates_pin_final_release_and_stemcell_versions() -> None:
    """Staging refuses `latest`: the build job must feed exact versions from the bosh.io
    resources (a new final release or stemcell builds a new candidate)."""
    jobs = _jobs(REPO / "ci/pipelines/redis.yml")
    gets = {s["get"]: s for step in jobs["build-candidate"]["plan"] for s in step.get("in_parallel", [step])
            if "get" in s}
    assert gets["redis-release"].get("trigger") and gets["stemcell"].get("trigger")
    script = (REPO / "ci/scripts/redis-build-candidate.sh").read_text()
    assert '--release "redis=$(cat redis-release/version)"' in script
    assert '--stemcell-version "$(cat stemcell/version)"' in script
