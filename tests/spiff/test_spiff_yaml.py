"""spiff's YAML reading rules (candiedyaml) and our output layout."""

from __future__ import annotations

import math

import pytest
import yaml

from manifests.spiff import SpiffParseError, SpiffReadError, dump_yaml, load_yaml_file, load_yaml_text


@pytest.mark.parametrize(("text", "value"), [
    ("", None), ("~", None), ("null", None), ("Null", None), ("NULL", None),
    ("y", True), ("Y", True), ("n", False), ("N", False), ("yEs", True), ("oFF", False), ("On", True),
    ("TRUE", True), ("fAlSe", False), ("nil", "nil"), ("nULL", "nULL"),
    ("0755", 493), ("0x2A", 42), ("0o17", 15), ("0b101", 5), ("-0x2A", -42), ("+12", 12), ("0", 0),
    ("10_000", 10000), ("2e3", 2000.0), ("2E3", 2000.0), (".25", 0.25), ("09", 9.0), ("1.5", 1.5),
    ("1:30", "1:30"), ("=", "="), ("<<", "<<"), ("1e400", "1e400"), ("9223372036854775807", 2**63 - 1),
    ("-9223372036854775808", -(2**63)), ("9223372036854775808", 9223372036854775808.0),
    ("0x", "0x"), ("1.2.3", "1.2.3"), ("10.244.0.6", "10.244.0.6"),
])
def test_plain_scalar_typing(text: str, value: object) -> None:
    got = load_yaml_text(f"k: {text}\n")["k"]
    assert got == value
    assert type(got) is type(value)


@pytest.mark.parametrize("text", [".inf", "+.inf", "-.Inf", "+inf", "-Infinity"])
def test_infinities(text: str) -> None:
    assert math.isinf(load_yaml_text(f"k: {text}\n")["k"])


def test_infinity_without_sign_is_a_string() -> None:
    # only scalars starting with a digit, sign or dot are tried as numbers
    assert load_yaml_text("k: infinity\n")["k"] == "infinity"


def test_quoted_scalars_are_strings() -> None:
    assert load_yaml_text("a: 'y'\nb: \"0x2A\"\nc: ''\nd: '2015-01-01'\n") == {"a": "y", "b": "0x2A", "c": "",
                                                                               "d": "2015-01-01"}


@pytest.mark.parametrize("text", ["k: 2015-01-01\n", "k: 2015-1-1 10:00:00\n", "k: 2001-12-14t21:59:43.10-05:00\n"])
def test_timestamps_are_fatal(text: str) -> None:
    with pytest.raises(SpiffParseError, match=r"time\.Time"):
        load_yaml_text(text, "t.yml")


@pytest.mark.parametrize("text", ["y: 1\n", "1: a\n", "~: a\n", "{on: 1}\n", "? [a]\n: b\n"])
def test_non_string_keys_are_fatal(text: str) -> None:
    with pytest.raises(SpiffParseError, match=r"\[t.yml\]"):
        load_yaml_text(text, "t.yml")


def test_merge_key_is_a_plain_key_and_anchors_expand() -> None:
    doc = load_yaml_text("a: &x {p: 1}\nb:\n  <<: *x\n  q: 2\nc:\n  <<: (( merge ))\nd: *x\n")
    assert doc == {"a": {"p": 1}, "b": {"<<": {"p": 1}, "q": 2}, "c": {"<<": "(( merge ))"}, "d": {"p": 1}}


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_empty_file_is_an_error(text: str) -> None:
    with pytest.raises(SpiffParseError, match="stub"):
        load_yaml_text(text, "s.yml", role="stub")


def test_only_the_first_document_is_used() -> None:
    assert load_yaml_text("a: 1\n---\nb: 2\n---\n[unclosed\n") == {"a": 1}


def test_syntax_error_is_one_line_naming_the_file() -> None:
    with pytest.raises(SpiffParseError) as e:
        load_yaml_text("a: [1\n", "bad.yml")
    assert "\n" not in str(e.value)
    assert str(e.value).startswith("error parsing template [bad.yml]: ")


def test_unreadable_file(tmp_path) -> None:
    with pytest.raises(SpiffReadError, match=r"error reading stub \[.*missing.yml\]"):
        load_yaml_file(tmp_path / "missing.yml", role="stub")


# ---------------------------------------------------------------- output


def test_output_layout() -> None:
    data = {"b": [{"name": "x", "v": [1, 2]}, [3]], "a": {"z": {}, "y2": [], "n1": None}, "f": 8.0, "g": 1e6}
    assert dump_yaml(data) == (
        "a:\n  n1: null\n  y2: []\n  z: {}\n"
        "b:\n- name: x\n  v:\n  - 1\n  - 2\n- - 3\n"
        "f: 8\ng: 1e+06\n"
    )


@pytest.mark.parametrize("s", ["y", "n", "no", "On", "1:30", "", "2e3", "09", "0o17", "null", "~", "true",
                               "123", "-1", "2015-01-01", "=", "<<", "- a", "a: b", "#c", "x #c", " lead",
                               "trail ", "tab\tin", "\x01ctl", "é", "*star", "&amp", "!bang", "%p", "@a",
                               "`b", "{a}", "[a]", "'q'", '"dq"', "a\\b"])
def test_strings_read_back_as_the_same_string(s: str) -> None:
    text = dump_yaml({"k": s})
    assert load_yaml_text(text) == {"k": s}  # with spiff's rules
    assert yaml.safe_load(text) == {"k": s}  # and for PyYAML consumers


def test_strings_that_read_as_other_types_are_double_quoted() -> None:
    assert dump_yaml({"k": "y"}) == 'k: "y"\n'
    assert dump_yaml({"k": "8080"}) == 'k: "8080"\n'
    assert dump_yaml({"k": ""}) == 'k: ""\n'
    assert dump_yaml({"k": "plain text"}) == "k: plain text\n"


@pytest.mark.parametrize(("s", "block"), [
    ("a\nb", "|-\n  a\n  b"),
    ("a\nb\n", "|+\n  a\n  b"),
    ("a\n\n  b\n\n", "|+\n  a\n\n    b\n"),
])
def test_multiline_strings_are_literal_blocks(s: str, block: str) -> None:
    text = dump_yaml({"k": s})
    assert text == f"k: {block}\n"
    assert load_yaml_text(text) == {"k": s}
    assert yaml.safe_load(text) == {"k": s}


@pytest.mark.parametrize("s", [" lead\nx", "x \ny", "\nx", "x\r\ny", "a\n \nb", "\u2028\nx"])
def test_awkward_multiline_strings_still_read_back(s: str) -> None:
    text = dump_yaml({"k": [s]})
    assert load_yaml_text(text) == {"k": [s]}
    assert yaml.safe_load(text) == {"k": [s]}


def test_map_keys_that_need_quotes() -> None:
    data = {"n": 1, "on": 2, "a: b": 3, "ok": 4}
    text = dump_yaml(data)
    assert load_yaml_text(text) == data
