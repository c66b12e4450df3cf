"""Wall time of the spiff merges the release scripts run, one process per merge.

    python benchmarks/bench_spiff.py [--runs N] [--cmd "python -m manifests.spiff"]

Pipelines (shared/conformance/releases/README.md, redis-2015/README.md):
  V0       cf-release v220 cf.yml (9 files), then diego v0.1434.0's 3-merge chain
  V-prime  cf-release v231 BOSH-Lite dev cf.yml (10 files), then diego v0.1454.0's chain
  redis    the 2015 redis-boshrelease merge (4 files)
Each merge runs as its own process (`CMD merge ...`), writing its stdout to a
file the next merge reads, like the upstream scripts. Prints the median of
--runs runs per merge and per pipeline. `--cmd` lets you time another
implementation (for example a Go `spiff` binary) on the same inputs.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
REL = SHARED / "conformance" / "releases"
REDIS = SHARED / "conformance" / "redis-2015"
DIRECTOR = "director_uuid: 11111111-2222-3333-4444-555555555555\n"

Merge = tuple[str, list[str], Path, str | None]  # label, files, cwd, output name


def v0_pipeline(tmp: Path) -> list[Merge]:
    cf = REL / "cf-release-v220" / "templates"
    dr = REL / "diego-release-v0.1434.0"
    dg = dr / "manifest-generation"
    bl = dg / "bosh-lite-stubs"
    d = str(tmp / "director.yml")
    return [
        ("v0 cf.yml", [*(str(cf / f) for f in ("cf-deployment.yml", "cf-resource-pools.yml", "cf-jobs.yml",
                                                "cf-lamb.yml", "cf-properties.yml",
                                                "cf-infrastructure-warden.yml")),
                       d, str(dr / "stubs-for-cf-release" / "enable_consul_with_cf.yml"),
                       str(dr / "stubs-for-cf-release" / "enable_diego_ssh_in_cf.yml")], tmp, "v0-cf.yml"),
        ("v0 config-from-cf", [str(dg / "config-from-cf.yml"), str(dg / "config-from-cf-internal.yml"),
                               "v0-cf.yml"], tmp, "v0-config.yml"),
        ("v0 intermediate", [str(dg / "diego.yml"), str(bl / "property-overrides.yml"),
                             str(bl / "instance-count-overrides.yml"), str(bl / "persistent-disk-overrides.yml"),
                             str(bl / "iaas-settings.yml"), str(bl / "additional-jobs.yml"), "v0-config.yml"],
         tmp, "v0-intermediate.yml"),
        ("v0 diego.yml", [str(dg / "misc-templates" / "bosh.yml"), d, "v0-intermediate.yml"], tmp, "v0-diego.yml"),
    ]


def v_prime_pipeline(tmp: Path) -> list[Merge]:
    cr = REL / "cf-release-v231"
    cf = cr / "templates"
    dg = REL / "diego-release-v0.1454.0" / "manifest-generation"
    bl = dg / "bosh-lite-stubs"
    st = cr / "bosh-lite" / "stubs"
    return [
        ("v' cf.yml", [*(str(cf / f) for f in ("cf-deployment.yml", "cf-resource-pools.yml", "cf-jobs.yml",
                                                "cf-properties.yml", "cf-infrastructure-warden.yml")),
                       str(st / "dev-security-groups.yml"), str(st / "property_overrides.yml"),
                       str(tmp / "director.yml"), str(cf / "cf-minimal-dev.yml"), str(st / "enable-diego-ssh.yml")],
         tmp, "vp-cf.yml"),
        ("v' config-from-cf", [str(dg / "config-from-cf.yml"), str(dg / "config-from-cf-internal.yml"),
                               "vp-cf.yml"], tmp, "vp-config.yml"),
        ("v' intermediate", [str(dg / "diego.yml"), str(bl / "property-overrides.yml"),
                             str(bl / "instance-count-overrides.yml"), str(bl / "iaas-settings.yml"),
                             str(bl / "release-versions.yml"), "vp-config.yml"], tmp, "vp-intermediate.yml"),
        ("v' diego.yml", [str(dg / "misc-templates" / "bosh.yml"), "vp-intermediate.yml"], tmp, "vp-diego.yml"),
    ]


def redis_pipeline(tmp: Path) -> list[Merge]:
    files = ["deployment.yml", "jobs.yml", "infrastructure-warden.yml", "stub-with-uuid.yml"]
    return [("redis", files, REDIS, None)]


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_merge(cmd: list[str], m: Merge, tmp: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) for one merge process."""
    label, files, cwd, out = m
    cpu0 = _child_cpu()
    start = time.perf_counter()
    p = subprocess.run([*cmd, "merge", *files], cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    cpu = _child_cpu() - cpu0
    if p.returncode != 0:
        sys.exit(f"{label}: exit {p.returncode}\n{p.stderr[-2000:]}")
    if out is not None:
        (tmp / out).write_text(p.stdout)
    return elapsed, cpu


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cmd", default=f"{shlex.quote(sys.executable)} -m manifests.spiff")
    ap.add_argument("--no-compile", action="store_true",
                    help="do not byte-compile manifests/spiff first (measures a cold, source-only start)")
    args = ap.parse_args(argv)
    if not args.no_compile:
        # As installed: with PYTHONDONTWRITEBYTECODE (set in some sandboxes) every process
        # would otherwise recompile the engine from source (~10 ms). __pycache__ is ignored by git.
        compileall.compile_dir(str(REPO_ROOT / "manifests" / "spiff"), quiet=1)
        compileall.compile_file(str(REPO_ROOT / "manifests" / "__init__.py"), quiet=1)
    cmd = shlex.split(args.cmd)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")

    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        (tmp / "director.yml").write_text(DIRECTOR)
        pipelines = {"V0": v0_pipeline(tmp), "V-prime": v_prime_pipeline(tmp), "redis": redis_pipeline(tmp)}
        times: dict[str, list[float]] = {m[0]: [] for ms in pipelines.values() for m in ms}
        cpus: dict[str, list[float]] = {m[0]: [] for ms in pipelines.values() for m in ms}
        floor: list[float] = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            floor.append(time.perf_counter() - start)
            for ms in pipelines.values():
                for m in ms:
                    wall, cpu = run_merge(cmd, m, tmp, env)
                    times[m[0]].append(wall)
                    cpus[m[0]].append(cpu)

    med = statistics.median
    print(f"command: {args.cmd}   runs: {args.runs}")
    print(f"  {'merge':<22} {'wall med':>8} {'wall min':>8} {'cpu med':>8}   (seconds)")
    grand = [0.0, 0.0, 0.0]
    for name, ms in pipelines.items():
        tot = [0.0, 0.0, 0.0]
        for m in ms:
            row = [med(times[m[0]]), min(times[m[0]]), med(cpus[m[0]])]
            tot = [a + b for a, b in zip(tot, row, strict=True)]
            print(f"  {m[0]:<22} {row[0]:8.3f} {row[1]:8.3f} {row[2]:8.3f}")
        grand = [a + b for a, b in zip(grand, tot, strict=True)]
        print(f"{name + f' ({len(ms)} merges)':<24} {tot[0]:8.3f} {tot[1]:8.3f} {tot[2]:8.3f}")
    five = [sum(f(times[m[0]]) for m in pipelines["V0"] + pipelines["redis"]) for f in (med, min)]
    print(f"{'V0 + redis (5 merges)':<24} {five[0]:8.3f} {five[1]:8.3f}")
    n = sum(len(ms) for ms in pipelines.values())
    print(f"{f'all ({n} merges)':<24} {grand[0]:8.3f} {grand[1]:8.3f} {grand[2]:8.3f}")
    print(f"interpreter start-up floor (`python -c pass`): median {med(floor):.3f} s, min {min(floor):.3f} s")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
