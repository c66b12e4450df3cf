"""Every error path: one clear message per problem, all listed at once, exit 1 on the
command line, and never a partial (or clobbered) output directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from manifest_facts import UUID

from manifests import output
from manifests.generate import GenerationError, build_all, generate

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "manifests", "generate", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_unknown_version_set(tmp_path: Path):
    with pytest.raises(GenerationError) as err:
        generate("v9", director_uuid=UUID, out=tmp_path / "out")
    assert err.value.problems == ["unknown version set 'v9' (built-in sets: v0, v_prime; or give a YAML file)"]
    assert not (tmp_path / "out").exists()


def test_release_missing_from_version_file_lists_each(tmp_path: Path):
    versions = tmp_path / "versions.yml"
    versions.write_text(yaml.safe_dump({"cf": "220", "etcd": "latest"}))
    with pytest.raises(GenerationError) as err:
        build_all(versions, director_uuid=UUID)
    text = str(err.value)
    assert "release diego is missing" in text and "release garden-linux is missing" in text
    assert "release etcd must be pinned, not 'latest'" in text


def test_unreadable_stubs_are_all_reported(tmp_path: Path):
    broken = tmp_path / "broken.yml"
    broken.write_text("a: [1, 2\n")
    missing = tmp_path / "missing.yml"
    with pytest.raises(GenerationError) as err:
        build_all("v0", director_uuid=UUID, stubs=[broken, missing])
    problems = err.value.problems
    assert len(problems) == 2
    assert problems[0].startswith(f"cannot read stub {broken}")
    assert problems[1].startswith(f"cannot read stub {missing}")


def test_unresolved_node_names_expression_and_file(tmp_path: Path):
    stub = tmp_path / "stub.yml"
    stub.write_text("properties:\n  cc:\n    external_host: (( nowhere.to.be.found ))\n")
    with pytest.raises(GenerationError) as err:
        build_all("v0", director_uuid=UUID, stubs=[stub])
    text = str(err.value)
    assert text.startswith("cf.yml: unresolved nodes:")
    assert "(( nowhere.to.be.found ))" in text and str(stub) in text


def test_several_problems_at_once(tmp_path: Path):
    with pytest.raises(GenerationError) as err:
        build_all("nope", director_uuid=None, stubs=[tmp_path / "absent.yml"], target="mars")
    text = str(err.value)
    for expected in ("unknown version set 'nope'", "unknown target 'mars'", "no director UUID",
                     "cannot read stub"):
        assert expected in text


def test_failure_leaves_existing_output_untouched(tmp_path: Path):
    out = tmp_path / "out"
    generate("v0", director_uuid=UUID, out=out)
    before = {p.name: p.read_text() for p in out.iterdir()}
    with pytest.raises(GenerationError):
        generate("v_prime", director_uuid=UUID, out=out, stubs=[tmp_path / "absent.yml"])
    assert {p.name: p.read_text() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp dirs left


def test_refuses_to_replace_a_foreign_directory(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(GenerationError) as err:
        generate("v0", director_uuid=UUID, out=out)
    assert "refusing to replace it" in str(err.value)
    assert (out / "notes.txt").read_text() == "mine" and not (out / "cf.yml").exists()


def test_atomic_write_failure_mid_way_leaves_nothing(tmp_path: Path):
    out = tmp_path / "out"
    with pytest.raises(OSError):
        output.write_atomically(out, {"cf.yml": "a: 1\n", "sub/dir.yml": "b: 2\n"})
    assert list(tmp_path.iterdir()) == []


def test_cli_unknown_set_exit_1_no_output(tmp_path: Path):
    result = _cli("--versions", "v9", "--director-uuid", UUID, "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "unknown version set 'v9'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_unreachable_director(tmp_path: Path):
    result = _cli("--versions", "v0", "--director-url", "https://192.168.50.4:25555",
                  "--resolve", "192.168.50.4:25555=127.0.0.1:9", "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "cannot read the director UUID from https://192.168.50.4:25555" in result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_secrets_refused_in_checkout_mode(tmp_path: Path):
    result = _cli("--cf-release", str(tmp_path), "--diego-release", str(tmp_path), "--secrets",
                  str(tmp_path / "s.yml"), "--director-uuid", UUID, "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "--secrets applies to the built-in templates only" in result.stderr
    assert not (tmp_path / "s.yml").exists() and not (tmp_path / "out").exists()
