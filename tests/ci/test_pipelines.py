"""The pipelines pass the linter, the linter catches each problem issue 11 found in them (and
the others it claims), and the wiring that the stories require is there."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci.lint import check_pipeline

REPO = Path(__file__).resolve().parents[2]
PIPELINES = sorted((REPO / "ci" / "pipelines").glob("*.yml"))


def _jobs(pipeline: Path) -> dict:
    return {j["name"]: j for j in yaml.safe_load(pipeline.read_text())["jobs"]}


def _gets(job: dict) -> dict[str, dict]:
    return {s["get"]: s for step in job["plan"] for s in step.get("in_parallel", [step]) if "get" in s}


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
    sourced = {"ci/scripts/lib.sh", "ci/scripts/cf-cli.sh"}
    scripts = {str(p.relative_to(REPO)) for p in (REPO / "ci" / "scripts").glob("*.sh")} - sourced
    referenced = {yaml.safe_load((REPO / t).read_text())["run"]["path"].removeprefix("upgrade-suite/")
                  for t in on_disk}
    assert scripts == referenced


def test_promotion_requires_cats_dats_and_upgrade_from_stable_in_parallel_after_smoke() -> None:
    jobs = _jobs(REPO / "ci/pipelines/diego.yml")
    assert set(_gets(jobs["promote-candidate"])["diego-release-candidate"]["passed"]) == {
        "cats", "dats", "upgrade-from-stable"}
    for job in ("cats", "dats", "upgrade-from-stable"):
        assert _gets(jobs[job])["diego-release-candidate"]["passed"] == ["ketchup-smoke-tests"], job
        assert "serial_groups" not in jobs[job]  # they run side by side


def test_ketchup_is_deployed_piecewise_by_our_tooling_not_a_bosh_deployment_resource() -> None:
    pipeline = yaml.safe_load((REPO / "ci/pipelines/diego.yml").read_text())
    assert not pipeline.get("resource_types")
    job = _jobs(REPO / "ci/pipelines/diego.yml")["deploy-ketchup"]
    task = next(s for s in job["plan"] if s.get("task") == "deploy-ketchup")
    assert task["params"]["BOSH_DIRECTOR_CA_CERT"] == "((ketchup-director-ca-cert))"
    script = (REPO / "ci/scripts/deploy-ketchup.sh").read_text()
    assert "python -m ci.deploy_pieces" in script and "python -m ci.upload_releases" in script


def test_cats_and_dats_run_from_the_checkouts_ketchup_deployed() -> None:
    jobs = _jobs(REPO / "ci/pipelines/diego.yml")
    assert _gets(jobs["cats"])["cf-release"]["passed"] == ["ketchup-smoke-tests"]
    assert _gets(jobs["cats"])["cf-release"]["params"]["submodules"] == ["src/github.com/cloudfoundry/cf-acceptance-tests"]
    assert _gets(jobs["dats"])["diego-release"]["passed"] == ["ketchup-smoke-tests"]
    for kind, release in (("cats", "cf-release"), ("dats", "diego-release")):
        script = (REPO / f"ci/scripts/{kind}-config.sh").read_text()
        assert f"require_tag {release}" in script and f"python -m ci.{kind}_config" in script


def test_cats_and_dats_drive_a_cf_cli_built_from_the_pinned_cli_commit() -> None:
    pipeline = yaml.safe_load((REPO / "ci/pipelines/diego.yml").read_text())
    source = next(r for r in pipeline["resources"] if r["name"] == "cf-cli-source")
    assert source["source"] == {"uri": "https://github.com/cloudfoundry/cli.git", "tag_filter": "v6.15.0"}
    # `git rev-parse v6.15.0^{commit}` in github.com/cloudfoundry/cli (a lightweight tag)
    assert source["version"] == {"ref": "v6.15.0", "commit": "74b98e99796fe618725b31dee1289ff58cbcfa71"}
    jobs = _jobs(REPO / "ci/pipelines/diego.yml")
    for job, run in (("cats", "run-cats"), ("dats", "run-dats")):
        tasks = [s.get("task") for s in jobs[job]["plan"] if "task" in s]
        assert tasks.index("build-cf-cli") < tasks.index(run), job
        assert "cf-cli-source" in _gets(jobs[job])
        inputs = {i["name"] for i in yaml.safe_load((REPO / f"ci/tasks/{run}.yml").read_text())["inputs"]}
        assert "cf-cli" in inputs and "cf-cli-source" not in inputs
    build = yaml.safe_load((REPO / "ci/tasks/build-cf-cli.yml").read_text())
    assert build["outputs"] == [{"name": "cf-cli"}]
    assert build["image_resource"]["source"] == yaml.safe_load((REPO / "ci/tasks/run-cats.yml").read_text())[
        "image_resource"]["source"]  # the Go image CATs and DATs run in


def test_bosh_lite_is_destroyed_in_ensure_whatever_happens() -> None:
    job = _jobs(REPO / "ci/pipelines/diego.yml")["upgrade-from-stable"]
    ensure_steps = job["ensure"]["do"]
    assert any(s.get("task") == "destroy-bosh-lite" for s in ensure_steps)
    plan_tasks = [s.get("task") for s in job["plan"]]
    assert plan_tasks.index("provision-bosh-lite") < plan_tasks.index("run-upgrade-stable")
    assert "destroy-bosh-lite" not in plan_tasks  # only in ensure, so a failure cannot skip it
    destroy = yaml.safe_load((REPO / "ci/tasks/destroy-bosh-lite.yml").read_text())
    assert {"name": "run-id", "optional": True} in destroy["inputs"]


def test_redis_candidates_pin_final_versions_and_build_from_git() -> None:
    jobs = _jobs(REPO / "ci/pipelines/redis.yml")
    gets = _gets(jobs["build-candidate"])
    assert gets["redis-release"].get("trigger") and gets["stemcell"].get("trigger")
    assert gets["upgrade-suite"]["params"] == {"timestamp_format": "unix"}
    assert gets["redis-boshrelease"]["params"] == {"timestamp_format": "unix"}
    script = (REPO / "ci/scripts/redis-build-candidate.sh").read_text()
    assert '--release "redis=$(cat redis-release/version)"' in script
    assert '--stemcell-version "$(cat stemcell/version)"' in script
    assert "--templates upgrade-suite/manifests/redis" in script
    for job in ("deploy-dev1", "deploy-dev2", "promote-staging", "promote-production"):
        tasks = [s.get("task") for s in jobs[job]["plan"] if "task" in s]
        assert tasks == ["upload-releases", "deploy", "integration-checks"], job


def test_redis_finals_are_cut_by_the_finalize_job_from_what_dev_tested() -> None:
    """Issue 14: a `finalize` job between dev and staging cuts the final redis release with the
    real bosh CLI (pinned) through `python -m promotion finalize`; its tarball is the
    `redis-release` that candidates pin, and the final release commit goes back to the
    release repository."""
    pipeline = yaml.safe_load((REPO / "ci/pipelines/redis.yml").read_text())
    names = [j["name"] for j in pipeline["jobs"]]
    assert names.index("deploy-dev2") < names.index("finalize") < names.index("promote-staging")
    job = _jobs(REPO / "ci/pipelines/redis.yml")["finalize"]
    gets = _gets(job)
    assert not any(g.get("trigger") for g in gets.values())  # cutting a final is a decision
    assert gets["bosh-cli"]["version"] == {"tag": "v7.1.2"}
    puts = {s["put"]: s["params"] for s in job["plan"] if "put" in s}
    assert puts == {"redis-release": {"file": "final-release/redis-*.tgz"},
                    "redis-boshrelease": {"repository": "finalized-release", "rebase": True}}
    resources = {r["name"]: r for r in pipeline["resources"]}
    assert resources["redis-release"]["type"] == "s3"
    assert resources["redis-release"]["source"]["regexp"] == "redis-releases/redis-(.*).tgz"
    script = (REPO / "ci/scripts/redis-finalize.sh").read_text()
    assert "python -m promotion finalize" in script and "--checkout" in script and "--bosh-cli" in script
    assert "redis-release/redis-*.tgz" in (REPO / "ci/scripts/redis-upload-releases.sh").read_text()


# --- the linter finds each kind of mistake ------------------------------------------------


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "ci", tmp_path / "ci")
    for package in ("promotion", "manifests", "helpers"):  # modules the scripts run (params they read)
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.yml"))
    for versions in (REPO / "manifests/versions").glob("*.yml"):  # the CF the era deploys (cf CLI check)
        shutil.copy(versions, tmp_path / "manifests/versions" / versions.name)
    return tmp_path


def _mutate(repo: Path, name: str, edit: Callable[[dict], Any]) -> list[str]:
    path = repo / "ci" / "pipelines" / name
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))
    return check_pipeline(repo, path)


def _job(data: dict, name: str) -> dict:
    return next(j for j in data["jobs"] if j["name"] == name)


def _task_step(data: dict, job: str, task: str) -> dict:
    return next(s for s in _job(data, job)["plan"] if s.get("task") == task)


def _edit_task(repo: Path, name: str, edit: Callable[[dict], Any]) -> None:
    path = repo / "ci" / "tasks" / name
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))


def _has(problems: list[str], *fragments: str) -> bool:
    return any(all(f in p for f in fragments) for p in problems)


def test_lint_finds_bosh_deployment_given_username_and_password(repo_copy: Path) -> None:
    """Issue 11: the bosh-deployment resource takes client/client_secret."""
    def edit(d: dict) -> None:
        d["resource_types"] = [{"name": "bosh-deployment", "type": "registry-image",
                                "source": {"repository": "cloudfoundry/bosh-deployment-resource", "tag": "v1.0.0"}}]
        d["resources"].append({"name": "ketchup-deployment", "type": "bosh-deployment", "source": {
            "target": "((url))", "username": "((user))", "password": "((password))", "deployment": "ketchup-diego"}})
    problems = _mutate(repo_copy, "diego.yml", edit)
    assert _has(problems, "ketchup-deployment", "source key 'username' is not one the bosh-deployment")
    assert _has(problems, "ketchup-deployment", "source key 'client' is required")


def test_lint_finds_a_manifest_the_generator_never_writes(repo_copy: Path) -> None:
    """Issue 11: `put ... manifest: ketchup-manifest/diego.yml`, but the generator writes the pieces."""
    (repo_copy / "ci/tasks/gen.yml").write_text(yaml.safe_dump({
        "platform": "linux", "image_resource": {"type": "registry-image",
                                                "source": {"repository": "python", "tag": "3.11.15-bookworm"}},
        "inputs": [{"name": "upgrade-suite"}], "outputs": [{"name": "ketchup-manifest"}],
        "run": {"path": "upgrade-suite/ci/scripts/gen.sh"}}))
    script = repo_copy / "ci/scripts/gen.sh"
    script.write_text("#!/bin/sh\npython -m manifests generate --versions v0 --director-uuid x --out ketchup-manifest\n")
    script.chmod(0o755)

    def edit(d: dict) -> None:
        d["resources"].append({"name": "out", "type": "s3", "source": {"bucket": "b", "regexp": "m/(.*).yml"}})
        _job(d, "deploy-ketchup")["plan"] += [{"task": "gen", "file": "upgrade-suite/ci/tasks/gen.yml",
                                                "timeout": "5m"},
                                               {"put": "out", "params": {"file": "ketchup-manifest/diego.yml"}}]
    problems = _mutate(repo_copy, "diego.yml", edit)
    assert _has(problems, "ketchup-manifest/diego.yml is not produced", "cf.yml")


def test_lint_finds_a_director_ca_that_the_script_never_uses(repo_copy: Path) -> None:
    """Issue 11: the director's CA was declared but never passed on."""
    _edit_task(repo_copy, "deploy-ketchup.yml", lambda t: t["params"].update({"KETCHUP_DIRECTOR_CA_CERT": None}))
    problems = check_pipeline(repo_copy, repo_copy / "ci/pipelines/diego.yml")
    assert _has(problems, "deploy-ketchup.yml", "param KETCHUP_DIRECTOR_CA_CERT is used neither")


def test_lint_finds_a_script_reading_an_undeclared_param(repo_copy: Path) -> None:
    script = repo_copy / "ci/scripts/deploy-ketchup.sh"
    script.write_text(script.read_text() + 'echo "$KETCHUP_DIRECTOR_URL"\n')
    problems = check_pipeline(repo_copy, repo_copy / "ci/pipelines/diego.yml")
    assert _has(problems, "deploy-ketchup.yml", "reads $KETCHUP_DIRECTOR_URL")


def test_lint_finds_a_python_task_in_an_image_without_python(repo_copy: Path) -> None:
    """Issue 11: CATs/DATs tasks pip-installed the suite into an image not known to have Python."""
    _edit_task(repo_copy, "cats-config.yml", lambda t: t["image_resource"]["source"].update(
        {"repository": "golang", "tag": "1.6.4"}))
    problems = check_pipeline(repo_copy, repo_copy / "ci/pipelines/diego.yml")
    assert _has(problems, "cats-config.yml", "runs python, which image golang is not known to have")


def test_lint_finds_an_unpinned_image(repo_copy: Path) -> None:
    _edit_task(repo_copy, "run-dats.yml", lambda t: t["image_resource"]["source"].pop("tag"))
    _edit_task(repo_copy, "run-cats.yml", lambda t: t["image_resource"]["source"].update({"tag": "latest"}))
    problems = check_pipeline(repo_copy, repo_copy / "ci/pipelines/diego.yml")
    assert _has(problems, "run-dats.yml", "image golang is not pinned")
    assert _has(problems, "run-cats.yml", "image golang is not pinned")


def test_lint_finds_a_floating_release_checkout(repo_copy: Path) -> None:
    """Issue 11: `cats` took an unpinned cf-release."""
    problems = _mutate(repo_copy, "diego.yml", lambda d: _gets(_job(d, "cats"))["cf-release"].pop("passed"))
    assert _has(problems, "job cats", "get cf-release floats")


def test_lint_finds_a_long_task_without_timeout(repo_copy: Path) -> None:
    """Issue 11: no `timeout:` on the AWS job."""
    problems = _mutate(repo_copy, "diego.yml",
                       lambda d: _task_step(d, "upgrade-from-stable", "provision-bosh-lite").pop("timeout"))
    assert _has(problems, "task provision-bosh-lite", "has no timeout")


def test_lint_finds_an_ensure_input_that_may_never_exist(repo_copy: Path) -> None:
    """Issue 11: the `ensure` destroy errored when no run id was allocated."""
    _edit_task(repo_copy, "destroy-bosh-lite.yml", lambda t: t.update(
        {"inputs": [{"name": "upgrade-suite"}, {"name": "run-id"}]}))
    problems = check_pipeline(repo_copy, repo_copy / "ci/pipelines/diego.yml")
    assert _has(problems, "task destroy-bosh-lite", "input 'run-id' comes from a plan task", "optional: true")


def test_lint_finds_a_suite_config_with_neither_director_nor_cf(repo_copy: Path) -> None:
    """Issue 11: the Redis build task gave `ci.suite_config --from-env` only the store."""
    def edit(d: dict) -> None:
        params = _task_step(d, "build-candidate", "build-candidate")["params"]
        for key in [k for k in params if k.startswith("BOSH_DIRECTOR_")]:
            params.pop(key)
    problems = _mutate(repo_copy, "redis.yml", edit)
    assert _has(problems, "task build-candidate", "without BOSH_DIRECTOR_URL or CF_API")


def test_lint_finds_a_file_the_s3_resource_does_not_write(repo_copy: Path) -> None:
    """The old scripts read latest-candidate/digest; the s3 get names the file after the object."""
    script = repo_copy / "ci/scripts/redis-deploy.sh"
    script.write_text(script.read_text().replace("latest-candidate/latest-candidate", "latest-candidate/digest"))
    problems = check_pipeline(repo_copy, repo_copy / "ci/pipelines/redis.yml")
    assert _has(problems, "reads latest-candidate/digest, which is not produced", "'latest-candidate'")


def test_lint_finds_undocumented_params_and_keys(repo_copy: Path) -> None:
    def edit(d: dict) -> None:
        _gets(_job(d, "deploy-ketchup"))["diego-release-candidate"]["triger"] = True
        _gets(_job(d, "deploy-ketchup"))["cf-release"]["params"]["submodule"] = "none"
        _job(d, "promote-candidate")["plan"][-1]["params"]["acl_policy"] = "private"
        _task_step(d, "deploy-ketchup", "deploy-ketchup")["params"]["BOSH_DIRECTOR_PASSWROD"] = "((x))"
        d["resources"][1]["source"]["branchh"] = "main"
    problems = _mutate(repo_copy, "diego.yml", edit)
    assert _has(problems, "get diego-release-candidate", "unknown key 'triger'")
    assert _has(problems, "get cf-release: param 'submodule' is not one the git resource documents")
    assert _has(problems, "put diego-final-releases: param 'acl_policy'")
    assert _has(problems, "sets param BOSH_DIRECTOR_PASSWROD, which ci/tasks/deploy-ketchup.yml does not declare")
    assert _has(problems, "resource cf-release", "source key 'branchh'")


def test_lint_finds_undeclared_resource_and_wrong_passed(repo_copy: Path) -> None:
    def edit(d: dict) -> None:
        d["resources"] = [r for r in d["resources"] if r["name"] != "v0-cf-release"]
        _gets(_job(d, "cats"))["cf-release"]["passed"] = ["dats"]
    problems = _mutate(repo_copy, "diego.yml", edit)
    assert _has(problems, "undeclared resource 'v0-cf-release'")
    assert _has(problems, "passed: [dats] but dats never uses 'cf-release'")


def test_lint_finds_missing_task_input_and_literal_secret(repo_copy: Path) -> None:
    def edit(d: dict) -> None:
        job = _job(d, "upgrade-from-stable")
        job["plan"] = [s for s in job["plan"] if s.get("task") != "generate-manifests"]
        _task_step(d, "upgrade-from-stable", "provision-bosh-lite")["params"]["BOSH_LITE_DIRECTOR_CA_CERT"] = "x"
    problems = _mutate(repo_copy, "diego.yml", edit)
    assert _has(problems, "needs input 'manifests'")
    assert _has(problems, "BOSH_LITE_DIRECTOR_CA_CERT", "not a ((var))")


def test_lint_finds_missing_or_non_executable_script_and_task_file(repo_copy: Path) -> None:
    (repo_copy / "ci/scripts/run-upgrade-stable.sh").chmod(0o644)
    (repo_copy / "ci/scripts/destroy-bosh-lite.sh").unlink()
    (repo_copy / "ci/tasks/upload-releases.yml").unlink()
    problems = check_pipeline(repo_copy, repo_copy / "ci/pipelines/diego.yml")
    assert _has(problems, "run-upgrade-stable.sh is not executable")
    assert _has(problems, "destroy-bosh-lite.sh does not exist")
    assert _has(problems, "upload-releases.yml does not exist")


# --- the cf CLI that CATs and DATs drive (ci/cf_cli_era.py) ---------------------------------


def _cf_cli_resource(d: dict) -> dict:
    return next(r for r in d["resources"] if r["name"] == "cf-cli-source")


def test_lint_finds_the_cf_cli_that_cannot_target_the_eras_cloud_controller(repo_copy: Path) -> None:
    """The review of issue 11: CATs and DATs got cf CLI v6.53.0 from its GitHub release. It cannot
    even `cf api` a CC of cf v220/v231 (no `GET /`), and its `cf logs` reads log-cache."""
    def edit(d: dict) -> None:  # the pipeline as it was: the github-release of v6.53.0, used directly
        d["resources"] = [r for r in d["resources"] if r["name"] != "cf-cli-source"] + [{
            "name": "cf-cli", "type": "github-release", "version": {"tag": "v6.53.0"},
            "source": {"owner": "cloudfoundry", "repository": "cli", "access_token": "((github-read-token))"}}]
        for job in ("cats", "dats"):
            plan = _job(d, job)["plan"]
            plan[:] = [s for s in plan if s.get("task") != "build-cf-cli"]
            gets = plan[0]["in_parallel"]
            gets[:] = [g for g in gets if g.get("get") != "cf-cli-source"]
            gets.append({"get": "cf-cli", "params": {"globs": ["cf-cli_6.53.0_linux_x86-64.tgz"]}})
    problems = _mutate(repo_copy, "diego.yml", edit)
    for job, suite in (("cats", "CATs"), ("dats", "DATs")):
        assert _has(problems, f"job {job}: runs {suite} with the cf CLI of resource cf-cli: cf CLI v6.53.0 is newer "
                              "than the era's CF supports: cf v220 has CC API 2.39.0")
        assert _has(problems, f"job {job}", "from v6.52.0 on the CLI cannot even `cf api`", "`GET /`")
        assert _has(problems, f"job {job}", "`cf logs` reads log-cache only")


# the commits are `git rev-parse TAG^{commit}` in github.com/cloudfoundry/cli
@pytest.mark.parametrize(("tag", "commit", "found", "dats_too"), [
    ("v6.53.0", "8e2b70a4a3ab889297f912dff02dfe618c00234b", "newer than the era's CF supports", True),
    ("v6.39.0", "607d4f8bedc85a5bc5db68f7f00ef8dbb66047aa", "declares CC API below 2.69.0 unsupported", True),
    # old enough for DATs at 0.1454.0 (6.13.0), too old for CATs at cf v231
    ("v6.14.1", "b2855eda2e93602b45709d01532cb15cee1dcd30", "older than CATs at cf v231 require: 6.15.0", False),
])
def test_lint_judges_the_pinned_cf_cli_version(repo_copy: Path, tag: str, commit: str, found: str,
                                               dats_too: bool) -> None:
    def edit(d: dict) -> None:
        _cf_cli_resource(d)["source"]["tag_filter"] = tag
        _cf_cli_resource(d)["version"] = {"ref": tag, "commit": commit}
    problems = _mutate(repo_copy, "diego.yml", edit)
    assert _has(problems, "job cats", f"cf CLI {tag}", found)
    assert _has(problems, "job dats", f"cf CLI {tag}", found) == dats_too


def test_lint_accepts_the_last_cli_that_declares_no_cc_minimum(repo_copy: Path) -> None:
    """v6.38.0 is the newest CLI without a declared minimum CC API: no fact stands against it."""
    def edit(d: dict) -> None:
        _cf_cli_resource(d)["source"]["tag_filter"] = "v6.38.0"
        _cf_cli_resource(d)["version"] = {"ref": "v6.38.0", "commit": "9048c6b553bb90bdd92d4156d7e6a54b82a45e72"}
    assert _mutate(repo_copy, "diego.yml", edit) == []


@pytest.mark.parametrize(("edit", "found"), [
    (lambda r: r["source"].update({"tag_filter": "v6.*"}), "not one exact tag"),
    (lambda r: r.pop("version"), "a moved tag would move the CLI"),
    (lambda r: r["version"].update({"commit": "74b98e9"}), "a moved tag would move the CLI"),
    (lambda r: r["version"].update({"ref": "v6.16.0"}), "a moved tag would move the CLI"),
])
def test_lint_finds_a_cf_cli_that_is_not_pinned_to_one_commit(repo_copy: Path, edit: Callable[[dict], Any],
                                                              found: str) -> None:
    problems = _mutate(repo_copy, "diego.yml", lambda d: edit(_cf_cli_resource(d)))
    assert _has(problems, "job cats: runs CATs with the cf CLI of resource cf-cli-source, which is not pinned", found)


def test_lint_finds_acceptance_tests_without_a_cf_cli(repo_copy: Path) -> None:
    def edit(d: dict) -> None:
        gets = _job(d, "dats")["plan"][0]["in_parallel"]
        gets[:] = [g for g in gets if g.get("get") != "cf-cli-source"]
    problems = _mutate(repo_copy, "diego.yml", edit)
    assert _has(problems, "job dats: runs DATs but gets no cf CLI")
    assert not _has(problems, "job cats: runs CATs but gets no cf CLI")


def test_lint_refuses_to_judge_a_cli_when_the_eras_cc_is_unknown(repo_copy: Path) -> None:
    versions = repo_copy / "manifests/versions/v_prime.yml"
    versions.write_text(versions.read_text().replace("cf: '231'", "cf: '245'"))
    problems = check_pipeline(repo_copy, repo_copy / "ci/pipelines/diego.yml")
    assert _has(problems, "job cats", "the CC API version of cf v245 (manifests/versions) is not known")
    for path in (repo_copy / "manifests/versions").glob("*.yml"):
        path.unlink()
    problems = check_pipeline(repo_copy, repo_copy / "ci/pipelines/diego.yml")
    assert _has(problems, "job dats", "manifests/versions/*.yml name no cf-release")
