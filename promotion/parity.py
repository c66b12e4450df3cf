"""Parity between two manifests: what differs, and whether only per-environment paths do.

After a production deploy, production runs the manifest staging ran, except for what is
inherently per-environment (name, director uuid, networks, hostnames). The differences are
computed structurally: maps key by key, lists of named maps by `name` (as BOSH and spiff
address them), other lists by index. Secrets (any key the project's redactor
treats as a credential: helpers.redaction.secret_key) differ between environments by
design; they are never compared, shown or stored.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from helpers.redaction import secret_key

DEFAULT_ALLOWED = (
    "name", "director_uuid", "networks", "jobs.*.networks", "properties.redis.hostname",
    "jobs.*.properties.redis.hostname",
)
_MISSING = object()


def _subnets(manifest: Any) -> list[tuple[str, ipaddress.IPv4Network]]:
    subnets: list[tuple[str, ipaddress.IPv4Network]] = []
    for net in (manifest.get("networks") if isinstance(manifest, dict) else None) or []:
        if not isinstance(net, dict):
            continue
        for i, sub in enumerate(net.get("subnets") or []):
            try:
                subnets.append((f"{net.get('name')}/{i}", ipaddress.IPv4Network(str(sub.get("range")), strict=False)))
            except (ValueError, AttributeError):
                continue
    return subnets


def normalize(manifest: Any) -> Any:
    """What parity compares: the manifest without spiff's `meta` helper section (BOSH ignores
    it), and with every address inside one of the manifest's own subnets written relative to
    that subnet (`<redis1/0+2>`). Each environment has its own address range, so
    `redis.master: 10.244.44.2` in staging and `10.244.48.2` in production are the same
    setting when both are the second address of the first subnet of `redis1`; a leader that
    moved to another offset still shows up as a difference."""
    if not isinstance(manifest, dict):
        return manifest
    subnets = _subnets(manifest)

    def addr(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: addr(v) for k, v in value.items()}
        if isinstance(value, list):
            return [addr(v) for v in value]
        if isinstance(value, str):
            try:
                ip = ipaddress.IPv4Address(value)
            except ValueError:
                return value
            for label, net in subnets:
                if ip in net:
                    return f"<{label}+{int(ip) - int(net.network_address)}>"
        return value

    return {k: addr(v) for k, v in manifest.items() if k != "meta"}


@dataclass(frozen=True)
class Difference:
    path: tuple[str, ...]
    left: Any
    right: Any

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    def render(self, left_name: str, right_name: str) -> str:
        def show(v: Any) -> str:
            return "(absent)" if v is _MISSING else repr(v)

        return f"{self.dotted}: {left_name}={show(self.left)} {right_name}={show(self.right)}"


def strip_secrets(value: Any) -> Any:
    """`value` without any key that holds a secret (what may be stored or shown)."""
    if isinstance(value, dict):
        return {k: strip_secrets(v) for k, v in value.items() if not secret_key(k)}
    if isinstance(value, list):
        return [strip_secrets(v) for v in value]
    return value


def public_view(manifest: Any) -> Any:
    """What the tool compares, digests and stores of a manifest: normalized, no secrets."""
    return strip_secrets(normalize(manifest))


_RELATIVE = re.compile(r"<([^<>+]+)\+(\d+)>")


def denormalize(value: Any, manifest: dict[str, Any]) -> Any:
    """The inverse of `normalize` against another manifest's subnets: `<redis1/0+5>` becomes
    the fifth address of that manifest's first `redis1` subnet (how a difference seen in one
    environment is carried into another)."""
    subnets = dict(_subnets(manifest))
    if isinstance(value, dict):
        return {k: denormalize(v, manifest) for k, v in value.items()}
    if isinstance(value, list):
        return [denormalize(v, manifest) for v in value]
    if isinstance(value, str):
        m = _RELATIVE.fullmatch(value)
        if m and m.group(1) in subnets:
            return str(subnets[m.group(1)].network_address + int(m.group(2)))
    return value


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items)


def diff(left: Any, right: Any, path: tuple[str, ...] = ()) -> list[Difference]:
    if isinstance(left, dict) and isinstance(right, dict):
        out: list[Difference] = []
        for k in sorted(set(left) | set(right), key=str):
            if secret_key(k):
                continue
            out += diff(left.get(k, _MISSING), right.get(k, _MISSING), (*path, str(k)))
        return out
    if isinstance(left, list) and isinstance(right, list):
        if _named(left) and _named(right):
            lmap = {i["name"]: i for i in left}
            rmap = {i["name"]: i for i in right}
            names = [i["name"] for i in left] + [i["name"] for i in right if i["name"] not in lmap]
            out = []
            for n in names:
                out += diff(lmap.get(n, _MISSING), rmap.get(n, _MISSING), (*path, n))
            return out
        if len(left) == len(right):
            out = []
            for i, (a, b) in enumerate(zip(left, right, strict=True)):
                out += diff(a, b, (*path, f"[{i}]"))
            return out
    if left == right:
        return []
    return [Difference(path, left, right)]


def pattern_matches(pattern: str, path: tuple[str, ...]) -> bool:
    """A pattern is a dotted path from the manifest's root; `*` is any one step and `**` any
    number of steps (none included). It allows a difference at that path and below it.

    Anchored on purpose: `name` allows the deployment's name, not every key called `name`
    (a stemcell's or a release's name must not slip through), and `networks` allows the
    top-level networks only. Job-level settings are written `jobs.*.networks`; a hostname
    wherever it is set, `**.hostname`."""
    return _match(tuple(pattern.split(".")), path)


def _match(steps: tuple[str, ...], path: tuple[str, ...]) -> bool:
    if not steps:
        return True  # the pattern is a prefix: everything below it is allowed
    if steps[0] == "**":
        return any(_match(steps[1:], path[i:]) for i in range(len(path) + 1))
    if not path or (steps[0] != "*" and steps[0] != path[0]):
        return False
    return _match(steps[1:], path[1:])


def apply(manifest: dict[str, Any], diffs: list[Difference]) -> dict[str, Any]:
    """A copy of `manifest` with each difference's right-hand value set at its path (named
    list items by name, `[i]` by index; an absent right-hand side removes the entry), with
    relative addresses resolved against `manifest`'s own subnets."""
    out = copy.deepcopy(manifest)
    for d in diffs:
        _set(out, d.path, d.right if d.right is _MISSING else denormalize(d.right, manifest))
    return out


def _set(node: Any, path: tuple[str, ...], value: Any) -> None:
    step, rest = path[0], path[1:]
    if isinstance(node, dict):
        if not rest:
            if value is _MISSING:
                node.pop(step, None)
            else:
                node[step] = value
            return
        _set(node.setdefault(step, {}), rest, value)
        return
    if isinstance(node, list):
        if step.startswith("[") and step.endswith("]"):
            index = int(step[1:-1])
        else:
            index = next((i for i, item in enumerate(node) if isinstance(item, dict) and item.get("name") == step), -1)
            if index < 0:
                if value is not _MISSING and not rest:
                    node.append(value)
                return
        if not rest:
            if value is _MISSING:
                del node[index]
            else:
                node[index] = value
            return
        _set(node[index], rest, value)
        return
    raise ValueError(f"cannot set {'.'.join(path)}: not a map or a list")


def violations(diffs: list[Difference], allowed: tuple[str, ...] | list[str]) -> list[Difference]:
    return [d for d in diffs if not any(pattern_matches(p, d.path) for p in allowed)]
