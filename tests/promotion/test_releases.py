"""Release contents (fingerprints from release.MF, the director, the ledger) and the gate
`final-from-tested-dev` deciding from them: which dev builds count as tested, what a
refusal names, and that the dev director is asked before a record is believed."""

from __future__ import annotations

import pytest

from promotion import gates, tasks
from promotion.ledger import Record
from promotion.refusal import Refusal
from promotion.releases import (
    ReleaseContents,
    ReleaseContentsError,
    deployed_versions,
    from_director,
    from_manifest,
)

D, E = "d" * 64, "e" * 64
FP = {"tiny": "1dd3260120ea5ec23cbbce9b44d52d6932bcc3453aa28f4c15f213cb66de8f8c",
      "blob": "84e943c84a932f03c1cf604817d9763e51a0f0e695ff3b66498c91d3004659c9"}
# a release.MF as bosh v7.1.2 `create-release` writes it (tests/oracles/release_dir.py made it)
MF = {"name": "tiny-release", "version": "0+dev.1", "commit_hash": "ac52f4d", "uncommitted_changes": False,
      "jobs": [{"name": "tiny", "version": FP["tiny"], "fingerprint": FP["tiny"],
                "sha1": "sha256:27f9bcc392d3d80afd0e35258d743d963c57717babc614f1c9ba12b6ccbb13bc", "packages": ["blob"]}],
      "packages": [{"name": "blob", "version": FP["blob"], "fingerprint": FP["blob"],
                    "sha1": "sha256:ae2861cd43bb43c6347e5e77b8387c5b8f571eabbbeb3527c9950b27af6dc983",
                    "dependencies": []}]}
DEV = from_manifest(MF)


def _final(version="1", **jobs):
    return ReleaseContents("tiny-release", version, {"tiny": FP["tiny"], **jobs}, {"blob": FP["blob"]}, "ac52f4d")


def test_contents_from_a_release_manifest():
    assert (DEV.label, DEV.is_dev, DEV.commit_hash) == ("tiny-release/0+dev.1", True, "ac52f4d")
    assert DEV.jobs == {"tiny": FP["tiny"]} and DEV.packages == {"blob": FP["blob"]}
    assert _final().same_contents(DEV) and not _final().is_dev
    assert ReleaseContents.from_doc(DEV.to_doc()) == DEV


def test_differences_name_both_fingerprints_of_what_differs_only():
    changed = _final(tiny="f" * 64, extra="a" * 64)
    assert changed.differences(DEV, "final", "tested dev") == [
        f"job extra: final {'a' * 64}, tested dev (none)",
        f"job tiny: final {'f' * 64}, tested dev {FP['tiny']}",
    ]
    assert not changed.same_contents(DEV) and changed.matching(DEV) == 1


@pytest.mark.parametrize("doc", [None, {"name": "x"}, {"name": "x", "version": "1", "jobs": [], "packages": {}}])
def test_a_record_that_holds_no_contents_is_not_contents(doc):
    with pytest.raises(ReleaseContentsError):
        ReleaseContents.from_doc(doc)


class Director:
    """What the 2015 director answers on /releases/:name?version=V, /releases, /deployments."""

    def __init__(self, mfs, uuid="dev-director"):
        self.mfs = {(m["name"], m["version"]): m for m in mfs}
        self._uuid = uuid

    def uuid(self):
        return self._uuid

    def release(self, name, version):
        if (name, version) not in self.mfs:
            err = Exception(f"Release version `{name}/{version}' doesn't exist")
            err.status = 404
            raise err
        mf = self.mfs[(name, version)]
        return {"jobs": [{"name": j["name"], "blobstore_id": "b", "sha1": j["sha1"], "fingerprint": j["fingerprint"]}
                         for j in mf["jobs"]],
                "packages": [{"name": p["name"], "blobstore_id": "b", "sha1": p["sha1"],
                              "fingerprint": p["fingerprint"], "compiled_packages": []} for p in mf["packages"]]}

    def releases(self):
        return [{"name": n, "release_versions": [{"version": v, "commit_hash": m["commit_hash"],
                                                  "uncommitted_changes": m["uncommitted_changes"],
                                                  "currently_deployed": True, "job_names": ["tiny"]}]}
                for (n, v), m in self.mfs.items()]

    def deployments(self):
        return [{"name": "redis-dev1", "releases": [{"name": n, "version": v} for n, v in self.mfs],
                 "stemcells": [], "cloud_config": "none"}]


def test_contents_from_the_director_equal_the_manifest_they_were_uploaded_from():
    director = Director([MF])
    assert from_director(director, "tiny-release", "0+dev.1") == DEV
    assert deployed_versions(director, "redis-dev1") == [("tiny-release", "0+dev.1")]
    assert deployed_versions(director, "redis-dev2") == []


# --------------------------------------------------------------------- the gate, on records

_seq = iter(range(1, 10**6))


def _run(env="dev1", releases=(DEV,), check="passed", deploy="passed", run=None, candidate=D, **extra):
    run = run or f"run-{next(_seq)}"
    intent = Record(candidate, env, "intent", "started", run, seq=next(_seq), deployment=f"redis-{env}")
    dep = Record(candidate, env, "deploy", deploy, run, seq=next(_seq), intent=intent.seq, task={"id": intent.seq},
                 deployment=f"redis-{env}", extra={"releases": [r.to_doc() for r in releases], **extra})
    recs = [intent, dep]
    if check:
        recs.append(Record(candidate, env, "check", check, run, seq=next(_seq), deployment=f"redis-{env}"))
    return recs


def _trust(record):
    return None


def _decide(records, final, verify=_trust, confirm=lambda record, contents: None):
    return gates.final_from_tested_dev("staging", {(final.name, final.version): final}, "prod-director", records,
                                       verify, confirm)


def test_only_dev_builds_of_passing_dev_runs_count_as_tested():
    passing = _run("dev2")
    final_in_dev = _run("dev1", releases=(_final(),))
    failed_checks = _run("dev1", check="failed")
    no_checks = _run("dev1", check=None)
    staging = _run("staging")
    recovered = _run("dev1", recovered=True)
    tested = gates.tested_dev_releases(passing + final_in_dev + failed_checks + no_checks + staging + recovered)
    assert tested == [(passing[1], DEV)]


def test_a_final_with_the_fingerprints_of_a_tested_dev_build_passes():
    assert _decide(_run(), _final()) == []


def test_a_final_is_judged_by_its_fingerprints_never_by_its_version():
    """The final is named as if cut from the tested build (its version even says so), but
    its job is another: refused, naming the job's two fingerprints."""
    [refusal] = _decide(_run(), _final("0", tiny="f" * 64))
    assert refusal.rule == "final-from-tested-dev"
    assert refusal.reason.startswith("final release tiny-release/0 on staging's director prod-director has "
                                     "fingerprints no dev release that passed dev1 or dev2 has")
    assert f"job tiny: final {'f' * 64}, tested dev {FP['tiny']}" in refusal.reason
    assert "dev release tiny-release/0+dev.1 (passed dev1, ledger #" in refusal.reason and "commit ac52f4d" in refusal.reason
    assert "python -m promotion finalize" in refusal.remedy


def test_the_same_jobs_under_another_release_name_are_another_release():
    """Manifests name jobs by release: a tested build of `tiny-release` vouches for no other."""
    other = ReleaseContents("other-release", "1", dict(DEV.jobs), dict(DEV.packages), DEV.commit_hash)
    [refusal] = _decide(_run(), other)
    assert "no dev release of other-release passed dev1 or dev2" in refusal.reason


def test_the_closest_tested_build_is_named_when_none_matches():
    other = ReleaseContents("tiny-release", "0+dev.2", {"tiny": "9" * 64}, {"blob": "8" * 64})
    records = _run(releases=(DEV,)) + _run(releases=(other,))
    [refusal] = _decide(records, _final(tiny="f" * 64))
    assert "dev release tiny-release/0+dev.1" in refusal.reason  # shares the package; 0+dev.2 shares nothing


def test_a_final_matching_only_an_untrusted_run_is_refused_with_the_directors_word():
    said = Refusal("director-task", "ledger record #2 names task 2, which director dev-director does not have", "x")
    assert _decide(_run(), _final(), verify=lambda r: said) == [said]
    denied = Refusal("director-task", "holds another one under that name and version", "x")
    assert _decide(_run(), _final(), confirm=lambda r, c: denied) == [denied]
    # a second passing run of the same build that the director confirms is enough
    records = _run() + _run("dev2")
    assert _decide(records, _final(), verify=lambda r: said if r.env == "dev1" else None) == []


def test_a_final_missing_on_the_director_or_without_fingerprints_is_refused():
    [missing] = gates.final_from_tested_dev("production", {("tiny-release", "1"): None}, "prod-director", _run(),
                                            _trust, lambda r, c: None)
    assert "final release tiny-release/1 on production's director prod-director is not there" in missing.reason
    [blank] = _decide(_run(), ReleaseContents("tiny-release", "1", {"tiny": ""}, {}))
    assert "has no fingerprint for job tiny" in blank.reason


def test_dev_versions_are_left_to_rule_final_releases():
    assert _decide([], DEV) == []


# --------------------------------------------------------------------- the dev director's word


def _dev_record(director_uuid="dev-director"):
    return Record(D, "dev1", "deploy", "passed", "r", seq=5, intent=4, task={"id": 4}, deployment="redis-dev1",
                  director_uuid=director_uuid, extra={"releases": [DEV.to_doc()]})


def test_the_dev_director_confirms_the_recorded_release():
    assert tasks.confirm_release(_dev_record(), DEV, Director([MF])) is None


def test_a_recorded_release_the_dev_director_holds_otherwise_or_not_at_all_is_not_believed():
    forged = ReleaseContents(DEV.name, DEV.version, {"tiny": "f" * 64}, dict(DEV.packages), DEV.commit_hash)
    refusal = tasks.confirm_release(_dev_record(), forged, Director([MF]))
    assert refusal.rule == "director-task"
    assert f"job tiny: recorded {'f' * 64}, director has {FP['tiny']}" in refusal.reason
    other_commit = ReleaseContents(DEV.name, DEV.version, dict(DEV.jobs), dict(DEV.packages), "1234567")
    assert "commit: recorded 1234567, director has ac52f4d" in tasks.confirm_release(
        _dev_record(), other_commit, Director([MF])).reason
    gone = tasks.confirm_release(_dev_record(), DEV, Director([]))
    assert gone.rule == "final-from-tested-dev" and "which director dev-director no longer has" in gone.reason
    elsewhere = tasks.confirm_release(_dev_record("another-director"), DEV, Director([MF]))
    assert "was made on director another-director" in elsewhere.reason
