"""The ledger is a hash chain: each record names its predecessor's digest, records are
created exclusively (never overwritten), concurrent appends all land in one line (on a
directory and on a real S3 API), and any edit, gap or foreign object fails closed naming
the record. What the chain alone cannot see (a consistent rewrite of its tail) is what the
director cross-check is for (test_flow.py)."""

import itertools
import json
import threading

import pytest

from promotion.ledger import (
    GENESIS,
    PREFIX,
    Ledger,
    LedgerBroken,
    LedgerError,
    Record,
    digest,
    encode,
    key_of,
)

D = "d" * 64


def _fill(store, n=3):
    ledger = Ledger(store)
    for i in range(n):
        ledger.append(Record(D, "dev1", "test", "passed", f"r{i}"))
    return ledger


def test_records_chain_by_digest_in_sequence(candidate_store):
    ledger = _fill(candidate_store)
    records = ledger.records()
    assert [r.seq for r in records] == [0, 1, 2]
    assert records[0].prev == GENESIS
    for before, after in itertools.pairwise(records):
        assert after.prev == digest(candidate_store.get(key_of(before.seq)))
    assert candidate_store.list(PREFIX) == [key_of(0), key_of(1), key_of(2)]


def test_an_append_that_loses_the_race_takes_the_next_number(candidate_store, monkeypatch):
    ledger = _fill(candidate_store, 1)
    before = candidate_store.get(key_of(0))
    real_create = candidate_store.create
    calls = []

    def racing_create(key, data):
        calls.append(key)
        if len(calls) == 1:  # another writer takes #1 between our read of the head and our create
            real_create(key, encode(Record(D, "dev2", "test", "passed", "other", seq=1,
                                           prev=digest(candidate_store.get(key_of(0))))))
            return real_create(key, data)
        return real_create(key, data)

    monkeypatch.setattr(candidate_store, "create", racing_create)
    mine = ledger.append(Record(D, "dev1", "check", "passed", "mine"))
    assert calls == [key_of(1), key_of(2)] and mine.seq == 2
    assert candidate_store.get(key_of(0)) == before
    assert [r.run_id for r in ledger.records()] == ["r0", "other", "mine"]


def test_concurrent_appends_all_land_in_one_line(candidate_store):
    ledger = Ledger(candidate_store)
    barrier = threading.Barrier(8)

    def write(i: int) -> None:
        barrier.wait()
        for j in range(5):
            ledger.append(Record(D, "dev1", "test", "passed", f"run-{i}-{j}"))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    records = ledger.records()  # verifies the chain
    assert sorted(r.run_id for r in records) == sorted(f"run-{i}-{j}" for i in range(8) for j in range(5))
    assert [r.seq for r in records] == list(range(40))


def test_an_edited_record_is_named(local_store):
    _fill(local_store)
    raw = json.loads(local_store.get(key_of(1)))
    raw["outcome"] = "failed"
    local_store.put(key_of(1), json.dumps(raw).encode())
    with pytest.raises(LedgerBroken, match=r"ledger record ledger/0000000001\.json .* was changed or replaced") as err:
        Ledger(local_store).records()
    assert "refused by rule 'ledger-chain'" in str(err.value) and "to satisfy it" in str(err.value)


def test_a_gap_is_named(local_store):
    _fill(local_store)
    local_store.delete(key_of(1))
    with pytest.raises(LedgerBroken, match=r"ledger/0000000001\.json .*#1 is missing \(a gap"):
        Ledger(local_store).records()


@pytest.mark.parametrize(("key", "data", "why"), [
    ("ledger/20260101T000000-abc.json", b'{"candidate": "x"}', "is not a chained record"),
    (key_of(3), b'{"candidate": "x"', "is not JSON"),
    (key_of(3), b'{"format": 1, "candidate": "x"}', "is not a format-2 ledger record"),
])
def test_foreign_or_damaged_objects_are_named(local_store, key, data, why):
    _fill(local_store)
    local_store.put(key, data)
    with pytest.raises(LedgerBroken, match=why):
        Ledger(local_store).records()


def test_the_chain_alone_does_not_see_a_consistent_forgery_at_its_end(local_store):
    """Someone with the store's write credentials can compute the next hash: the chain
    verifies. Only the director's task cross-check can tell (tasks.verify)."""
    _fill(local_store, 2)
    forged = Record(D, "dev1", "deploy", "passed", "forged", seq=2, prev=digest(local_store.get(key_of(1))),
                    task={"id": 999})
    local_store.create(key_of(2), encode(forged))
    assert Ledger(local_store).records()[-1].run_id == "forged"


def test_unknown_kind_is_refused(local_store):
    with pytest.raises(LedgerError, match="unknown record kind"):
        Ledger(local_store).append(Record(D, "dev1", "deploy-ish", "passed", "r1"))
