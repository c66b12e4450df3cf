"""The ledger: every deploy and every check of a candidate in an environment, append-only.

Gates decide only from the ledger, so it must never lose or rewrite a record. A store has
no append operation on S3, so each record is its own object under `ledger/`, named by time
and a random suffix, and written with the store's exclusive create (O_EXCL locally,
`If-None-Match: *` on S3): a record is never overwritten, and two writers appending at the
same moment both land. `lines()` gives the records as JSON lines for export and humans.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from promotion.store import Store

PREFIX = "ledger/"
NO_CANDIDATE = "none"
KINDS = ("deploy", "check", "test", "delete")


class LedgerError(Exception):
    """The ledger cannot be read or written; the message names the record."""


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Record:
    """One event. `kind` is `deploy`, `check` (the checks a deploy runs), `test` (a standalone
    run of the integration tests) or `delete` (staging reset to an empty production);
    `purpose` is `candidate` for the candidate itself or `reset` when staging is put back to
    production's state first. A reset to "no candidate" has `candidate` = NO_CANDIDATE."""

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
        if record.kind not in KINDS:
            raise LedgerError(f"unknown record kind {record.kind!r} (one of {', '.join(KINDS)})")
        stamp = record.time.replace(":", "").replace("-", "")
        data = (json.dumps(asdict(record), sort_keys=True) + "\n").encode()
        for _ in range(3):
            if self.store.create(f"{PREFIX}{stamp}-{uuid.uuid4().hex}.json", data):
                return record
        raise LedgerError(f"could not append a {record.kind} record for {record.env}: key collisions")

    def records(self) -> list[Record]:
        out = []
        for key in self.store.list(PREFIX):
            if key.endswith(".json"):
                try:
                    out.append(Record(**json.loads(self.store.get(key))))
                except (ValueError, TypeError) as exc:
                    raise LedgerError(f"ledger record {key} in {self.store.url} is not a record ({exc}); "
                                      "the gates will not decide from a damaged ledger: restore that "
                                      "object from the store's versioning or backup") from None
        return sorted(out, key=lambda r: r.time)

    def lines(self) -> str:
        return "".join(json.dumps(asdict(r), sort_keys=True) + "\n" for r in self.records())

    # ------------------------------------------------------------------ queries for gates

    def current(self, env: str, records: list[Record] | None = None) -> str | None:
        """The candidate the environment runs now: the last successful deploy there (None
        when nothing was deployed, or when a reset deleted it since)."""
        return current_of(self.records() if records is None else records, env)


def current_of(records: list[Record], env: str) -> str | None:
    changes = [r for r in records if r.env == env and r.kind in ("deploy", "delete") and r.passed]
    if not changes or changes[-1].kind == "delete":
        return None
    return changes[-1].candidate


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
