"""Small cases in the style of the held-back conformance set, one rule of
../shared/docs/spiff-semantics.md at a time, for rules that the visible cases and the
other tests in this directory do not pin down.

Every expected value was derived by hand from the document's rules (the section is
named in each test), never recorded from our implementation. Beware when adding cases:
`y` and `n` are booleans for spiff, so they cannot be map keys (§10).
"""

from __future__ import annotations

import math

import pytest
import yaml

from manifests.spiff import SpiffParseError, UnresolvedNodesError, dump_yaml, load_yaml_text, merge


def _unresolved(run, template: str, *stubs: str) -> set[str]:
    with pytest.raises(UnresolvedNodesError) as e:
        run(template, *stubs)
    return set(e.value.lines())


def _line(expr: str, source: str, context: str, merge_path: str = "") -> str:
    return f"\t(( {expr} ))\tin {source}\t{context}\t({merge_path})"


# ---------------------------------------------------------------- §9 rendering of every form


@pytest.mark.parametrize(("written", "canonical"), [
    # strings: only \" is an escape in dynaml; the rendering is Go's %q
    (r'(( "a\tb" z ))', r'(( "a\\tb" z ))'),  # backslash + t as written: the backslash doubles
    ('(( "tab\there" z ))', r'(( "tab\there" z ))'),  # a real tab character: \t
    ('(( "bell\x07" z ))', r'(( "bell\a" z ))'),
    ('(( "ctl\x01" z ))', r'(( "ctl\x01" z ))'),
    ('(( "del\x7f" z ))', r'(( "del\x7f" z ))'),
    ('(( "nel\x85" z ))', r'(( "nel\u0085" z ))'),
    ('(( "caf\u00e9" z ))', '(( "caf\u00e9" z ))'),  # printable non-ASCII stays as is
    (r'(( "q\"q" z ))', r'(( "q\"q" z ))'),
    ('(( "" z ))', '(( "" z ))'),
    # literals and keywords as written; integers in decimal
    ("(( nil z ))", "(( nil z ))"),
    ("(( true false ))", "(( true false ))"),
    ("(( -1 z ))", "(( -1 z ))"),
    ("(( 007 z ))", "(( 7 z ))"),
    # grouping parentheses are not kept; operators group to the right
    ("(( (a || b) || c ))", "(( a || b || c ))"),
    ("(( a || (b || c) ))", "(( a || b || c ))"),
    ("(( (a) ))", "(( a ))"),
    ("(( ((a b)) c ))", "(( a b c ))"),
    ("(( [(1 + 2), \"x\"] z ))", '(( [1 + 2, "x"] z ))'),
    # lists and calls with ", " separators, nested
    ("(( f([1],g(2)) ))", "(( f([1], g(2)) ))"),
    ("(( [] z ))", "(( [] z ))"),
    ("(( [a.b, .c.[0]] z ))", "(( [a.b, .c.[0]] z ))"),
    ("(( static_ips(0,  1) ))", "(( static_ips(0, 1) ))"),
    # merge only as part of a bigger expression
    ("(( merge merge ))", "(( merge merge ))"),
    ("(( merge replace ))", "(( merge replace ))"),
    ("(( merge || zz ))", "(( merge || zz ))"),
    ("(( auto || z ))", "(( auto || z ))"),
])
def test_rendering_of_every_expression_form(written: str, canonical: str) -> None:
    doc = {"x": written}  # built directly: no YAML quoting in the way
    with pytest.raises(UnresolvedNodesError) as e:
        merge([("t.yml", doc)])
    assert e.value.lines() == [f"\t{canonical}\tin t.yml\tx\t()"]


def test_grouped_bare_merge_and_auto_keep_their_merge_path(spiff_merge) -> None:
    # grouping is dropped, so the whole expression is still `merge` / `auto` (§9 column 4)
    assert _unresolved(spiff_merge, "a:\n  b: (( (merge) ))\n  c: ((auto))\n") == {
        _line("merge", "template.yml", "a.b", "a.b"),
        _line("auto", "template.yml", "a.c", "a.c"),
    }


def test_merge_in_unnamed_and_named_list_entries(spiff_merge) -> None:
    # context: index steps for every list element; merge path: name steps where named (§9)
    template = ("l:\n  - name: e1\n    v: (( merge ))\n  - (( merge ))\n"
                "  - inner:\n      - name: e2\n        w: (( merge ))\n")
    assert _unresolved(spiff_merge, template) == {
        _line("merge", "template.yml", "l.[0].v", "l.e1.v"),
        _line("merge", "template.yml", "l.[1]", "l.[1]"),
        _line("merge", "template.yml", "l.[2].inner.[0].w", "l.[2].inner.e2.w"),
    }


def test_copied_merge_node_keeps_its_parse_path_but_reports_its_new_place(spiff_merge) -> None:
    # §6.2 reference: the subtree is copied, expressions below the target are evaluated at
    # their new location; a merge node keeps the path it was parsed at.
    template = "l:\n  - name: e\n    v: (( merge ))\nb: (( l ))\n"
    assert _unresolved(spiff_merge, template) == {
        _line("merge", "template.yml", "l.[0].v", "l.e.v"),
        _line("merge", "template.yml", "b.[0].v", "l.e.v"),
    }


# ---------------------------------------------------------------- §9 source column


def test_pending_reference_that_later_fails_stays_in_dynaml(spiff_merge) -> None:
    # a: pending while b is an expression (-> dynaml), then b.x is missing: failure keeps the node
    assert _unresolved(spiff_merge, "a: (( b.x ))\nb: (( c ))\nc: {k: 1}\n") == {
        _line("b.x", "dynaml", "a"),
    }


def test_pending_versus_failed_reference_sources(spiff_merge) -> None:
    assert _unresolved(spiff_merge, "a: (( b ))\nb: (( c.d ))\n") == {
        _line("b", "dynaml", "a"),
        _line("c.d", "template.yml", "b"),
    }


def test_pending_reference_inside_a_stub(spiff_merge) -> None:
    assert _unresolved(spiff_merge, "a: 1\n", "a: (( b ))\nb: (( c ))\n") == {
        _line("b", "dynaml", "a"),
        _line("c", "stub1.yml", "b"),
    }


def test_pending_item_stays_inside_the_list(spiff_merge) -> None:
    # §6.2 list: a pending item is kept as an expression node inside the list
    assert _unresolved(spiff_merge, 'a: (( [b, "x"] ))\nb: (( c ))\n') == {
        _line("b", "dynaml", "a.[0]"),
        _line("c", "template.yml", "b"),
    }


def test_failing_list_item_fails_the_whole_list(spiff_merge) -> None:
    assert _unresolved(spiff_merge, "a: (( [b, c] ))\nb: 1\n") == {_line("[b, c]", "template.yml", "a")}


def test_or_right_side_pending_reference_becomes_the_node(spiff_merge) -> None:
    # merge fails, so the result is whatever b gives: a pending reference (in dynaml)
    assert _unresolved(spiff_merge, "a: (( merge || b ))\nb: (( c ))\n") == {
        _line("b", "dynaml", "a"),
        _line("c", "template.yml", "b"),
    }


def test_evaluated_string_that_looks_like_an_expression_is_dynaml(spiff_merge) -> None:
    assert _unresolved(spiff_merge, 'a: (( "((b" "))" ))\n') == {_line("b", "dynaml", "a")}
    assert spiff_merge('a: (( "(( b ))" ))\nb: 5\n') == {"a": 5, "b": 5}


# ---------------------------------------------------------------- §5 lookups


def test_reference_through_prefix_that_is_pending_waits(spiff_merge) -> None:
    # a is still an expression when first seen: pending, so || does not fall back
    r = spiff_merge('a: (( c ))\nc: {b: 1}\nr: (( a.b || "d" ))\n')
    assert r["r"] == 1


def test_reference_into_named_entry_whose_leaf_is_pending(spiff_merge) -> None:
    r = spiff_merge('l:\n  - name: e\n    v: (( z ))\nz: 3\nr: (( l.e.v || "d" ))\n')
    assert r["r"] == 3


def test_map_keys_that_look_like_steps(spiff_merge) -> None:
    # in a map a step looks up the key, whatever it looks like
    r = spiff_merge('m: {"2": two, "[0]": zero}\na: (( m.2 ))\nb: (( m.[0] ))\n')
    assert (r["a"], r["b"]) == ("two", "zero")


def test_index_out_of_range_fails_and_or_falls_back(spiff_merge) -> None:
    assert spiff_merge("x: [1]\na: (( x.[1] || 7 ))\nb: (( x.[0] ))\n") == {"x": [1], "a": 7, "b": 1}


def test_duplicate_names_select_the_first_entry(spiff_merge) -> None:
    r = spiff_merge("l:\n  - name: d\n    v: 1\n  - name: d\n    v: 2\nr: (( l.d.v ))\n")
    assert r["r"] == 1


def test_copied_subtree_is_evaluated_at_its_new_place(spiff_merge) -> None:
    # b.c gets a copy of a with v still an expression; evaluated inside b, `w` is b's w
    r = spiff_merge("a:\n  v: (( w ))\nw: 1\nb:\n  c: (( a ))\n  w: 2\n")
    assert r == {"a": {"v": 1}, "w": 1, "b": {"c": {"v": 2}, "w": 2}}


def test_root_reference_skips_inner_scopes(spiff_merge) -> None:
    assert spiff_merge("x: 1\ng: {x: 2, h: (( .x )), i: (( x ))}\n") == {"x": 1, "g": {"x": 2, "h": 1, "i": 2}}


def test_walking_into_a_scalar_fails(spiff_merge) -> None:
    assert _unresolved(spiff_merge, "a: 1\nr: (( a.b ))\n") == {_line("a.b", "template.yml", "r")}


# ---------------------------------------------------------------- §6 || traps and concatenation


def test_or_with_list_holding_pending_item_does_not_fall_back(spiff_merge) -> None:
    # the list is a value even though an item is pending (§6.2 list row)
    assert spiff_merge('a: (( [b] || "d" ))\nb: (( c ))\nc: 1\n')["a"] == [1]


def test_grouped_reference_still_waits(spiff_merge) -> None:
    assert spiff_merge('a: (( (b) || "d" ))\nb: (( c ))\nc: 2\n')["a"] == 2


def test_subtraction_with_pending_operand_takes_default_at_once(spiff_merge) -> None:
    r = spiff_merge("x: 10\nq: (( z ))\nz: 3\nf: (( x - q || 0 ))\ng: (( x - q ))\n")
    assert (r["f"], r["g"]) == (0, 7)


def test_or_defaults_of_every_literal_kind(spiff_merge) -> None:
    r = spiff_merge('a: (( merge || [1, "x"] ))\nb: (( merge || true ))\nc: (( merge || -3 ))\n'
                    'd: (( merge || "" ))\ne: (( merge || [] ))\n')
    assert r == {"a": [1, "x"], "b": True, "c": -3, "d": "", "e": []}


def test_concatenation_results(spiff_merge) -> None:
    r = spiff_merge('p: 80\na: (( "a" -1 ))\nb: (( "80" p ))\nc: (( [p] [] [p] ))\n')
    assert r["a"] == "a-1"
    assert r["b"] == "8080"
    assert r["c"] == [80, 80]
    assert 'b: "8080"' in dump_yaml(r)  # the string result reads back as a string


@pytest.mark.parametrize("expr", ["1 2", "[1] \"a\"", "m \"a\"", "\"a\" m", "\"a\" fl"])
def test_other_concatenations_fail(spiff_merge, expr: str) -> None:
    assert _unresolved(spiff_merge, f"m: {{k: 1}}\nfl: 1.5\nx: (( {expr} ))\n") == {_line(expr, "template.yml", "x")}


def test_arithmetic_with_negative_literals_and_floats(spiff_merge) -> None:
    assert spiff_merge("a: (( 1 - -2 ))\nb: (( -1 + -1 ))\n") == {"a": 3, "b": -2}
    assert _unresolved(spiff_merge, "f: 1.5\nx: (( f + 1 ))\n") == {_line("f + 1", "template.yml", "x")}


@pytest.mark.parametrize("text", ["(( true_val ))", "(( 1abc ))", "(( a -b ))", "(( a ||b ))", "(( [1 ] ))",
                                  '(( "open ))', "(( f () ))", "(( f(1 ,2) ))", "(( a. ))"])
def test_more_unparsable_strings_stay_literal(spiff_merge, text: str) -> None:
    # §4.2/§6.1: ordered choice, spaces are significant; the text is kept as it is
    assert spiff_merge("a: 1\nb: 2\ntrue_val: 3\n", )["a"] == 1  # keys are fine
    assert merge([("t.yml", {"a": 1, "b": 2, "x": text})])["x"] == text


def test_concatenation_with_negative_integer_without_operator_space(spiff_merge) -> None:
    # `a -1` is concatenation of a and the literal -1 (subtraction needs a space after -)
    assert spiff_merge('a: "v"\nx: (( a -1 ))\n')["x"] == "v-1"


# ---------------------------------------------------------------- §8.1 << in maps


def test_splice_subtree_replaced_by_template_but_leaves_from_stub(spiff_merge) -> None:
    r = spiff_merge("m:\n  <<: (( merge ))\n  sub: {x: 1}\n", "m: {sub: {x: 2, w: 3}, o: 1}\n")
    assert r == {"m": {"o": 1, "sub": {"x": 2}}}


@pytest.mark.parametrize("stub", ["m: [1, 2]\n", "m: scalar\n", "m: ~\n", "other: 1\n"])
def test_splice_of_a_non_map_is_dropped(spiff_merge, stub: str) -> None:
    assert spiff_merge("m:\n  <<: (( merge ))\n  k: 1\n", stub) == {"m": {"k": 1}}


def test_splice_at_the_document_root(spiff_merge) -> None:
    assert spiff_merge("<<: (( merge ))\nk: 1\n", "k: 2\nj: 3\n") == {"j": 3, "k": 2}


def test_splice_of_an_inline_map(spiff_merge) -> None:
    assert spiff_merge("m:\n  <<: {a: 1, k: 0}\n  k: 1\n") == {"m": {"a": 1, "k": 1}}


def test_splice_takes_the_leftmost_stub_map(spiff_merge) -> None:
    # stub1 is flowed first against stub2 (its leaf a becomes 2, stub2's b is not added),
    # then the template splices stub1's map
    r = spiff_merge("m:\n  <<: (( merge ))\n  c: 4\n", "m: {a: 1}\n", "m: {a: 2, b: 3}\n")
    assert r == {"m": {"a": 2, "c": 4}}


def test_splice_under_named_list_entry(spiff_merge) -> None:
    template = "jobs:\n  - name: j\n    properties:\n      <<: (( merge ))\n      t: 1\n"
    stub = "jobs:\n  - name: j\n    properties: {s: 2, t: 3}\n"
    assert spiff_merge(template, stub) == {"jobs": [{"name": "j", "properties": {"s": 2, "t": 3}}]}


# ---------------------------------------------------------------- §8.2 << in lists


def test_list_splice_in_the_middle(spiff_merge) -> None:
    assert spiff_merge("l:\n  - a\n  - <<: (( merge ))\n  - b\n", "l: [x, z]\n") == {"l": ["a", "x", "z", "b"]}


def test_list_splice_of_a_stub_map_gives_empty_map(spiff_merge) -> None:
    assert spiff_merge("l:\n  - <<: (( merge ))\n", "l: {a: 1}\n") == {"l": [{}]}


def test_list_element_with_more_keys_is_a_map_splice_at_the_element_path(spiff_merge) -> None:
    # not a single-key `<<` element: its `<<` is a map splice at l.[0]; the stub has 1 there
    assert spiff_merge("l:\n  - <<: (( merge ))\n    extra: 1\n", "l: [1]\n") == {"l": [{"extra": 1}]}


def test_list_splice_named_and_unnamed_entries(spiff_merge) -> None:
    template = "l:\n  - <<: (( merge ))\n  - name: n1\n    v: t\n"
    stub = "l:\n  - name: n1\n    v: s\n  - name: n2\n    v: s2\n  - noname\n"
    r = spiff_merge(template, stub)
    assert r == {"l": [{"name": "n2", "v": "s2"}, "noname", {"name": "n1", "v": "s"}]}


def test_two_list_splices_each_insert_the_stub_list(spiff_merge) -> None:
    assert spiff_merge("l:\n  - <<: (( merge ))\n  - <<: (( merge ))\n", "l: [1]\n") == {"l": [1, 1]}


# ---------------------------------------------------------------- §2 cascade precedence


def test_leaf_rightmost_wins_over_three_stubs(spiff_merge) -> None:
    assert spiff_merge("m: {a: t}\n", "m: {a: s1}\n", "m: {a: s2}\n", "m: {a: s3}\n") == {"m": {"a": "s3"}}


def test_list_from_leftmost_stub_that_has_it(spiff_merge) -> None:
    assert spiff_merge("l: (( merge ))\n", "other: 1\n", "l: [1]\n", "l: [2, 3]\n") == {"l": [1]}


def test_named_entry_leaf_from_rightmost_stub_inside_leftmost_list(spiff_merge) -> None:
    r = spiff_merge("l: (( merge ))\n", "l:\n  - name: a\n    v: 1\n", "l:\n  - name: a\n    v: 2\n  - name: b\n")
    assert r == {"l": [{"name": "a", "v": 2}]}


def test_stub_null_counts_as_found(spiff_merge) -> None:
    assert spiff_merge("v: (( merge ))\n", "v: ~\n", "w: 1\n") == {"v": None}


def test_stub_expression_sees_its_own_tree_after_override(spiff_merge) -> None:
    assert spiff_merge("v: 1\n", "v: (( w ))\nw: 5\n", "w: 6\n") == {"v": 6}


def test_stub_merge_without_later_stub_is_reported_with_the_stub_name(spiff_merge) -> None:
    assert _unresolved(spiff_merge, "v: 1\n", "v: (( merge ))\n") == {_line("merge", "stub1.yml", "v", "v")}


def test_root_merge_of_a_list_stub(spiff_merge) -> None:
    assert spiff_merge("(( merge ))\n", "[1, 2]\n") == [1, 2]


def test_override_applies_to_leaves_of_a_map_copied_from_a_stub(spiff_merge) -> None:
    # m comes whole from stub1 (leftmost); its leaf a is overridden by stub2 via stub1's flow
    assert spiff_merge("m: (( merge ))\n", "m: {a: 1, b: 1}\n", "m: {a: 2}\n") == {"m": {"a": 2, "b": 1}}


# ---------------------------------------------------------------- §7.1 static_ips


NETS = """
networks:
  - name: net1
    subnets:
      - static: ["10.0.0.254 - 10.0.1.1", 10.0.2.5]
      - static: [10.0.3.1, "10.0.3.9-10.0.3.10"]
  - name: net2
    subnets:
      - static: ["192.168.0.1 - 192.168.0.3"]
"""


def _job(instances: str, networks: str) -> str:
    return f"jobs:\n  - name: j\n    instances: {instances}\n    networks:\n{networks}"


def test_static_ips_mixed_singles_and_ranges_over_several_networks(spiff_merge) -> None:
    template = NETS + _job("6", "      - name: net1\n        static_ips: (( static_ips(0, 1, 2, 3, 4, 5) ))\n"
                                "      - name: net2\n        static_ips: (( static_ips(2, 1, 0, 0, 1, 2) ))\n")
    nets = spiff_merge(template)["jobs"][0]["networks"]
    # pool net1: 10.0.0.254, .255, 10.0.1.0, 10.0.1.1, 10.0.2.5, 10.0.3.1, 10.0.3.9, 10.0.3.10
    assert nets[0]["static_ips"] == ["10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1", "10.0.2.5", "10.0.3.1"]
    assert nets[1]["static_ips"] == ["192.168.0.3", "192.168.0.2", "192.168.0.1",
                                     "192.168.0.1", "192.168.0.2", "192.168.0.3"]


def test_static_ips_last_addresses_of_the_pool(spiff_merge) -> None:
    template = NETS + _job("2", "      - name: net1\n        static_ips: (( static_ips(6, 7) ))\n")
    assert spiff_merge(template)["jobs"][0]["networks"][0]["static_ips"] == ["10.0.3.9", "10.0.3.10"]


def test_static_ips_instances_from_a_reference_chain(spiff_merge) -> None:
    template = NETS + _job("(( meta.count ))", "      - name: net2\n        static_ips: (( static_ips(1, 2) ))\n") \
        + "meta:\n  count: (( meta.other ))\n  other: 2\n"
    assert spiff_merge(template)["jobs"][0]["networks"][0]["static_ips"] == ["192.168.0.2", "192.168.0.3"]


def test_static_ips_instances_from_a_stub(spiff_merge) -> None:
    template = NETS + _job("(( merge || 1 ))", "      - name: net2\n        static_ips: (( static_ips(0, 1) ))\n")
    stub = "jobs:\n  - name: j\n    instances: 2\n"
    assert spiff_merge(template, stub)["jobs"][0]["networks"][0]["static_ips"] == ["192.168.0.1", "192.168.0.2"]


def test_static_ips_arguments_are_expressions(spiff_merge) -> None:
    template = NETS + _job("2", "      - name: net2\n        idx: 0\n"
                                "        static_ips: (( static_ips(1 + 1, idx) ))\n")
    assert spiff_merge(template)["jobs"][0]["networks"][0]["static_ips"] == ["192.168.0.3", "192.168.0.1"]


def test_static_ips_nearest_instances_and_name_win(spiff_merge) -> None:
    # lexical lookups: the network entry's own `instances` beats the job's
    template = NETS + _job("3", "      - name: net2\n        instances: 1\n"
                                "        static_ips: (( static_ips(2) ))\n")
    assert spiff_merge(template)["jobs"][0]["networks"][0]["static_ips"] == ["192.168.0.3"]


def test_static_ips_network_name_from_an_enclosing_map(spiff_merge) -> None:
    # no `name` in the network entry: the job's `name` is found lexically
    template = NETS + "jobs:\n  - name: net2\n    instances: 1\n    networks:\n" \
                      "      - static_ips: (( static_ips(1) ))\n"
    assert spiff_merge(template)["jobs"][0]["networks"][0]["static_ips"] == ["192.168.0.2"]


def test_static_ips_as_a_list_element(spiff_merge) -> None:
    template = NETS + _job("1", "      - name: net2\n        static_ips: [(( static_ips(1) ))]\n")
    assert spiff_merge(template)["jobs"][0]["networks"][0]["static_ips"] == [["192.168.0.2"]]


@pytest.mark.parametrize(("instances", "call"), [
    ("0", "static_ips(0, 3)"),  # index beyond the pool fails even with 0 instances
    ("3", "static_ips(1, 2)"),  # fewer indices than instances
    ("1", 'static_ips("0")'),  # non-integer argument
    ("~", "static_ips(0)"),  # null instances
    ("1", "static_ips(x)"),  # argument that fails
])
def test_static_ips_failures(spiff_merge, instances: str, call: str) -> None:
    template = NETS + _job(instances, f"      - name: net2\n        static_ips: (( {call} ))\n")
    assert _unresolved(spiff_merge, template) == {
        _line(call, "template.yml", "jobs.[0].networks.[0].static_ips")}


@pytest.mark.parametrize("subnets", ["      - static: 10.0.0.1\n", "      - static: [1]\n",
                                     "      - static: [10.0.0.1]\n      - {}\n"])
def test_static_ips_bad_subnets_fail(spiff_merge, subnets: str) -> None:
    template = "networks:\n  - name: net\n    subnets:\n" + subnets + \
        _job("1", "      - name: net\n        static_ips: (( static_ips(0) ))\n")
    assert _unresolved(spiff_merge, template) == {
        _line("static_ips(0)", "template.yml", "jobs.[0].networks.[0].static_ips")}


def test_static_ips_unknown_network_fails(spiff_merge) -> None:
    template = NETS + _job("1", "      - name: nope\n        static_ips: (( static_ips(0) ))\n")
    assert _unresolved(spiff_merge, template) == {
        _line("static_ips(0)", "template.yml", "jobs.[0].networks.[0].static_ips")}


# ---------------------------------------------------------------- §7.2 auto


def test_auto_counts_every_job_of_the_pool_including_errands(spiff_merge) -> None:
    template = ("resource_pools:\n  - name: p\n    size: (( auto ))\n  - name: q\n    size: (( auto ))\n"
                "  - name: r\n    size: (( auto ))\n"
                "jobs:\n  - name: a\n    resource_pool: p\n    instances: 2\n"
                "  - name: e\n    lifecycle: errand\n    resource_pool: p\n    instances: 1\n"
                "  - name: b\n    resource_pool: q\n    instances: (( meta.cnt ))\n"
                "  - name: c\n    instances: 4\n  - name: d\n    resource_pool: 7\n    instances: 1\n"
                "meta:\n  cnt: (( meta.m ))\n  m: 3\n")
    assert [p["size"] for p in spiff_merge(template)["resource_pools"]] == [3, 3, 0]


def test_auto_uses_stub_overridden_instances(spiff_merge) -> None:
    template = ("resource_pools:\n  - name: p\n    size: (( auto ))\n"
                "jobs:\n  - name: a\n    resource_pool: p\n    instances: 0\n")
    stub = "jobs:\n  - name: a\n    instances: 5\n"
    assert spiff_merge(template, stub)["resource_pools"][0]["size"] == 5


@pytest.mark.parametrize("job", ["    instances: ~\n", "    instances: two\n", ""])
def test_auto_fails_when_a_matching_job_has_no_integer_instances(spiff_merge, job: str) -> None:
    template = ("resource_pools:\n  - name: p\n    size: (( auto ))\n"
                "jobs:\n  - name: a\n    resource_pool: p\n" + job)
    assert _unresolved(spiff_merge, template) == {
        _line("auto", "template.yml", "resource_pools.[0].size", "resource_pools.p.size")}


def test_auto_needs_a_root_jobs_list(spiff_merge) -> None:
    template = "resource_pools:\n  - name: p\n    size: (( auto ))\njobs: {a: 1}\n"
    assert _unresolved(spiff_merge, template) == {
        _line("auto", "template.yml", "resource_pools.[0].size", "resource_pools.p.size")}


def test_auto_only_at_resource_pools_name_size(spiff_merge) -> None:
    template = ("resource_pools:\n  - name: p\n    other: (( auto ))\n"
                "pools:\n  - name: p\n    size: (( auto ))\njobs: []\n")
    assert _unresolved(spiff_merge, template) == {
        _line("auto", "template.yml", "resource_pools.[0].other", "resource_pools.p.other"),
        _line("auto", "template.yml", "pools.[0].size", "pools.p.size"),
    }


def test_auto_in_a_stub_counts_the_stubs_jobs(spiff_merge) -> None:
    stub = ("resource_pools:\n  - name: p\n    size: (( auto ))\n"
            "jobs:\n  - name: a\n    resource_pool: p\n    instances: 2\n")
    assert spiff_merge("resource_pools: (( merge ))\n", stub) == {"resource_pools": [{"name": "p", "size": 2}]}


# ---------------------------------------------------------------- §10 YAML layer, every row


@pytest.mark.parametrize(("text", "value"), [
    ("", None), ("~", None), ("null", None), ("Null", None), ("NULL", None),
    ("y", True), ("Y", True), ("n", False), ("N", False),
    ("yes", True), ("No", False), ("ON", True), ("off", False), ("True", True), ("fALSE", False), ("nO", False),
    ("0755", 493), ("0x2A", 42), ("0o17", 15), ("10_000", 10000), ("2e3", 2000.0), ("2E3", 2000.0),
    (".25", 0.25), ("09", 9.0), ("1:30", "1:30"), ("=", "="),
    ("-0o17", -15), ("0B11", 3), ("0_7", 7), ("1__0", 10), ("-2e3", -2000.0), ("+.5", 0.5), ("08.5", 8.5),
    ("+", "+"), ("_1", "_1"), ("0o8", "0o8"), ("yess", "yess"), ("o", "o"), ("t", "t"),
    ("+2015-01-01", "+2015-01-01"),
])
def test_yaml_plain_scalars(text: str, value: object) -> None:
    got = load_yaml_text(f"k: {text}\n")["k"]
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("text", [".nan", "+nan", "-.NaN", "+NaN"])
def test_yaml_nan(text: str) -> None:
    got = load_yaml_text(f"k: {text}\n")["k"]
    assert isinstance(got, float) and math.isnan(got)


@pytest.mark.parametrize("text", ["2015-01-01", "2015-1-1", "2015-01-01T10:00:00Z", "2015-01-01 10:00:00"])
def test_yaml_timestamps_are_fatal(text: str) -> None:
    with pytest.raises(SpiffParseError, match=r"time\.Time"):
        load_yaml_text(f"k: {text}\n", "t.yml")


@pytest.mark.parametrize("text", ["'2015-01-01'", '"y"', "'0o17'", '"~"', "''"])
def test_yaml_quoted_scalars_are_strings(text: str) -> None:
    assert load_yaml_text(f"k: {text}\n")["k"] == yaml.safe_load(f"k: {text}\n")["k"]
    assert isinstance(load_yaml_text(f"k: {text}\n")["k"], str)


@pytest.mark.parametrize(("key", "shown"), [("y", "true"), ("Off", "false"), ("1", "1"), ("~", "<nil>"),
                                             ("2e3", "2000")])
def test_yaml_non_string_keys_are_fatal(key: str, shown: str) -> None:
    with pytest.raises(SpiffParseError, match="map key must be a string") as e:
        load_yaml_text(f"a:\n  {key}: 1\n", "t.yml")
    assert "[t.yml]" in str(e.value)
    if key in ("y", "Off"):
        assert f"map key must be a string: {shown}" in str(e.value)


@pytest.mark.parametrize("text", ["# only a comment\n", "\n\n", ""])
def test_yaml_files_without_a_document_are_errors(text: str) -> None:
    with pytest.raises(SpiffParseError, match="Expected document start"):
        load_yaml_text(text, "s.yml", role="stub")


def test_yaml_merge_key_scalar_is_a_plain_key() -> None:
    assert load_yaml_text("m:\n  <<: (( merge || nil ))\n  a: 1\n") == {"m": {"<<": "(( merge || nil ))", "a": 1}}


# ---------------------------------------------------------------- §10 output


@pytest.mark.parametrize("s", ["y", "Y", "n", "NO", "oFF", "0o17", "1:30", "2e3", "09", "~", "null", "", "=",
                               "0x1F", "+1", ".5", "1_000", "0b1", "-.inf", ".NaN", "2015-01-01", "<<", "true",
                               "1.0", "-7", "0755", "1:30:00"])
def test_strings_that_read_back_as_other_types_are_double_quoted(s: str) -> None:
    text = dump_yaml({"k": s})
    assert text == f'k: "{s}"\n'
    assert load_yaml_text(text) == {"k": s}
    assert yaml.safe_load(text) == {"k": s}


@pytest.mark.parametrize(("value", "text"), [(3.14, "3.14"), (8.0, "8"), (2000.0, "2000"), (0.5, "0.5"),
                                             (1e21, "1e+21"), (-0.0001, "-0.0001"), (1e-05, "1e-05")])
def test_floats_in_shortest_form(value: float, text: str) -> None:
    assert dump_yaml({"k": value}) == f"k: {text}\n"


def test_output_layout_of_nested_structures() -> None:
    data = {"b": [{"x": 1, "a": [1, []]}, {}], "a": {"z": None, "m": {}}}
    assert dump_yaml(data) == ("a:\n  m: {}\n  z: null\nb:\n- a:\n  - 1\n  - []\n  x: 1\n- {}\n")


def test_quoted_input_strings_stay_strings_through_a_merge(spiff_cli) -> None:
    p = spiff_cli({"t.yml": "a: 'y'\nb: '2e3'\nc: (( a ))\nd: \"09\"\n"}, "merge", "t.yml")
    assert p.returncode == 0, p.stderr
    assert load_yaml_text(p.stdout) == {"a": "y", "b": "2e3", "c": "y", "d": "09"}
    assert p.stdout.endswith("\n\n")


# ---------------------------------------------------------------- §4.1/§8.3 overrides inside stub subtrees


def test_duplicate_names_in_a_merged_list_take_the_first_entrys_leaves(spiff_merge) -> None:
    # pass 1 puts the stub list in place; on pass 2 both entries have the path l.a.v, which
    # the stub resolves to its first entry named a (§8.3: duplicates map to the first)
    stub = "l:\n  - name: a\n    v: 1\n  - name: a\n    v: 2\n"
    assert spiff_merge("l: (( merge ))\n", stub) == {"l": [{"name": "a", "v": 1}, {"name": "a", "v": 1}]}
    assert spiff_merge("l: ~\n", stub) == {"l": [{"name": "a", "v": 1}, {"name": "a", "v": 1}]}


def test_entry_named_like_an_index_step_in_a_merged_list(spiff_merge) -> None:
    # the second entry's path is l.[0].v, and [0] is an index step: the first entry's v
    stub = 'l:\n  - v: 1\n  - name: "[0]"\n    v: 2\n'
    assert spiff_merge("l: (( merge ))\n", stub) == {"l": [{"v": 1}, {"name": "[0]", "v": 1}]}


def test_subtree_copied_where_no_stub_has_the_path_keeps_expressions_working(spiff_merge) -> None:
    # networks: (( merge || dflt )) with no stub: the copy is evaluated at its new place
    template = "dflt:\n  a: {v: (( w ))}\n  w: 1\nnetworks: (( merge || dflt ))\nw: 2\n"
    r = spiff_merge(template, "other: 1\n")
    assert r["networks"] == {"a": {"v": 1}, "w": 1}
    template = "dflt:\n  a: {v: 1}\nnetworks: (( merge || dflt ))\n"
    assert spiff_merge(template, "networks_x: 1\n")["networks"] == {"a": {"v": 1}}
    assert spiff_merge(template, "networks: {a: {v: 3}}\n")["networks"] == {"a": {"v": 3}}
