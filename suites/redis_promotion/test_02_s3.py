"""Candidates kept in S3 (a real S3 API: moto in server mode on 127.0.0.1): build into the
bucket, deploy from it, and find the ledger and the lock there."""

from __future__ import annotations

import boto3

from fixtures.redis import REDIS_TEMPLATES
from promotion import candidate as cand
from promotion.__main__ import main
from promotion.ledger import Ledger
from promotion.store import S3Store


def test_build_deploy_and_ledger_in_s3(platform, redis_releases, redis_upstream, moto_server, s3_settings,
                                       capsys, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket="redis-pipeline")
    common = ["--config", str(platform.config.source), "--store", "s3://redis-pipeline/redis",
              "--s3-endpoint", moto_server, "--s3-region", "eu-west-1"]
    assert main([*common, "build", "--upstream", str(redis_upstream), "--templates", str(REDIS_TEMPLATES),
                 "--release", "redis=9.1"]) == 0
    digest = capsys.readouterr().out.strip().splitlines()[-1]
    assert main([*common, "deploy", digest, "--env", "dev2"]) == 0

    store = S3Store("s3://redis-pipeline/redis", s3_settings)
    assert cand.read(store.get(cand.key(digest)), digest).digest == digest
    assert store.list("candidates/") == [f"candidates/{digest}.tgz"]  # one level: no candidates/candidates/
    records = Ledger(store).records()
    assert [(r.env, r.kind, r.outcome) for r in records] == [
        ("", "policy", "recorded"), ("dev2", "intent", "started"), ("dev2", "deploy", "passed"),
        ("dev2", "check", "passed")]
    capsys.readouterr()
    assert main([*common, "ledger"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4
