"""Reading what is deployed: properties of running CF instances, in either release era.

Credentials and settings come from the manifests (architecture §3, "Credentials and
properties come from what is deployed"); these helpers dig them out of instance properties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.world import dig

__all__ = ["User", "dig", "parse_scim_users"]


@dataclass(frozen=True)
class User:
    name: str
    password: str
    groups: tuple[str, ...] = field(default_factory=tuple)


def _split_groups(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(g.strip() for g in value.split(",") if g.strip())
    if isinstance(value, list | tuple):
        return tuple(str(g).strip() for g in value if str(g).strip())
    return ()


def parse_scim_users(value: Any) -> list[User]:
    """`uaa.scim.users`: v220 strings "user|password|g1,g2" or v231 maps {name, password, groups}."""
    users: list[User] = []
    for entry in value or []:
        if isinstance(entry, str):
            parts = entry.split("|")
            if len(parts) < 2 or not parts[0]:
                continue
            users.append(User(parts[0], parts[1], _split_groups(parts[2] if len(parts) > 2 else "")))
        elif isinstance(entry, dict) and entry.get("name"):
            users.append(User(str(entry["name"]), str(entry.get("password", "")),
                              _split_groups(entry.get("groups", []))))
    return users


def parse_app_domains(value: Any) -> list[str]:
    """`app_domains`: a list of names (or maps with `name`), or one name."""
    if isinstance(value, str):
        return [value]
    names: list[str] = []
    for entry in value or []:
        if isinstance(entry, str):
            names.append(entry)
        elif isinstance(entry, dict) and entry.get("name"):
            names.append(str(entry["name"]))
    return names
