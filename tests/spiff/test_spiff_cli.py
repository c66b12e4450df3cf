"""`python -m manifests.spiff`: spiff's command line and exit statuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_merge_prints_yaml_and_extra_newline(spiff_cli) -> None:
    p = spiff_cli({"t.yml": "b: (( merge ))\na: 1\n", "s.yml": "b: 2\n"}, "merge", "t.yml", "s.yml")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "a: 1\nb: 2\n\n"


def test_m_alias(spiff_cli) -> None:
    p = spiff_cli({"t.yml": "a: 1\n"}, "m", "t.yml")
    assert (p.returncode, p.stdout) == (0, "a: 1\n\n")


def test_no_files_prints_usage_and_fails(spiff_cli) -> None:
    for args in ((), ("merge",), ("frobnicate", "t.yml")):
        p = spiff_cli({}, *args)
        assert p.returncode == 1
        assert "usage" in p.stderr.lower()


def test_unresolved_nodes_exit_1_with_tab_lines(spiff_cli) -> None:
    p = spiff_cli({"t.yml": "a: (( merge ))\nb: (( nope ))\n"}, "merge", "t.yml")
    assert p.returncode == 1
    assert p.stdout == ""
    lines = p.stderr.splitlines()
    assert lines[0] == "error generating manifest: unresolved nodes:"
    assert set(lines[1:]) == {"\t(( merge ))\tin t.yml\ta\t(a)", "\t(( nope ))\tin t.yml\tb\t()"}


def test_missing_stub_is_one_line_naming_it(spiff_cli) -> None:
    p = spiff_cli({"t.yml": "a: 1\n"}, "merge", "t.yml", "nope.yml")
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1
    assert p.stderr.startswith("error reading stub [nope.yml]:")


def test_parse_errors_name_the_file(spiff_cli) -> None:
    p = spiff_cli({"t.yml": "a: [1\n", "e.yml": ""}, "merge", "t.yml")
    assert p.returncode == 1
    assert p.stderr.startswith("error parsing template [t.yml]:")
    assert p.stderr.count("\n") == 1
    p = spiff_cli({"t.yml": "a: 1\n", "e.yml": ""}, "merge", "t.yml", "e.yml")
    assert p.returncode == 1
    assert p.stderr.startswith("error parsing stub [e.yml]:")


def test_cli_import_stays_light() -> None:
    """Start-up time matters (one process per merge): importing the engine must not
    pull in modules it only needs lazily (relative to a bare interpreter)."""
    code = ("import sys; before = set(sys.modules); import manifests.spiff.__main__, manifests.spiff; "
            "print(' '.join(sorted(k for k in ('dataclasses', 'ipaddress', 'decimal', 'inspect') "
            "if k in sys.modules and k not in before)))")
    root = Path(__file__).resolve().parents[2]
    p = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == []
