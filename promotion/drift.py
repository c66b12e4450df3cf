"""Production as the source of truth: its recorded state, drift from it, and staging's reset.

The ledger records, for each environment, the digest of the manifest it deployed there
(`manifest_digest`: the manifest's public view, see parity.public_view, so passwords are
neither stored nor compared). Production's *state* is its last successful deploy, or the
drift someone adopted since (`adopt` record, which also keeps the adopted public manifest).

Before a promotion the tool compares what the director runs as production with that state.
If they differ, someone changed production outside the pipeline: the promotion is refused
(rule `production-drift`) with the difference, and a human decides: adopt it (a recorded
decision: production's state becomes what it runs) or restore production to its recorded
state. It is never reverted silently.

Staging's reset is production's state carried into staging: the staging manifest of
production's candidate, plus every adopted difference outside the per-environment paths
(the policy's allowed_diff_paths), with addresses moved into staging's subnets. So with
three followers adopted in production, staging is reset to three followers, and the change
staging then gets from the candidate is the change production will get.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from promotion.ledger import COMPLETIONS, Record
from promotion.parity import Difference, apply, diff, public_view, violations


def manifest_digest(manifest: dict[str, Any]) -> str:
    """sha256 of a manifest's public view in canonical JSON: equal for equal settings,
    whatever the YAML formatting, key order or password."""
    canonical = json.dumps(public_view(manifest), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class EnvState:
    """What the ledger says an environment runs."""

    candidate: str
    manifest_digest: str | None
    seq: int  # the record that set it
    adopted: dict[str, Any] | None = None  # the public manifest, when drift was adopted

    def describe(self) -> str:
        how = f"with drift adopted at #{self.seq}" if self.adopted is not None else f"deployed at #{self.seq}"
        return f"candidate {self.candidate[:12]} {how}"


def state_of(records: list[Record], env: str) -> EnvState | None:
    state: EnvState | None = None
    for r in records:
        if r.env != env:
            continue
        if r.kind in COMPLETIONS and r.passed:
            state = None if r.kind == "delete" else EnvState(r.candidate, r.manifest_digest, r.seq)
        elif r.kind == "adopt" and state is not None:
            state = EnvState(state.candidate, r.manifest_digest, r.seq, r.extra.get("manifest"))
    return state


def drifted(state: EnvState, actual: dict[str, Any] | None) -> bool:
    return actual is None or manifest_digest(actual) != state.manifest_digest


def expected_public(state: EnvState, rendered: dict[str, Any]) -> dict[str, Any]:
    """The public manifest the state stands for: the adopted one, else the candidate's render."""
    return state.adopted if state.adopted is not None else public_view(rendered)


def drift_lines(expected: dict[str, Any], actual: dict[str, Any] | None, limit: int = 12) -> list[str]:
    if actual is None:
        return ["the deployment is not on the director"]
    diffs = diff(expected, public_view(actual))
    lines = [d.render("recorded", "running") for d in diffs[:limit]]
    if len(diffs) > limit:
        lines.append(f"(and {len(diffs) - limit} more)")
    return lines or ["(the manifests differ only in formatting the digest does not ignore)"]


def adopted_changes(state: EnvState, production_render: dict[str, Any],
                    allowed: tuple[str, ...] | list[str]) -> list[Difference]:
    """The adopted drift, as differences from the candidate's production manifest, outside
    the per-environment paths (what staging's reset must carry)."""
    if state.adopted is None:
        return []
    return violations(diff(public_view(production_render), state.adopted), allowed)


def reset_manifest(staging_render: dict[str, Any], changes: list[Difference]) -> dict[str, Any]:
    """Staging's reset manifest: the candidate's staging manifest with production's adopted
    changes applied (addresses resolved in staging's own subnets)."""
    return apply(staging_render, changes)
