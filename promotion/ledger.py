"""The ledger: every decision, deploy and check of the pipeline, as a hash chain in the store.

Gates decide from the ledger, so its history must not change unnoticed. S3 has no append,
so each record is its own object, `ledger/<seq>.json` (ten digits, so keys sort in chain
order). Record N names record N-1 by the sha256 of its stored bytes (`prev`); record 0
names GENESIS. A record is written with the store's exclusive create (O_EXCL locally,
`If-None-Match: *` on S3): two writers racing for the same sequence number cannot both
win, and the loser re-reads the head and tries the next number, so the chain stays one
line and concurrent appends all land.

Reading verifies the whole chain: a missing number (a gap), a record that does not parse,
a record whose `seq` is not its key's, or a `prev` that is not its predecessor's hash
fails closed (`LedgerBroken`, rule `ledger-chain`), naming the record. Records are ordered
by the chain, never by the clocks of the machines that wrote them (`time` is for humans).

What the chain cannot see: someone who can write the store can rewrite every record from
some point on, consistently, or drop the newest ones. The deploy records are therefore also
cross-checked with the director's own tasks (promotion/tasks.py); docs/promotion.md has the
whole threat model.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

from promotion.store import Store, StoreError

PREFIX = "ledger/"
GENESIS = "0" * 64
NO_CANDIDATE = "none"
FORMAT = 2
KINDS = ("intent", "deploy", "delete", "check", "test", "policy", "adopt", "finalize")
COMPLETIONS = ("deploy", "delete")  # the records that complete an intent
_KEY = re.compile(r"ledger/(\d{10})\.json")


class LedgerError(Exception):
    """The ledger cannot be read or written (store trouble, a bad record to append)."""


class LedgerBroken(LedgerError):
    """The chain does not verify: the gates will not decide from it (rule `ledger-chain`)."""

    rule = "ledger-chain"

    def __init__(self, store_url: str, key: str, why: str) -> None:
        self.key = key
        super().__init__(
            f"refused by rule 'ledger-chain': ledger record {key} in {store_url} {why}; the history may have "
            "been edited, so no gate decides from it; to satisfy it: restore the ledger's objects from the "
            "bucket's versioning or backup (docs/promotion.md, 'Threat model'), then run the command again"
        )


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def key_of(seq: int) -> str:
    return f"{PREFIX}{seq:010d}.json"


@dataclass(frozen=True)
class Record:
    """One entry of the chain.

    kind: `intent` (about to start a director task: written before it starts), `deploy` /
    `delete` (the task's outcome, naming its intent), `check` (the checks after a deploy),
    `test` (a standalone run of the integration tests), `policy` (a change of the pipeline's
    gate policy), `adopt` (production's drift accepted as its new state), `finalize` (a final
    release cut from a dev release that passed dev1 or dev2, and where it was uploaded).
    purpose: `candidate`, `reset` (staging put back to production's state first) or
    `restore` (production put back to its recorded state).
    task: the director's own facts about the task (id, state, result, timestamp, user), as
    read back from `GET /tasks/:id` when the task ended; gates compare them with the
    director again before they trust the record."""

    candidate: str
    env: str
    kind: str
    outcome: str  # passed | failed | started (intent) | recorded (policy, adopt)
    run_id: str
    time: str = field(default_factory=now_iso)
    purpose: str = "candidate"
    reset_base: str | None = None  # staging: digest of production's state staging was reset to
    deployment: str | None = None
    director_uuid: str | None = None
    manifest_digest: str | None = None  # promotion.drift.manifest_digest of what was deployed
    task: dict[str, Any] | None = None
    intent: int | None = None  # the seq of the intent a deploy/delete completes
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    seq: int = -1
    prev: str = ""
    format: int = FORMAT

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    @property
    def task_id(self) -> int | None:
        return None if not self.task else self.task.get("id")

    def label(self) -> str:
        """How messages name a record: its number, kind and what it is about."""
        what = f"{self.kind} {self.purpose}" if self.kind in ("intent", *COMPLETIONS) else self.kind
        cand = "" if self.candidate == NO_CANDIDATE else f" of {self.candidate[:12]}"
        task = f", task {self.task_id}" if self.task_id is not None else ""
        return f"#{self.seq} ({what}{cand} in {self.env or '-'}{task}, run {self.run_id[:12]})"


_FIELDS = {f.name for f in fields(Record)}


def encode(record: Record) -> bytes:
    return (json.dumps(asdict(record), sort_keys=True, separators=(",", ":")) + "\n").encode()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Ledger:
    """The chain in one store. Objects already read by this instance are not fetched again
    (records are never rewritten by this tool; the chain is re-verified on every read)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._bytes: dict[str, bytes] = {}

    def _get(self, key: str) -> bytes:
        if key not in self._bytes:
            self._bytes[key] = self.store.get(key)
        return self._bytes[key]

    def append(self, record: Record) -> Record:
        """Chain `record` after the current head; returns it with its seq and prev."""
        chained = self._append(record, None)
        assert chained is not None
        return chained

    def append_at(self, record: Record, at: int) -> Record | None:
        """Chain `record` only as record number `at`; None when another record took that
        place first (the caller decided from a ledger that has moved on: it decides again)."""
        return self._append(record, at)

    def _append(self, record: Record, at: int | None) -> Record | None:
        if record.kind not in KINDS:
            raise LedgerError(f"unknown record kind {record.kind!r} (one of {', '.join(KINDS)})")
        for attempt in range(100):
            seq, prev = self._head()
            if at is not None and seq != at:
                return None
            chained = replace(record, seq=seq, prev=prev, format=FORMAT)
            data = encode(chained)
            if self.store.create(key_of(seq), data):
                self._bytes[key_of(seq)] = data
                return chained
            if at is not None:
                return None
            time.sleep(random.uniform(0, 0.005 * min(attempt + 1, 10)))  # another writer took seq
        raise LedgerError(f"could not append a {record.kind} record for {record.env}: the ledger's head kept "
                          f"moving (100 tries) in {self.store.url}")

    def _head(self) -> tuple[int, str]:
        keys = self._keys()
        if not keys:
            return 0, GENESIS
        last = keys[-1]
        m = _KEY.fullmatch(last)
        if not m:
            raise LedgerBroken(self.store.url, last, "is not a chained record (its key is not ledger/<seq>.json)")
        return int(m.group(1)) + 1, digest(self._get(last))

    def _keys(self) -> list[str]:
        return [k for k in self.store.list(PREFIX) if not k.rsplit("/", 1)[-1].startswith(".")]

    def records(self) -> list[Record]:
        """Every record in chain order, after verifying the whole chain (LedgerBroken if not)."""
        out: list[Record] = []
        prev = GENESIS
        for seq, key in enumerate(self._keys()):
            if key != key_of(seq):
                m = _KEY.fullmatch(key)
                why = (f"is where record #{seq} should follow #{seq - 1}: #{seq} is missing (a gap in the chain)"
                       if m else "is not a chained record (its key is not ledger/<seq>.json)")
                raise LedgerBroken(self.store.url, key if not m else key_of(seq), why)
            try:
                data = self._get(key)
            except StoreError as exc:
                raise LedgerError(str(exc)) from None
            record = _parse(self.store.url, key, data)
            if record.seq != seq:
                raise LedgerBroken(self.store.url, key, f"says it is record #{record.seq}")
            if record.prev != prev:
                if seq == 0:
                    raise LedgerBroken(self.store.url, key, "is the first record but does not start the chain")
                raise LedgerBroken(self.store.url, key_of(seq - 1), f"was changed or replaced: it hashes to "
                                   f"{prev[:12]}, but record #{seq}, written after it, names {record.prev[:12]}")
            prev = digest(data)
            out.append(record)
        return out

    def lines(self) -> str:
        return "".join(json.dumps(asdict(r), sort_keys=True) + "\n" for r in self.records())

    def current(self, env: str, records: list[Record] | None = None) -> str | None:
        return current_of(self.records() if records is None else records, env)


def _parse(url: str, key: str, data: bytes) -> Record:
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise LedgerBroken(url, key, f"is not JSON ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise LedgerBroken(url, key, f"is not a format-{FORMAT} ledger record")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise LedgerBroken(url, key, f"has fields no record has: {', '.join(sorted(unknown))}")
    try:
        record = Record(**raw)
    except TypeError as exc:
        raise LedgerBroken(url, key, f"is not a record ({exc})") from None
    if record.kind not in KINDS:
        raise LedgerBroken(url, key, f"has an unknown kind {record.kind!r}")
    return record


# ---------------------------------------------------------------------- queries for the gates


def completions(records: list[Record]) -> dict[int, Record]:
    """intent seq -> the deploy/delete record that completes it."""
    return {r.intent: r for r in records if r.kind in COMPLETIONS and r.intent is not None}


def unfinished_intents(records: list[Record], envs: tuple[str, ...] | None = None) -> list[Record]:
    """Intents nobody completed: a run that crashed (or still runs) between announcing a
    director task and recording its outcome."""
    done = completions(records)
    return [r for r in records if r.kind == "intent" and r.seq not in done and (envs is None or r.env in envs)]


def current_of(records: list[Record], env: str) -> str | None:
    """The candidate the environment runs: its last successful deploy (None when nothing
    was deployed, or a reset deleted it since)."""
    changes = [r for r in records if r.env == env and r.kind in COMPLETIONS and r.passed]
    if not changes or changes[-1].kind == "delete":
        return None
    return changes[-1].candidate


def runs_of(records: list[Record], env: str, candidate: str) -> list[list[Record]]:
    """Records of each run that deployed `candidate` (as the candidate) to `env`, in chain order."""
    ids: list[str] = []
    for r in records:
        if (r.env == env and r.candidate == candidate and r.purpose == "candidate" and r.kind != "intent"
                and r.run_id not in ids):
            ids.append(r.run_id)
    return [[r for r in records if r.run_id == i] for i in ids]


def run_passed(run: list[Record], env: str, candidate: str) -> bool:
    """A run passed when the candidate's deploy and its checks in `env` both passed."""
    mine = [r for r in run if r.env == env and r.candidate == candidate and r.purpose == "candidate"]
    deploys = [r for r in mine if r.kind == "deploy"]
    checks = [r for r in mine if r.kind == "check"]
    return bool(deploys) and all(r.passed for r in deploys) and bool(checks) and all(r.passed for r in checks)
