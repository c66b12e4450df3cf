"""One promotion at a time: a lock object in the store shared by staging and production.

Staging and production are one lock, not two: a staging run reads production's candidate
(to reset staging to it) and a production run reads staging's state (its gate and parity),
so a staging promotion and a production promotion must not interleave either (the CI
pipeline's `serial_groups: [promotion]` says the same). The lock is created with an exclusive create (O_EXCL locally, `If-None-Match: *` on S3), so
two runs cannot both hold it. It is never broken implicitly: a crashed run leaves its lock
behind, and `python -m promotion unlock --env X --force` removes it after a human has
checked that the run is really gone. The lock records who holds it, for that decision.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass

from promotion.ledger import now_iso
from promotion.store import Store

LOCKED_ENVS = ("staging", "production")
LOCK_KEY = "locks/promotion.lock"


def lock_key(env: str) -> str:
    """Every locked environment shares the promotion lock (see the module docstring)."""
    if env not in LOCKED_ENVS:
        raise ValueError(f"{env} takes no promotion lock (only {', '.join(LOCKED_ENVS)} do)")
    return LOCK_KEY


class LockHeld(Exception):
    def __init__(self, env: str, holder: dict) -> None:
        self.env = env
        self.holder = holder
        super().__init__(
            f"refused by rule 'one-at-a-time': the promotion lock (staging and production) is held by run "
            f"{holder.get('run_id')} ({holder.get('env')} of candidate {str(holder.get('candidate'))[:12]}, "
            f"host {holder.get('host')}, pid {holder.get('pid')}, since {holder.get('time')}); to satisfy it: "
            f"wait for that run to finish, or if it crashed, break the lock with "
            f"`python -m promotion unlock --env {env} --force`"
        )


@dataclass
class EnvLock:
    store: Store
    env: str
    run_id: str
    candidate: str

    def acquire(self) -> None:
        holder = {
            "run_id": self.run_id,
            "candidate": self.candidate,
            "env": self.env,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "time": now_iso(),
        }
        if not self.store.create(lock_key(self.env), json.dumps(holder).encode()):
            raise LockHeld(self.env, read_holder(self.store, self.env) or {})

    def release(self) -> None:
        holder = read_holder(self.store, self.env)
        if holder and holder.get("run_id") == self.run_id:
            self.store.delete(lock_key(self.env))

    def __enter__(self) -> EnvLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_holder(store: Store, env: str) -> dict | None:
    if not store.exists(lock_key(env)):
        return None
    try:
        return json.loads(store.get(lock_key(env)))
    except Exception:
        return {"run_id": "(unreadable lock)"}


def break_lock(store: Store, env: str) -> dict | None:
    """Remove a lock regardless of holder; returns who held it (None if nobody)."""
    holder = read_holder(store, env)
    if holder is not None:
        store.delete(lock_key(env))
    return holder
