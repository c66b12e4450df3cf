"""One promotion at a time: the lock is exclusive, explicit to break, and says who holds it."""

import pytest

from promotion.lock import EnvLock, LockHeld, break_lock, read_holder


def test_second_run_is_refused_with_holder_and_remedy(candidate_store):
    first = EnvLock(candidate_store, "staging", "run-1", "c" * 64)
    first.acquire()
    with pytest.raises(LockHeld) as err:
        EnvLock(candidate_store, "staging", "run-2", "d" * 64).acquire()
    msg = str(err.value)
    assert "one-at-a-time" in msg and "run-1" in msg
    assert "python -m promotion unlock --env staging --force" in msg
    first.release()
    EnvLock(candidate_store, "staging", "run-2", "d" * 64).acquire()


def test_staging_and_production_share_one_lock(candidate_store):
    """A staging run reads production's candidate and a production run reads staging's
    state: the two must not interleave either."""
    EnvLock(candidate_store, "staging", "a", "c" * 64).acquire()
    with pytest.raises(LockHeld, match=r"held by run a \(staging of candidate cccccccccccc"):
        EnvLock(candidate_store, "production", "b", "d" * 64).acquire()
    assert read_holder(candidate_store, "production")["run_id"] == "a"


def test_dev_environments_take_no_lock(candidate_store):
    with pytest.raises(ValueError, match="takes no promotion lock"):
        EnvLock(candidate_store, "dev1", "a", "c" * 64).acquire()


def test_release_never_removes_someone_elses_lock(candidate_store):
    EnvLock(candidate_store, "staging", "a", "c" * 64).acquire()
    EnvLock(candidate_store, "staging", "b", "c" * 64).release()
    assert read_holder(candidate_store, "staging")["run_id"] == "a"


def test_break_lock(candidate_store):
    assert break_lock(candidate_store, "staging") is None
    EnvLock(candidate_store, "staging", "crashed", "c" * 64).acquire()
    assert break_lock(candidate_store, "staging")["run_id"] == "crashed"
    assert read_holder(candidate_store, "staging") is None
