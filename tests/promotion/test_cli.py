"""`python -m promotion` without a director: build (local and S3), show, ledger, unlock,
and the exit statuses of refusals."""

from __future__ import annotations

import subprocess
import sys

import boto3
import pytest

from fixtures.redis import REDIS_TEMPLATES, REPO
from promotion import candidate as cand
from promotion.__main__ import main
from promotion.lock import EnvLock
from promotion.store import S3Store


def _build(store_url: str, upstream, *extra: str) -> list[str]:
    return ["--store", store_url, *extra, "build", "--upstream", str(upstream), "--templates",
            str(REDIS_TEMPLATES), "--release", "redis=9.1"]


def test_build_into_a_directory_and_show(tmp_path, redis_upstream, capsys):
    store = tmp_path / "store"
    assert main(_build(str(store), redis_upstream)) == 0
    digest = capsys.readouterr().out.strip()
    assert (store / "candidates" / f"{digest}.tgz").is_file()
    assert main(["--store", str(store), "show", digest]) == 0
    assert "content_digest:" in capsys.readouterr().out


def test_build_into_s3(moto_server, s3_settings, redis_upstream, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket="cli-bucket")
    assert main(_build("s3://cli-bucket/redis", redis_upstream, "--s3-endpoint", moto_server)) == 0
    digest = capsys.readouterr().out.strip()
    store = S3Store("s3://cli-bucket/redis", s3_settings)
    assert store.list("candidates/") == [f"candidates/{digest}.tgz"]
    assert cand.read(store.get(cand.key(digest)), digest).releases[0]["version"] == "9.1"


def test_show_refuses_a_tampered_candidate_with_exit_3(tmp_path, redis_upstream, capsys):
    store = tmp_path / "store"
    main(_build(str(store), redis_upstream))
    digest = capsys.readouterr().out.strip()
    path = store / "candidates" / f"{digest}.tgz"
    path.write_bytes(path.read_bytes()[:-10])
    assert main(["--store", str(store), "show", digest]) == 3
    assert "tampered with or truncated" in capsys.readouterr().err


def test_unknown_candidate_and_bad_digest(tmp_path, capsys):
    assert main(["--store", str(tmp_path), "show", "a" * 64]) == 3
    err = capsys.readouterr().err
    assert "refused by rule 'known-candidate'" in err and "is not in the store" in err and "to satisfy it" in err
    assert main(["--store", str(tmp_path), "show", "../x"]) == 3
    assert "refused by rule 'known-candidate'" in capsys.readouterr().err


def test_store_errors_exit_2_without_credentials(moto_server, redis_upstream, capsys, monkeypatch):
    """A missing bucket is a configuration problem (exit 2), and the S3 secret never shows."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3-Secret-Never-Printed")
    assert main(_build("s3://no-such-bucket/redis", redis_upstream, "--s3-endpoint", moto_server)) == 2
    out = capsys.readouterr()
    assert "NoSuchBucket" in out.err and "s3://no-such-bucket/redis" in out.err
    assert "s3-Secret-Never-Printed" not in out.out + out.err


def test_deploy_without_a_config_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CONFIG", raising=False)
    assert main(["--store", str(tmp_path), "deploy", "a" * 64, "--env", "dev1"]) == 2
    assert "needs a suite config" in capsys.readouterr().err


@pytest.mark.parametrize(("command", "words"), [
    ([], ["build", "deploy", "diff", "unlock", "ledger", "show", "policy", "adopt-drift", "restore", "recover",
          "diff-production"]),
    (["deploy"], ["final releases", "resetting staging", "parity", "ledger", "--allow-downgrade"]),
    (["policy"], ["allow-diff", "bind", "--reason", "recorded in the ledger"]),
    (["build"], ["NAME=VERSION", "--stemcell-version", "final releases", "--digest-file"]),
    (["unlock"], ["--force", "share one lock"]),
    (["diff"], ["allowed paths", "--candidate"]),
])
def test_help_texts_explain_each_command(command, words, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for word in words:
        assert word in out


def test_build_without_upstream_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CONFIG", raising=False)
    assert main(["--store", str(tmp_path), "build", "--release", "redis=9.1"]) == 2
    assert "--upstream" in capsys.readouterr().err


def test_unlock_needs_force(tmp_path, capsys):
    from promotion.store import LocalStore

    EnvLock(LocalStore(tmp_path), "staging", "crashed", "c" * 64).acquire()
    assert (tmp_path / "locks" / "promotion.lock").exists()
    assert main(["--store", str(tmp_path), "unlock", "--env", "staging"]) == 2
    assert main(["--store", str(tmp_path), "unlock", "--env", "staging", "--force"]) == 0
    assert "crashed" in capsys.readouterr().out
    assert not (tmp_path / "locks" / "promotion.lock").exists()


def test_ledger_prints_json_lines(tmp_path, capsys):
    assert main(["--store", str(tmp_path), "ledger"]) == 0
    assert capsys.readouterr().out == ""


def test_module_entry_point_runs(tmp_path):
    r = subprocess.run([sys.executable, "-m", "promotion", "--store", str(tmp_path), "ledger"], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("env", ["qa", "prod"])
def test_unknown_environment_is_rejected_by_the_parser(env, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["--store", str(tmp_path), "deploy", "a" * 64, "--env", env])
    assert exc.value.code == 2


def test_common_options_after_the_command_and_digest_file(tmp_path, redis_upstream, capsys):
    """The CI scripts put --config/--store after the command and read the digest from a file."""
    store = tmp_path / "store"
    digest_file = tmp_path / "candidate" / "digest"
    assert main(["build", "--store", str(store), "--upstream", str(redis_upstream), "--templates",
                 str(REDIS_TEMPLATES), "--release", "redis=9", "--digest-file", str(digest_file)]) == 0
    digest = capsys.readouterr().out.strip()
    assert digest_file.read_text().strip() == digest
    assert main(["show", digest, "--store", str(store)]) == 0


def test_missing_config_file_is_a_usage_error(tmp_path, capsys):
    assert main(["deploy", "a" * 64, "--env", "dev1", "--config", str(tmp_path / "none.yml"),
                 "--upstream", "x"]) == 2
    assert "none.yml" in capsys.readouterr().err


def test_bad_build_input_is_a_usage_error(tmp_path, redis_upstream, capsys):
    assert main(["--store", str(tmp_path), "build", "--upstream", str(tmp_path), "--release", "redis=9.1"]) == 2
    assert "not a redis-boshrelease checkout" in capsys.readouterr().err
    assert main(["--store", str(tmp_path), "build", "--upstream", str(redis_upstream), "--release", "redis"]) == 2
    assert "NAME=VERSION" in capsys.readouterr().err


def test_policy_is_shown_and_changed_only_as_a_recorded_decision(tmp_path, capsys):
    from promotion.ledger import Ledger
    from promotion.store import LocalStore

    store = ["--store", str(tmp_path)]
    assert main([*store, "policy"]) == 0
    out = capsys.readouterr().out
    assert "policy version 0 (built in)" in out and "production: deployment redis-production" in out
    assert main([*store, "policy", "allow-diff", "jobs.*.persistent_disk"]) == 2  # no reason
    assert "--reason" in capsys.readouterr().err
    assert main([*store, "policy", "allow-diff", "jobs.*.persistent_disk", "--reason", "bigger prod disks"]) == 0
    assert "policy version 1 recorded (ledger #0)" in capsys.readouterr().out
    assert main([*store, "policy", "bind", "--env", "dev1", "--deployment", "redis-production", "--reason", "x"]) == 3
    assert "one deployment bound to two environments: redis-production" in capsys.readouterr().err
    [record] = Ledger(LocalStore(tmp_path)).records()
    assert record.extra["reason"] == "bigger prod disks" and record.extra["policy"]["version"] == 1


def test_build_refuses_a_candidate_whose_environment_names_another_deployment(tmp_path, redis_upstream, capsys):
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(REDIS_TEMPLATES, templates)
    net = templates / "networking-dev2.yml"
    net.write_text(net.read_text().replace("environment: redis-dev2", "environment: redis-staging"))
    assert main(["--store", str(tmp_path / "store"), "build", "--upstream", str(redis_upstream), "--templates",
                 str(templates), "--release", "redis=9.1"]) == 3
    err = capsys.readouterr().err
    assert "refused by rule 'bound-deployment': the build's dev2 manifest names deployment redis-staging, which " \
           "is staging's" in err
    assert not (tmp_path / "store" / "candidates").exists()  # nothing stored


def test_the_s3_region_comes_from_the_flag_the_config_or_the_environment(monkeypatch):
    from promotion.store import s3_settings

    class Cfg:
        endpoint_url, region, access_key_id, secret_access_key = None, None, None, None

    assert s3_settings(Cfg(), environ={}).region == "us-east-1"
    assert s3_settings(Cfg(), environ={"AWS_DEFAULT_REGION": "eu-central-1"}).region == "eu-central-1"
    Cfg.region = "eu-west-1"
    assert s3_settings(Cfg(), environ={"AWS_REGION": "ap-south-1"}).region == "eu-west-1"
    assert s3_settings(Cfg(), region="us-west-2", environ={}).region == "us-west-2"
    store = S3Store("s3://b/p", s3_settings(Cfg(), "http://127.0.0.1:1", environ={}, region="eu-north-1"))
    assert store._client.meta.region_name == "eu-north-1"


def test_ledger_warns_about_an_unfinished_intent(tmp_path, capsys):
    from promotion.ledger import Ledger, Record
    from promotion.store import LocalStore

    Ledger(LocalStore(tmp_path)).append(Record("c" * 64, "dev2", "intent", "started", "run-9", deployment="redis-dev2"))
    assert main(["--store", str(tmp_path), "ledger"]) == 0
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 1
    assert "warning: run run-9 recorded at ledger #0" in out.err and "recover --env dev2 --force" in out.err


@pytest.mark.parametrize("command", [["restore"], ["recover", "--env", "dev1"]])
def test_decisions_about_production_need_force(command, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CONFIG", raising=False)
    assert main(["--store", str(tmp_path), *command]) == 2
    assert "--force" in capsys.readouterr().err


def test_finalize_with_bad_input_lists_every_problem_and_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CONFIG", raising=False)
    monkeypatch.setenv("PROMOTION_BOSH_CLI", str(tmp_path / "no-such-bosh"))
    assert main(["--store", str(tmp_path / "store"), "finalize", "--release-dir", str(tmp_path / "nowhere"),
                 "--dev-release", "redis/9", "--version", "10+dev.1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("finalize cannot run as given:")
    for problem in ("nowhere is not a directory", "9 is a final version; name the dev release",
                    "--version '10+dev.1' is not a final version", "no-such-bosh is not an executable file",
                    "needs a suite config"):
        assert problem in err, problem
    assert not (tmp_path / "store").exists()  # nothing was written


def test_finalize_refuses_the_bosh_cli_v1(tmp_path, capsys, monkeypatch):
    """The Ruby CLI of 2015 has no `create-release --final --tarball`: it is named, not run."""
    ruby_cli = tmp_path / "bosh"
    ruby_cli.write_text("#!/bin/sh\necho 'BOSH 1.3098.0'\n")
    ruby_cli.chmod(0o755)
    (tmp_path / "rel" / "config").mkdir(parents=True)
    (tmp_path / "rel" / "config" / "final.yml").write_text("name: redis\n")
    subprocess.run(["git", "init", "-q", str(tmp_path / "rel")], check=True)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert main(["--store", str(tmp_path / "store"), "finalize", "--release-dir", str(tmp_path / "rel"),
                 "--dev-release", "redis"]) == 2
    err = capsys.readouterr().err
    assert "says 'BOSH 1.3098.0' to --version: finalize needs the bosh CLI v2 or later" in err
    assert "is not a directory" not in err and "git checkout" not in err
