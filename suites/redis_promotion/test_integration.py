"""Integration checks of a deployed Redis, runnable alone by a pipeline or a developer:

    pytest suites/redis_promotion/test_integration.py --config C --redis-env staging [--candidate D]

Without `--redis-env`, a candidate is built and deployed to dev1 first (embedded simulator
when there is no config). Connections go through the config's resolve map."""

from __future__ import annotations

import secrets

from promotion.checks import check_auth, check_replicated, check_write_read, check_wrong_password


def test_authenticate(redis_target, platform):
    r = check_auth(redis_target, platform.resolver.resolve)
    assert r.passed, r.detail


def test_write_and_read_on_the_leader_replicated_to_every_follower(redis_target, platform):
    assert redis_target.followers, "the deployment has no running followers"
    key, value = f"integration-{secrets.token_hex(4)}", secrets.token_hex(8)
    r = check_write_read(redis_target, platform.resolver.resolve, key, value)
    assert r.passed, r.detail
    rep = check_replicated(redis_target, platform.resolver.resolve, key, value)
    assert rep.passed, rep.detail


def test_wrong_password_refused(redis_target, platform):
    r = check_wrong_password(redis_target, platform.resolver.resolve)
    assert r.passed, r.detail
