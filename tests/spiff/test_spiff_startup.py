"""The command line loads libyaml's parser without PyYAML's pure-Python modules
(manifests/spiff/_cyaml.py, a start-up saving); these tests check that it reads and
reports exactly what the library API does, and that library users keep a normal yaml."""

from __future__ import annotations

import subprocess
import sys

import pytest

from manifests.spiff import SpiffError, dump_yaml, merge_files

DOCS = {
    "tags.yml": 'a: !!int "3"\nb: !!str 4\nc: !!float 1\nd: &x {k: [1, 2]}\ne: *x\nf: ((a))\n',
    "flowerr.yml": "a: [1, 2\nb: 1\n",
    "ctl.yml": 'a: "\x01"\n',
    "alias.yml": "a: *nope\n",
    "date.yml": "a: 2015-01-01\n",
    "custom.yml": "a: !custom x\n",
    "boolkey.yml": "on: 1\n",
}


@pytest.mark.parametrize("name", sorted(DOCS))
def test_cli_reads_like_the_library(spiff_cli, tmp_path, name: str) -> None:
    p = spiff_cli({name: DOCS[name]}, "merge", name)
    try:
        expected_out, expected_rc = dump_yaml(merge_files([tmp_path / name])) + "\n", 0
    except SpiffError as e:
        expected_out, expected_rc = str(e), 1
    assert p.returncode == expected_rc, p.stderr
    if expected_rc == 0:
        assert p.stdout == expected_out
    else:
        assert p.stdout == ""
        assert p.stderr.strip() == expected_out.replace(str(tmp_path / name), name)


def _yaml_modules_after_import(repo_root, as_cli: bool) -> list[str]:
    fake = "sys.argv = ['-m']; sys.orig_argv = [sys.executable, '-m', 'manifests.spiff', 'merge']; " if as_cli else ""
    code = (f"import sys; {fake}import manifests.spiff; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('yaml.'))))")
    return subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True,
                          timeout=60, check=True).stdout.split()


def test_cli_process_skips_pure_python_yaml(repo_root) -> None:
    modules = _yaml_modules_after_import(repo_root, as_cli=True)
    assert "yaml._yaml" in modules
    assert "yaml.reader" not in modules and "yaml.constructor" not in modules


def test_library_import_gets_the_whole_yaml_package(repo_root) -> None:
    modules = _yaml_modules_after_import(repo_root, as_cli=False)
    assert "yaml.reader" in modules and "yaml.constructor" in modules
