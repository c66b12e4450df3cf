"""The pipeline's policy: versioned in the ledger, stated (never decided) by a config, and
the binding of every environment to its deployment and director checked against what a
candidate renders."""

import pytest

from promotion import policy as pol
from promotion.ledger import Ledger, Record
from promotion.parity import DEFAULT_ALLOWED


def _renders(**names):
    out = {env: {"name": f"redis-{env}", "director_uuid": "u"} for env in pol.ENVIRONMENTS}
    for env, name in names.items():
        out[env]["name"] = name
    return out


UUIDS = dict.fromkeys(pol.ENVIRONMENTS, "u")


def test_built_in_policy_is_version_0_with_the_documented_allow_list():
    assert pol.current([]) is pol.DEFAULT
    assert pol.DEFAULT.version == 0 and pol.DEFAULT.allowed_diff_paths == DEFAULT_ALLOWED
    assert {e: b.deployment for e, b in pol.DEFAULT.environments.items()} == {
        e: f"redis-{e}" for e in pol.ENVIRONMENTS}
    assert pol.problems(pol.DEFAULT) == []


def test_a_change_is_a_new_version_recorded_in_the_ledger(local_store):
    wider = pol.with_change(pol.DEFAULT, allow=("jobs.*.persistent_disk",))
    assert wider.version == 1 and wider.allowed_diff_paths[-1] == "jobs.*.persistent_disk"
    assert pol.changed(pol.DEFAULT, wider) == ["parity now allows differences at jobs.*.persistent_disk (widened)"]
    ledger = Ledger(local_store)
    ledger.append(Record("none", "", "policy", "recorded", "r", extra={"policy": wider.to_doc()}))
    current = pol.current(ledger.records())
    assert (current.version, current.allowed_diff_paths, current.seq) == (1, wider.allowed_diff_paths, 0)
    narrower = pol.with_change(current, disallow=("jobs.*.persistent_disk",))
    assert narrower.allowed_diff_paths == DEFAULT_ALLOWED and narrower.version == 2


def test_one_deployment_for_two_environments_is_not_a_usable_policy():
    bad = pol.with_change(pol.DEFAULT, bind={"dev1": pol.Binding("redis-production")})
    assert pol.problems(bad) == ["one deployment bound to two environments: redis-production"]


@pytest.mark.parametrize(("stated", "words"), [
    (["**"], "the config would widen parity by **"),
    (["name"], "the config sets promotion.allowed_diff_paths to [name]"),
])
def test_a_config_stating_another_allow_list_is_refused(stated, words):
    refusals = pol.config_conflicts(pol.DEFAULT, tuple(stated), None)
    assert [r.rule for r in refusals] == ["pipeline-policy"] and words in refusals[0].reason
    assert "policy allow-diff PATH --reason" in refusals[0].remedy
    assert pol.config_conflicts(pol.DEFAULT, DEFAULT_ALLOWED, None) == []  # stating the policy is fine
    assert pol.config_conflicts(pol.DEFAULT, None, None) == []


def test_a_config_stating_other_bindings_is_refused():
    bound = pol.with_change(pol.DEFAULT, bind={"production": pol.Binding("redis-production", "prod-uuid")})
    refusals = pol.config_conflicts(bound, None, {"production": {"deployment": "redis-prod", "director_uuid": "x"},
                                                  "dev1": {"director_uuid": "dev-uuid"}})
    assert [r.rule for r in refusals] == ["pipeline-policy", "pipeline-policy"]
    assert "binds production to deployment redis-prod" in refusals[0].reason
    assert "binds production to director x" in refusals[1].reason  # dev1 is unbound: its uuid is not a conflict


def test_renders_must_name_their_own_deployment():
    assert pol.render_refusals(_renders(), pol.DEFAULT, UUIDS) == []
    refusals = pol.render_refusals(_renders(dev1="redis-production"), pol.DEFAULT, UUIDS)
    assert [r.rule for r in refusals] == ["bound-deployment", "bound-deployment"]
    assert "the candidate's dev1 manifest names deployment redis-production, which is production's" in refusals[0].reason
    assert "manifests name deployment redis-production for dev1 and production (one deployment twice)" in refusals[1].reason
    assert "networking-dev1.yml" in refusals[0].remedy
    odd = pol.render_refusals(_renders(dev2="redis-qa"), pol.DEFAULT, UUIDS)
    assert "names deployment redis-qa, but dev2 is bound to redis-dev2" in odd[0].reason


def test_renders_must_keep_the_director_the_tool_gave_them():
    renders = _renders()
    renders["staging"]["director_uuid"] = "other"
    refusals = pol.render_refusals(renders, pol.DEFAULT, UUIDS)
    assert [r.rule for r in refusals] == ["bound-director"]
    assert "the candidate's staging manifest targets director other, but the tool deploys staging to director u" in refusals[0].reason


def test_concurrent_changes_never_drop_each_other(local_store):
    """Two first deploys bind dev1 and dev2 at the same moment: the second change is
    computed again from the first's policy instead of overwriting it."""
    ledger = Ledger(local_store)
    calls = []

    def bind_dev2(p):
        calls.append(p.version)
        if len(calls) == 1:  # another run records its change between our read and our append
            pol.record_change(Ledger(local_store), lambda q: pol.with_change(
                q, bind={"dev1": pol.Binding("redis-dev1", "dir-a")}), "dev1 first deploy")
        return pol.with_change(p, bind={"dev2": pol.Binding("redis-dev2", "dir-a")})

    old, new, record = pol.record_change(ledger, bind_dev2, "dev2 first deploy")
    assert calls == [0, 1] and (old.version, new.version, record.seq) == (1, 2, 1)
    final = pol.current(ledger.records())
    assert final.binding("dev1").director_uuid == final.binding("dev2").director_uuid == "dir-a"
    assert pol.record_change(ledger, lambda p: p, "nothing") == (final, final, None)
