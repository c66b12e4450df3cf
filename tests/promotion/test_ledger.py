"""The ledger is append-only: records are created exclusively, never rewritten, concurrent
appends all land (on a directory and on a real S3 API), and a damaged record stops the
gates with a message naming it."""

import threading

import pytest

from promotion.ledger import PREFIX, Ledger, LedgerError, Record

D = "d" * 64


def test_append_never_overwrites(candidate_store, monkeypatch):
    ledger = Ledger(candidate_store)
    ledger.append(Record(D, "dev1", "deploy", "passed", "r1"))
    key = candidate_store.list(PREFIX)[0]
    before = candidate_store.get(key)
    # force the next record onto the same key: the exclusive create refuses, a new key is used
    import promotion.ledger as ledger_mod

    fixed = key[len(PREFIX):].split("-", 1)[1].removesuffix(".json")
    names = iter([fixed, "f" * 32])
    fake_uuid = type("FakeUuidModule", (), {"uuid4": staticmethod(lambda: type("U", (), {"hex": next(names)})())})
    monkeypatch.setattr(ledger_mod, "uuid", fake_uuid)  # the ledger's own name only (boto3 uses uuid too)
    ledger.append(Record(D, "dev1", "check", "passed", "r1", time=ledger.records()[0].time))
    assert candidate_store.get(key) == before
    assert [r.kind for r in ledger.records()] == ["deploy", "check"]


def test_concurrent_appends_all_land(candidate_store):
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
        t.join(60)
    assert sorted(r.run_id for r in ledger.records()) == sorted(f"run-{i}-{j}" for i in range(8) for j in range(5))


def test_damaged_record_is_named(local_store):
    ledger = Ledger(local_store)
    ledger.append(Record(D, "dev1", "deploy", "passed", "r1"))
    local_store.put("ledger/zz-broken.json", b'{"candidate": "x"')
    with pytest.raises(LedgerError, match=r"ledger record ledger/zz-broken\.json .* is not a record"):
        ledger.records()


def test_unknown_kind_is_refused(local_store):
    with pytest.raises(LedgerError, match="unknown record kind"):
        Ledger(local_store).append(Record(D, "dev1", "deploy-ish", "passed", "r1"))
