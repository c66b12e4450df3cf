"""The ledger: every deploy and every check of a candidate in an environment, append-only.

Gates decide only from the ledger, so it must never lose or rewrite a record. A store has
no append operation on S3, so each record is its own object under `ledger/`, named by time
and a random suffix; reading lists them in name order, which is time order. `lines()` gives
the same records as JSON lines (one record per line) for export and for humans.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from promotion.store import Store

PREFIX = "ledger/"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Record:
    """One event. `kind` is `deploy` or `check`; `purpose` is `candidate` for the candidate
    itself or `reset` when staging is put back to production's candidate first."""

    candidate: str
    env: str
    kind: str
    outcome: str  # passed | failed
    run_id: str
    time: str = field(default_factory=now_iso)
    task_id: int | None = None
    purpose: str = "candidate"
    reset_base: str | None = None  # staging: production's candidate that staging was reset to
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


class Ledger:
    def __init__(self, store: Store) -> None:
        self.store = store

    def append(self, record: Record) -> Record:
        stamp = record.time.replace(":", "").replace("-", "")
        key = f"{PREFIX}{stamp}-{uuid.uuid4().hex[:12]}.json"
        self.store.put(key, (json.dumps(asdict(record), sort_keys=True) + "\n").encode())
        return record

    def records(self) -> list[Record]:
        out = []
        for key in self.store.list(PREFIX):
            if key.endswith(".json"):
                data = json.loads(self.store.get(key))
                out.append(Record(**data))
        return sorted(out, key=lambda r: r.time)

    def lines(self) -> str:
        return "".join(json.dumps(asdict(r), sort_keys=True) + "\n" for r in self.records())

    # ------------------------------------------------------------------ queries for gates

    def current(self, env: str, records: list[Record] | None = None) -> str | None:
        """The candidate the environment runs now: the last successful deploy there."""
        recs = self.records() if records is None else records
        deployed = [r for r in recs if r.env == env and r.kind == "deploy" and r.passed]
        return deployed[-1].candidate if deployed else None

    def runs(self, env: str, candidate: str) -> list[list[Record]]:
        return runs_of(self.records(), env, candidate)


def runs_of(records: list[Record], env: str, candidate: str) -> list[list[Record]]:
    """Records of each run that deployed `candidate` (as the candidate) to `env`, oldest first."""
    ids: list[str] = []
    for r in records:
        if r.env == env and r.candidate == candidate and r.purpose == "candidate" and r.run_id not in ids:
            ids.append(r.run_id)
    return [[r for r in records if r.run_id == i] for i in ids]


def run_passed(run: list[Record], env: str, candidate: str) -> bool:
    """A run passed when the candidate's deploy and its checks in `env` both passed."""
    mine = [r for r in run if r.env == env and r.candidate == candidate and r.purpose == "candidate"]
    deploys = [r for r in mine if r.kind == "deploy"]
    checks = [r for r in mine if r.kind == "check"]
    return bool(deploys) and all(r.passed for r in deploys) and bool(checks) and all(r.passed for r in checks)
