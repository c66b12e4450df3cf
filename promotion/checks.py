"""Integration checks of a deployed Redis: the logic, shared by the CLI and the pytest suite.

Against the deployment's own addresses (leader from the manifest's static IP, followers from
the director's instance list), through the resolve map: authenticate, write and read on the
leader, see the write on every follower, and see a wrong password refused. Each check is a
named result so the ledger and the test report say which one failed.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

LEADER_JOB = "redis_leader_z1"
ResolveFn = Callable[[str, int], tuple[str, int]]


@dataclass(frozen=True)
class RedisTarget:
    leader: str  # VM IP of the leader
    followers: tuple[str, ...]
    port: int
    password: str = field(repr=False)
    expected_followers: int | None = None  # what the manifest asks for; None = unknown


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class CheckReport:
    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    def summary(self) -> str:
        return "; ".join(f"{r.name}: {'ok' if r.passed else 'FAILED ' + r.detail}" for r in self.results)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def target_from(manifest: dict[str, Any], instances: Iterable[Any]) -> RedisTarget:
    """Leader and followers of a deployed redis manifest. Followers are the instances the
    director lists for jobs whose `redis.master` is set (the errand job has no VM and is
    skipped); the manifest's instance counts say how many there must be, so a follower the
    director lost is a failure rather than one fewer server to ask."""
    jobs = {j["name"]: j for j in manifest.get("jobs", [])}
    leader_job = jobs.get(LEADER_JOB)
    if leader_job is None:
        raise ValueError(f"manifest has no {LEADER_JOB} job")
    props = leader_job.get("properties", {}).get("redis", {})
    leader_ip = leader_job["networks"][0]["static_ips"][0]
    follower_jobs = {
        name
        for name, j in jobs.items()
        if j.get("lifecycle") != "errand" and (j.get("properties", {}).get("redis", {}) or {}).get("master")
    }
    expected = sum(int(jobs[name].get("instances", 0) or 0) for name in follower_jobs)
    followers: list[str] = []
    for inst in instances:
        if _get(inst, "job") in follower_jobs:
            ips = _get(inst, "ips") or []
            if ips:
                followers.append(ips[0])
    return RedisTarget(
        leader=leader_ip,
        followers=tuple(sorted(followers)),
        port=int(props.get("port", 6379)),
        password=str(props.get("password", "")),
        expected_followers=expected,
    )


def _client(resolve: ResolveFn, ip: str, port: int, password: str | None, timeout: float) -> redis.Redis:
    host, lport = resolve(ip, port)
    return redis.Redis(
        host=host, port=lport, password=password, socket_timeout=timeout, socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def check_auth(target: RedisTarget, resolve: ResolveFn, timeout: float = 5.0) -> CheckResult:
    try:
        with _client(resolve, target.leader, target.port, target.password, timeout) as leader:
            ok = leader.ping()
        return CheckResult("authenticate", bool(ok), "" if ok else "PING did not answer PONG")
    except redis.RedisError as exc:
        return CheckResult("authenticate", False, f"{target.leader}:{target.port}: {type(exc).__name__}")


def check_wrong_password(target: RedisTarget, resolve: ResolveFn, timeout: float = 5.0) -> CheckResult:
    wrong = "wrong-" + secrets.token_hex(8)
    try:
        with _client(resolve, target.leader, target.port, wrong, timeout) as leader:
            leader.ping()
    except redis.AuthenticationError:
        return CheckResult("wrong password refused", True)
    except redis.ResponseError as exc:
        if "WRONGPASS" in str(exc) or "invalid password" in str(exc):
            return CheckResult("wrong password refused", True)
        return CheckResult("wrong password refused", False, f"unexpected error {type(exc).__name__}")
    except redis.RedisError as exc:
        return CheckResult("wrong password refused", False, f"could not ask: {type(exc).__name__}")
    return CheckResult("wrong password refused", False, "the leader accepted a wrong password")


def check_write_read(target: RedisTarget, resolve: ResolveFn, key: str, value: str, timeout: float = 5.0) -> CheckResult:
    try:
        with _client(resolve, target.leader, target.port, target.password, timeout) as leader:
            leader.set(key, value)
            got = leader.get(key)
    except redis.RedisError as exc:
        return CheckResult("write and read on leader", False, f"{type(exc).__name__}")
    if got != value.encode():
        return CheckResult("write and read on leader", False, f"read back {got!r}")
    return CheckResult("write and read on leader", True)


def check_replicated(
    target: RedisTarget, resolve: ResolveFn, key: str, value: str, wait: float = 10.0, timeout: float = 5.0
) -> CheckResult:
    if not target.followers:
        return CheckResult("replicated to followers", False, "the deployment has no running followers")
    if target.expected_followers is not None and len(target.followers) < target.expected_followers:
        return CheckResult("replicated to followers", False, f"the director lists {len(target.followers)} "
                           f"followers, the manifest asks for {target.expected_followers}")
    missing = []
    for ip in target.followers:
        deadline = time.monotonic() + wait
        got = None
        with _client(resolve, ip, target.port, target.password, timeout) as follower:
            while time.monotonic() < deadline:
                try:
                    got = follower.get(key)
                except redis.RedisError:
                    got = None
                if got == value.encode():
                    break
                time.sleep(0.1)
        if got != value.encode():
            missing.append(ip)
    if missing:
        return CheckResult("replicated to followers", False, f"write not seen within {wait}s on {', '.join(missing)}")
    return CheckResult("replicated to followers", True, f"{len(target.followers)} followers")


def run_checks(target: RedisTarget, resolve: ResolveFn, wait: float = 10.0) -> CheckReport:
    key = f"promotion-check-{secrets.token_hex(6)}"
    value = secrets.token_hex(12)
    results = [check_auth(target, resolve)]
    write = check_write_read(target, resolve, key, value)
    results.append(write)
    if write.passed:
        results.append(check_replicated(target, resolve, key, value, wait=wait))
    else:
        results.append(CheckResult("replicated to followers", False, "nothing written on the leader"))
    results.append(check_wrong_password(target, resolve))
    return CheckReport(tuple(results))
