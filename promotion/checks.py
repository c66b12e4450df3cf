"""Integration checks of a deployed Redis: the logic, shared by the CLI and the pytest suite.

Against the deployment's own addresses (leader from the manifest's static IP, followers from
the director's instance list), through the resolve map: authenticate, write and read on the
leader, see the write on every follower, and see a wrong password refused. Each check is a
named result so the ledger and the test report say which one failed.

Passwords as the release applies them: redis-boshrelease v9 and v9.1 (2015) ignore
`redis.password` (their redis.conf has no requirepass); v11 (2016-02-23) writes requirepass
and masterauth from it (default `r3d!s`), and v12 drops auth for an empty password
(cloudfoundry-community/redis-boshrelease@v9.1:jobs/redis/templates/config/redis.conf.erb;
@20a8097 (v11) lines 172-173 and 264-265; @v12 lines 172-175, 266-269). So the checks use
the password, and expect a wrong one refused, only where the deployed release applies it.

Data survives a deploy: `write_sentinel` puts a key on the leader before the director task,
`check_sentinel` reads it after from the leader (persistence: the release saves RDB
snapshots to the persistent disk and reloads them on start) and every follower
(replication), then deletes it. Every key the checks write is named `promotion-check-*`,
carries a TTL and is deleted when the check ends, so none is left behind, production
included.
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
KEY_PREFIX = "promotion-check-"
CHECK_TTL = 600  # seconds: a check key outlives no crashed run by more than this
SENTINEL_TTL = 24 * 3600  # must outlast the longest deploy it spans
FIRST_RELEASE_WITH_PASSWORD = 11
ResolveFn = Callable[[str, int], tuple[str, int]]


def password_applied(release_version: object) -> bool:
    """Whether a redis-boshrelease version writes `redis.password` into redis.conf (v11 on).
    `9+dev.1` is a dev build of 9; `latest` or an unknown version is assumed to."""
    head = str(release_version).split("+")[0].split(".")[0]
    return not head.isdigit() or int(head) >= FIRST_RELEASE_WITH_PASSWORD


@dataclass(frozen=True)
class RedisTarget:
    leader: str  # VM IP of the leader
    followers: tuple[str, ...]
    port: int
    password: str = field(repr=False)
    expected_followers: int | None = None  # what the manifest asks for; None = unknown
    release: str = ""  # `redis/9.1`: the release version the servers run
    auth: bool = True  # whether that release applies the password

    @property
    def client_password(self) -> str | None:
        return self.password if self.auth else None

    @property
    def no_auth_reason(self) -> str:
        return (f"{self.release or 'this release'} does not apply redis.password (redis-boshrelease applies it "
                f"from v{FIRST_RELEASE_WITH_PASSWORD})")


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
        def one(r: CheckResult) -> str:
            if not r.passed:
                return f"{r.name}: FAILED {r.detail}"
            return f"{r.name}: ok" + (f" ({r.detail})" if r.detail else "")

        return "; ".join(one(r) for r in self.results)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def target_from(manifest: dict[str, Any], instances: Iterable[Any]) -> RedisTarget:
    """Leader and followers of a deployed redis manifest. Followers are the instances the
    director lists (`vms?format=full` rows, `job_name` and `ips`, as the 2015 director
    gives them; the plain `/vms` of 2015 has no `ips`) for jobs whose `redis.master` is set (the errand job has no VM and is
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
    release_name = next((t.get("release") for t in leader_job.get("templates") or [] if t.get("name") == "redis"),
                        "redis")
    version = next((str(r.get("version")) for r in manifest.get("releases") or [] if r.get("name") == release_name),
                   "latest")
    password = str(props.get("password", "") or "")
    followers: list[str] = []
    for inst in instances:
        if (_get(inst, "job_name") or _get(inst, "job")) in follower_jobs:
            ips = _get(inst, "ips") or []
            if ips:
                followers.append(ips[0])
    return RedisTarget(
        leader=leader_ip,
        followers=tuple(sorted(followers)),
        port=int(props.get("port", 6379)),
        password=password,
        expected_followers=expected,
        release=f"{release_name}/{version}",
        auth=password_applied(version) and password != "",
    )


def _client(resolve: ResolveFn, ip: str, port: int, password: str | None, timeout: float) -> redis.Redis:
    host, lport = resolve(ip, port)
    return redis.Redis(
        host=host, port=lport, password=password, socket_timeout=timeout, socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def check_auth(target: RedisTarget, resolve: ResolveFn, timeout: float = 5.0) -> CheckResult:
    note = "" if target.auth else f"without a password: {target.no_auth_reason}"
    try:
        with _client(resolve, target.leader, target.port, target.client_password, timeout) as leader:
            ok = leader.ping()
        return CheckResult("authenticate", bool(ok), note if ok else "PING did not answer PONG")
    except redis.RedisError as exc:
        return CheckResult("authenticate", False, f"{target.leader}:{target.port}: {type(exc).__name__}"
                           + (f" ({note})" if note else ""))


def check_wrong_password(target: RedisTarget, resolve: ResolveFn, timeout: float = 5.0) -> CheckResult:
    """A wrong password refused, where the release applies one. Where it does not, the
    leader must answer without one (a server demanding a password the release never sets
    is not running what was deployed)."""
    if not target.auth:
        return CheckResult("wrong password refused", True, f"not applicable: {target.no_auth_reason}")
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


def check_write_read(target: RedisTarget, resolve: ResolveFn, key: str, value: str, timeout: float = 5.0,
                     ttl: int = CHECK_TTL) -> CheckResult:
    try:
        with _client(resolve, target.leader, target.port, target.client_password, timeout) as leader:
            leader.set(key, value, ex=ttl)
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
        with _client(resolve, ip, target.port, target.client_password, timeout) as follower:
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


def delete_key(target: RedisTarget, resolve: ResolveFn, key: str, timeout: float = 5.0) -> bool:
    """Delete a check key on the leader (the deletion replicates); False if that failed
    (the key's TTL then removes it)."""
    try:
        with _client(resolve, target.leader, target.port, target.client_password, timeout) as leader:
            leader.delete(key)
        return True
    except redis.RedisError:
        return False


def new_key(kind: str = "") -> str:
    return f"{KEY_PREFIX}{kind + '-' if kind else ''}{secrets.token_hex(6)}"


def run_checks(target: RedisTarget, resolve: ResolveFn, wait: float = 10.0) -> CheckReport:
    key = new_key()
    value = secrets.token_hex(12)
    results = [check_auth(target, resolve)]
    try:
        write = check_write_read(target, resolve, key, value)
        results.append(write)
        if write.passed:
            results.append(check_replicated(target, resolve, key, value, wait=wait))
        else:
            results.append(CheckResult("replicated to followers", False, "nothing written on the leader"))
    finally:
        delete_key(target, resolve, key)
    results.append(check_wrong_password(target, resolve))
    return CheckReport(tuple(results))


@dataclass(frozen=True)
class Sentinel:
    """A key written before a deploy, to be read after it."""

    key: str
    value: str = field(repr=False)
    written: bool
    detail: str = ""


def write_sentinel(target: RedisTarget, resolve: ResolveFn, timeout: float = 5.0) -> Sentinel:
    key, value = new_key("sentinel"), secrets.token_hex(12)
    try:
        with _client(resolve, target.leader, target.port, target.client_password, timeout) as leader:
            leader.set(key, value, ex=SENTINEL_TTL)
            return Sentinel(key, value, True)
    except redis.RedisError as exc:
        return Sentinel(key, value, False, f"could not write it on {target.leader} before the deploy "
                                           f"({type(exc).__name__})")


def check_sentinel(target: RedisTarget, resolve: ResolveFn, sentinel: Sentinel, wait: float = 10.0,
                   timeout: float = 5.0) -> CheckResult:
    """The key written before the deploy is still on the leader (persistence) and on every
    follower (replication); deleted afterwards either way."""
    name = "data survived the deploy"
    if not sentinel.written:
        return CheckResult(name, False, sentinel.detail)
    try:
        try:
            with _client(resolve, target.leader, target.port, target.client_password, timeout) as leader:
                got = leader.get(sentinel.key)
        except redis.RedisError as exc:
            return CheckResult(name, False, f"leader {target.leader}: {type(exc).__name__}")
        if got != sentinel.value.encode():
            return CheckResult(name, False, f"the key written on the leader before the deploy is gone "
                                            f"(leader {target.leader} read {got!r})")
        rep = check_replicated(target, resolve, sentinel.key, sentinel.value, wait=wait, timeout=timeout)
        if not rep.passed:
            return CheckResult(name, False, f"on the leader, but not on every follower: {rep.detail}")
        return CheckResult(name, True, f"leader and {len(target.followers)} followers")
    finally:
        delete_key(target, resolve, sentinel.key)
