"""Focused tests of spiff-semantics.md rules that the visible conformance cases do
not pin down. Expected values are derived from the specification, not recorded
from our implementation."""

from __future__ import annotations

import pytest

from manifests.spiff import SpiffError, SpiffParseError, UnresolvedNodesError, load_yaml_text, merge
from manifests.spiff.flow import flow


def _lines(excinfo: pytest.ExceptionInfo[UnresolvedNodesError]) -> set[str]:
    return set(excinfo.value.lines())


# ---------------------------------------------------------------- fixpoint and pass cap


def test_growing_expression_hits_the_cap_and_is_unresolved(spiff_merge) -> None:
    with pytest.raises(UnresolvedNodesError) as e:
        spiff_merge("a: (( [a] ))\n")
    assert all(line.startswith("\t(( a ))\tin dynaml\ta.[0]") for line in e.value.lines())


def test_exploding_expression_is_reported_not_hung(spiff_merge) -> None:
    with pytest.raises(UnresolvedNodesError):
        spiff_merge("a: (( [a, a] ))\n")


def test_long_reference_chain_resolves_beyond_100_passes(spiff_merge) -> None:
    n = 150
    lines = [f"k{i}: (( k{i + 1} ))" for i in range(n)] + [f"k{n}: done"]
    result = spiff_merge("\n".join(lines) + "\n")
    assert all(v == "done" for v in result.values())


def test_explicit_small_pass_cap_reports_unresolved() -> None:
    doc = {f"k{i}": f"(( k{i + 1} ))" for i in range(10)} | {"k10": 1}
    with pytest.raises(UnresolvedNodesError):
        flow(doc, [], "t.yml", max_passes=3)
    assert flow(doc, [], "t.yml")["k0"] == 1


def test_cycle_stops_changing_and_both_nodes_are_reported(spiff_merge) -> None:
    with pytest.raises(UnresolvedNodesError) as e:
        spiff_merge("a: (( b ))\nb: (( a ))\n")
    assert _lines(e) == {"\t(( b ))\tin dynaml\ta\t()", "\t(( a ))\tin dynaml\tb\t()"}


# ---------------------------------------------------------------- crash inputs


def test_underscore_integer_in_expression_is_an_error_not_a_crash(spiff_merge) -> None:
    with pytest.raises(SpiffParseError):
        spiff_merge("a: (( 1_000 ))\n")


def test_underscore_integer_cli_exits_1_without_unresolved_lines(spiff_cli) -> None:
    p = spiff_cli({"t.yml": "a: (( 1_000 ))\n"}, "merge", "t.yml")
    assert p.returncode == 1
    assert "Traceback" not in p.stderr
    assert not [line for line in p.stderr.splitlines() if line.startswith("\t((")]


def test_underscore_integer_overridden_by_stub_is_never_parsed(spiff_merge) -> None:
    assert spiff_merge("a: (( 1_000 ))\n", "a: 5\n") == {"a": 5}


def test_underscore_integer_outside_expression_is_yaml_int(spiff_merge) -> None:
    assert spiff_merge("a: 1_000\nb: (( a + 1 ))\n") == {"a": 1000, "b": 1001}


# ---------------------------------------------------------------- << in maps


def test_keys_sorting_before_lt_are_overwritten_by_the_splice_base(spiff_merge) -> None:
    template = 'm:\n  <<: (( merge ))\n  "0a": {x: 1}\n  zz: {x: 1}\n'
    stub = 'm:\n  "0a": {w: 2}\n  zz: {w: 2}\n  extra: 3\n'
    assert spiff_merge(template, stub) == {"m": {"0a": {"w": 2}, "zz": {"x": 1}, "extra": 3}}


def test_splice_with_reference_is_dropped(spiff_merge) -> None:
    assert spiff_merge("base: {a: 1}\nm:\n  <<: (( base ))\n  b: 2\n") == {"base": {"a": 1}, "m": {"b": 2}}


def test_splice_base_scalar_is_dropped(spiff_merge) -> None:
    assert spiff_merge("m:\n  <<: (( merge ))\n  b: 2\n", "m: 7\n") == {"m": {"b": 2}}


def test_yaml_merge_key_with_anchor_keeps_template_keys(spiff_merge) -> None:
    template = "base: &b {a: 1, b: 1}\nm:\n  <<: *b\n  b: 2\n"
    assert spiff_merge(template)["m"] == {"a": 1, "b": 2}


# ---------------------------------------------------------------- << in lists


def test_list_splice_skips_stub_entries_named_like_template_entries(spiff_merge) -> None:
    template = "l:\n  - name: a\n    v: t\n  - <<: (( merge ))\n  - plain\n"
    stub = "l:\n  - name: a\n    v: s\n  - name: b\n    v: s\n  - x\n"
    # a comes from the template (its leaf overridden by the stub), b and x are spliced in place
    assert spiff_merge(template, stub) == {"l": [{"name": "a", "v": "s"}, {"name": "b", "v": "s"}, "x", "plain"]}


# ---------------------------------------------------------------- || traps (§6.2)


TRAPS = """
a: (( b ))
b: (( c ))
c: 5
x: (( a || "dflt" ))
xs: (( "id-" a || "dflt" ))
z: (( a + 1 || 0 ))
nu: ~
w: (( nu.x || 7 ))
v: (( nu || 7 ))
"""


def test_or_waits_for_bare_pending_reference_but_not_for_compound_left_side(spiff_merge) -> None:
    r = spiff_merge(TRAPS)
    assert r["x"] == 5  # waited for a -> b -> c
    assert r["xs"] == "dflt"  # concatenation failed (not pending): default immediately
    assert r["z"] == 0  # addition failed: default immediately
    assert r["w"] == 7  # walking through null fails
    assert r["v"] is None  # a reference to null is null


def test_or_with_nil_left_is_null(spiff_merge) -> None:
    assert spiff_merge("a: (( nil || 1 ))\n") == {"a": None}


def test_or_default_reference_and_chain(spiff_merge) -> None:
    template = "empty: []\nnets: (( merge || empty ))\nc: (( p.q || p.r || 3 ))\n"
    assert spiff_merge(template) == {"empty": [], "nets": [], "c": 3}


def test_name_keyed_lookup_with_default(spiff_merge) -> None:
    template = ("overrides: (( merge ))\n"
                "a: (( overrides.cell_z1.instances || 1 ))\n"
                "b: (( overrides.cell_z2.instances || 1 ))\n")
    stub = "overrides:\n  - name: cell_z1\n    instances: 0\n"
    r = spiff_merge(template, stub)
    assert (r["a"], r["b"]) == (0, 1)


# ---------------------------------------------------------------- concatenation, arithmetic


def test_concatenation_groups_right_and_mixes_string_and_int(spiff_merge) -> None:
    r = spiff_merge('domain: example.com\nport: 80\nu: (( "http://" domain ":" port ))\n'
                    'l: (( [1] [2, 3] ))\n')
    assert r["u"] == "http://example.com:80"
    assert r["l"] == [1, 2, 3]


@pytest.mark.parametrize("expr", ['1 "a"', '"a" true', '"a" nil', "[1] 2", '"a" [1]'])
def test_concatenation_type_errors_are_unresolved(spiff_merge, expr: str) -> None:
    with pytest.raises(UnresolvedNodesError):
        spiff_merge(f"x: (( {expr} ))\n")


def test_arithmetic_groups_right(spiff_merge) -> None:
    assert spiff_merge("a: (( 8 - 4 - 2 ))\nb: (( (8 - 4) - 2 ))\nc: (( 1 + -2 ))\n") == {"a": 6, "b": 2, "c": -1}


def test_arithmetic_on_booleans_fails(spiff_merge) -> None:
    with pytest.raises(UnresolvedNodesError):
        spiff_merge("t: true\na: (( t + 1 ))\n")


# ---------------------------------------------------------------- parsing edge cases


@pytest.mark.parametrize("text", ["(( a||b ))", "(( [ 1 ] ))", "(( [1 ,2] ))", "(( ( 1 + 2 ) ))",
                                  "(( !foo ))", "(( merge || ~ ))", "(( f() ))", "prefix (( a ))",
                                  "(( a )) and (( b ))", "(( a+b ))"])
def test_unparsable_strings_stay_literal(spiff_merge, text: str) -> None:
    assert spiff_merge(f"a: 1\nb: 2\nx: '{text}'\n")["x"] == text


def test_whitespace_inside_parentheses_is_optional(spiff_merge) -> None:
    assert spiff_merge("a: 1\nx: ((a))\nz: ((  a  ))\n") == {"a": 1, "x": 1, "z": 1}


def test_string_escape_only_quote(spiff_merge) -> None:
    # the dynaml text is  "a\\n\"b"  : only \" is an escape; \\ and n stay as written
    assert spiff_merge(r'x: (( "a\\n\"b" ))' + "\n")["x"] == r'a\\n"b'


# ---------------------------------------------------------------- references


def test_lexical_scope_has_no_backtracking(spiff_merge) -> None:
    with pytest.raises(UnresolvedNodesError) as e:
        spiff_merge("a: {b: 1}\nx:\n  a: {c: 2}\n  r: (( a.b ))\n")
    assert _lines(e) == {"\t(( a.b ))\tin template.yml\tx.r\t()"}


def test_root_reference_and_index_and_name_steps(spiff_merge) -> None:
    template = ("nets:\n  - name: n1\n    subnets:\n      - range: 10.0.0.0/24\n"
                "p:\n  nets: other\n  r: (( .nets.n1.subnets.[0].range ))\n  q: (( nets ))\n")
    r = spiff_merge(template)
    assert r["p"]["r"] == "10.0.0.0/24"
    assert r["p"]["q"] == "other"


def test_reference_sees_stub_overridden_value(spiff_merge) -> None:
    assert spiff_merge("a: 1\nb: (( a ))\n", "a: 2\n") == {"a": 2, "b": 2}


def test_references_never_look_into_stubs(spiff_merge) -> None:
    with pytest.raises(UnresolvedNodesError) as e:
        spiff_merge("b: (( only_stub ))\n", "only_stub: 1\n")
    assert _lines(e) == {"\t(( only_stub ))\tin template.yml\tb\t()"}


def test_non_string_names_never_match(spiff_merge) -> None:
    with pytest.raises(UnresolvedNodesError):
        spiff_merge("l:\n  - name: 1\n    v: x\nr: (( l.1.v ))\n")


# ---------------------------------------------------------------- merge and the cascade


def test_rightmost_stub_wins_for_leaves_leftmost_for_maps(spiff_merge) -> None:
    template = "a: 0\nm: (( merge ))\n"
    r = spiff_merge(template, "a: 1\nm: {x: 1}\n", "a: 2\nm: {x: 2, w: 2}\n")
    assert r == {"a": 2, "m": {"x": 2}}


def test_only_rightmost_failing_stub_is_reported(spiff_merge) -> None:
    with pytest.raises(UnresolvedNodesError) as e:
        spiff_merge("a: (( merge ))\n", "a: (( nope1 ))\n", "b: (( nope2 ))\n")
    assert _lines(e) == {"\t(( nope2 ))\tin stub2.yml\tb\t()"}


def test_merge_in_list_entry_reports_name_path(spiff_merge) -> None:
    with pytest.raises(UnresolvedNodesError) as e:
        spiff_merge("jobs:\n  - name: web\n    props: (( merge ))\n")
    # a leaf under a map key of a list entry: the override rule found nothing, merge failed
    assert _lines(e) == {"\t(( merge ))\tin template.yml\tjobs.[0].props\t(jobs.web.props)"}


def test_merge_list_element_uses_index_path(spiff_merge) -> None:
    assert spiff_merge("l:\n  - (( merge ))\n  - b\n", "l: [a, z]\n") == {"l": ["a", "b"]}


def test_null_leaf_takes_stub_list_and_keys_only_in_stub_are_dropped(spiff_merge) -> None:
    assert spiff_merge("a: ~\nb: {}\n", "a: [1]\nb: {x: 1}\nc: 3\n") == {"a": [1], "b": {}}


# ---------------------------------------------------------------- static_ips and auto


NETS = """
networks:
  - name: n1
    subnets:
      - static: ["10.0.0.254 - 10.0.1.1"]
      - static: []
      - static: [10.0.2.5, "10.0.2.7-10.0.2.8"]
"""


def test_static_ips_ranges_carry_and_span_subnets(spiff_merge) -> None:
    template = NETS + ("jobs:\n  - name: j\n    instances: 4\n    networks:\n"
                       "      - name: n1\n        static_ips: (( static_ips(1, 2, 4, 6) ))\n")
    r = spiff_merge(template)
    assert r["jobs"][0]["networks"][0]["static_ips"] == ["10.0.0.255", "10.0.1.0", "10.0.2.5", "10.0.2.8"]


def test_static_ips_index_beyond_pool_fails_even_if_not_needed(spiff_merge) -> None:
    template = NETS + ("jobs:\n  - name: j\n    instances: 1\n    networks:\n"
                       "      - name: n1\n        static_ips: (( static_ips(0, 7) ))\n")
    with pytest.raises(UnresolvedNodesError) as e:
        spiff_merge(template)
    assert _lines(e) == {"\t(( static_ips(0, 7) ))\tin template.yml\tjobs.[0].networks.[0].static_ips\t()"}


def test_static_ips_waits_for_instances_expression(spiff_merge) -> None:
    template = NETS + ("jobs:\n  - name: j\n    instances: (( merge || 2 ))\n    networks:\n"
                       "      - name: n1\n        static_ips: (( static_ips(0, 1) ))\n")
    assert spiff_merge(template)["jobs"][0]["networks"][0]["static_ips"] == ["10.0.0.254", "10.0.0.255"]


def test_auto_counts_errands_and_waits_for_instances(spiff_merge) -> None:
    template = ("resource_pools:\n  - name: p\n    size: (( auto ))\n  - name: empty\n    size: (( auto ))\n"
                "jobs:\n  - name: a\n    resource_pool: p\n    instances: (( merge || 2 ))\n"
                "  - name: errand\n    lifecycle: errand\n    resource_pool: p\n    instances: 1\n"
                "  - name: nopool\n    instances: 9\n")
    r = spiff_merge(template)
    assert [p["size"] for p in r["resource_pools"]] == [3, 0]


def test_auto_elsewhere_reports_its_parse_path(spiff_merge) -> None:
    with pytest.raises(UnresolvedNodesError) as e:
        spiff_merge("pools:\n  - name: p\n    size: (( auto ))\n")
    assert _lines(e) == {"\t(( auto ))\tin template.yml\tpools.[0].size\t(pools.p.size)"}


# ---------------------------------------------------------------- unresolved-line rendering


@pytest.mark.parametrize(("written", "canonical"), [
    ('((  "lol"   + 2 ))', '(( "lol" + 2 ))'),
    ('(("s"   a))', '(( "s" a ))'),
    ("(( (8 - 4) - x ))", "(( 8 - 4 - x ))"),
    ("(( [1,2]  x ))", "(( [1, 2] x ))"),
    ("(( p.x || q ))", "(( p.x || q ))"),
    ("(( .r.[0].x ))", "(( .r.[0].x ))"),
    ('(( "a\\"b" x ))', '(( "a\\"b" x ))'),
    ("(( merge ||  z ))", "(( merge || z ))"),
    ("(( foo(1,  true) ))", "(( foo(1, true) ))"),
])
def test_canonical_rendering_in_unresolved_lines(written: str, canonical: str) -> None:
    doc = load_yaml_text(f"x: '{written}'\n", "t.yml")
    with pytest.raises(UnresolvedNodesError) as e:
        merge([("t.yml", doc)])
    assert e.value.lines() == [f"\t{canonical}\tin t.yml\tx\t()"]


def test_error_message_has_spiff_header() -> None:
    with pytest.raises(UnresolvedNodesError) as e:
        merge([("t.yml", {"x": "(( merge ))"})])
    assert str(e.value) == "error generating manifest: unresolved nodes:\n\t(( merge ))\tin t.yml\tx\t(x)"
    assert isinstance(e.value, SpiffError)


# ---------------------------------------------------------------- evaluated strings


def test_string_result_that_looks_like_an_expression_is_parsed_later_as_dynaml(spiff_merge) -> None:
    with pytest.raises(UnresolvedNodesError) as e:
        spiff_merge('x: (( "((" " nope ))" ))\n')
    assert _lines(e) == {"\t(( nope ))\tin dynaml\tx\t()"}


def test_late_leaf_override_inside_copied_subtree_by_name(spiff_merge) -> None:
    # the copied map lands in a list and is named e: its leaves get the stub's l.e.* values
    r = spiff_merge("m: {name: e, k: 1, j: 2}\nl:\n  - (( m ))\n", "l:\n  - {name: e, k: 5, z: 9}\n")
    assert r == {"m": {"name": "e", "k": 1, "j": 2}, "l": [{"name": "e", "k": 5, "j": 2}]}


def test_a_stub_overrides_a_template_expression_even_a_reference(spiff_merge) -> None:
    assert spiff_merge("m: {k: 1}\nc: (( m ))\n", "c: {k: 5}\n") == {"m": {"k": 1}, "c": {"k": 5}}


def test_merge_result_is_independent_of_inputs() -> None:
    stub = {"m": {"k": 1}}
    doc = {"m": "(( merge ))", "c": "(( m ))", "plain": {"x": [1]}}
    result = merge([("t.yml", doc), ("s.yml", stub)])
    assert result == {"m": {"k": 1}, "c": {"k": 1}, "plain": {"x": [1]}}
    result["m"]["k"] = 2
    result["plain"]["x"].append(2)
    assert stub == {"m": {"k": 1}}
    assert result["c"] == {"k": 1}
    assert doc["plain"] == {"x": [1]}


def test_negative_static_ips_index_is_an_error_not_a_crash(spiff_merge) -> None:
    template = NETS + ("jobs:\n  - name: j\n    instances: 1\n    networks:\n"
                       "      - name: n1\n        static_ips: (( static_ips(-1) ))\n")
    with pytest.raises(SpiffParseError):
        spiff_merge(template)


def test_lone_underscore_is_an_integer_literal_error(spiff_merge) -> None:
    with pytest.raises(SpiffParseError):
        spiff_merge("a: (( _ ))\n")
    # but `_x` does not parse at all (the integer `_` is followed by more text): literal
    assert spiff_merge("a: (( _x ))\n") == {"a": "(( _x ))"}


def test_stub_with_expressions_is_evaluated_against_later_stubs(spiff_merge) -> None:
    template = "a: (( merge ))\nb: (( merge ))\n"
    middle = "a: (( c \"-\" d ))\nb: (( merge ))\nc: x\nd: 0\n"
    last = "b: last\nd: 7\n"
    # middle's own leaf d is overridden by the last stub before middle's expression reads it
    assert spiff_merge(template, middle, last) == {"a": "x-7", "b": "last"}


def test_unresolved_report_is_the_same_through_the_cli_and_api(spiff_cli) -> None:
    files = {"t.yml": "jobs:\n  - name: j\n    instances: (( nope ))\n", "s.yml": "other: 1\n"}
    p = spiff_cli(files, "merge", "t.yml", "s.yml")
    assert p.returncode == 1
    assert "\t(( nope ))\tin t.yml\tjobs.[0].instances\t()" in p.stderr.splitlines()


def test_fixpoint_tells_booleans_from_integers(spiff_merge) -> None:
    # l[0].k flips from true (copied from m) to 1 (stub leaf) one pass after r first
    # failed on the boolean; Python's == would call the trees equal and stop early.
    template = "m: {name: e, k: true}\nl:\n  - (( m ))\nr: (( l.[0].k + 1 ))\n"
    stub = "l:\n  - {name: e, k: 1}\n"
    assert spiff_merge(template, stub)["r"] == 2
