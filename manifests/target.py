"""Target descriptions (manifests/stubs/<name>.yml): the `target` values handed to the
templates, and the compact network layout expanded into full BOSH `networks` lists.

Kept apart from the merging so a target is just data: a new IaaS or a different address
plan is a new YAML file, not code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

STUBS = Path(__file__).resolve().parent / "stubs"
DIEGO_PIECES = ("database", "brain-and-pals", "cell1", "cell2")


class TargetError(Exception):
    """A target that cannot be used; `problems` lists every reason."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Target:
    """A target description (manifests/stubs/<name>.yml): `target` values and networks."""

    name: str
    values: dict[str, Any]
    cf_networks: dict[str, str]
    diego_networks: dict[str, dict[str, str]]


def load_target(name_or_path: str | Path) -> Target:
    text = str(name_or_path)
    path = Path(text) if ("/" in text or text.endswith((".yml", ".yaml"))) else STUBS / f"{text}.yml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in STUBS.glob("*.yml")))
        raise TargetError([f"unknown target {text!r} (built-in targets: {known}; or give a YAML file)"])
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise TargetError([f"cannot read target {path}: {exc}"])
    problems = [f"target {path}: missing {key}" for key in ("target", "cf_networks", "diego_networks")
                if not isinstance(data.get(key), dict)]
    missing = [p for p in DIEGO_PIECES if p not in (data.get("diego_networks") or {})]
    if missing:
        problems.append(f"target {path}: diego_networks lacks {', '.join(missing)}")
    if problems:
        raise TargetError(problems)
    return Target(path.stem, dict(data["target"]), dict(data["cf_networks"]), dict(data["diego_networks"]))


def subnets(prefix: str, count: int, static_count: int) -> list[dict[str, Any]]:
    """`count` /30 subnets of `prefix`.0/24: `.1` of each reserved as the gateway, the `.2`
    of the first `static_count` static, the rest dynamic (every subnet has a `static` key,
    which spiff's static_ips needs)."""
    out = []
    for i in range(count):
        base = 4 * i
        out.append({
            "range": f"{prefix}.{base}/30",
            "gateway": f"{prefix}.{base + 1}",
            "reserved": [f"{prefix}.{base + 1}"],
            "static": [f"{prefix}.{base + 2}"] if i < static_count else [],
            "cloud_properties": {},
        })
    return out


def cf_networks(target: Target) -> list[dict[str, Any]]:
    return [{"name": name, "type": "manual", "subnets": subnets(prefix, 64, 32)}
            for name, prefix in target.cf_networks.items()]


def diego_networks(target: Target, piece: str) -> list[dict[str, Any]]:
    return [{"name": name, "type": "manual", "subnets": subnets(prefix, 31, 21)}
            for name, prefix in target.diego_networks[piece].items()]
