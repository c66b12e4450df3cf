"""What a measurement demands of each step: enforce its outages, or only record them.

The stories say it for A0's routability, and it holds for every measurement: during Diego
steps a user-visible capability must not break (enforced); during the CF step HAProxy, the
gorouter, the Cloud Controller and Loggregator are replaced, so outages are recorded, not
failed; setup phases (deploy V0, the checks between steps) are recorded for the timeline
only. Each measurement has its own policy, overridable in the config per step title or per
kind: `observers.<name>.policy."upgrade CF": {enforce: true, max_outage: 5}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StepPolicy:
    """`enforce`: outage windows overlapping the step fail it. `max_outage`: seconds one window
    may last before it counts; 0 means any failed sample counts."""

    enforce: bool = True
    max_outage: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"enforce": self.enforce, "max_outage": self.max_outage}

    def describe(self) -> str:
        if not self.enforce:
            return "recorded"
        return "enforced" + (f" (windows up to {self.max_outage:g}s tolerated)" if self.max_outage > 0 else "")


DEFAULT_POLICIES: dict[str, StepPolicy] = {
    "diego": StepPolicy(enforce=True, max_outage=0.0),
    "cf": StepPolicy(enforce=False, max_outage=0.0),
    "setup": StepPolicy(enforce=False, max_outage=0.0),
}


RECORDED = StepPolicy(enforce=False)


class Policies:
    """The config's overrides (per step title, then per kind) first; then the measurement's own
    defaults per step title (what the deployment's topology cannot keep up); then per kind."""

    def __init__(self, overrides: Mapping[str, StepPolicy] | None = None,
                 steps: Mapping[str, StepPolicy] | None = None,
                 defaults: Mapping[str, StepPolicy] = DEFAULT_POLICIES) -> None:
        self.overrides = dict(overrides or {})
        self.steps = dict(steps or {})
        self.defaults = dict(defaults)

    @classmethod
    def from_config(cls, raw: Mapping[str, Any] | None, steps: Mapping[str, StepPolicy] | None = None) -> Policies:
        """From the config's `policy` mapping (step title or kind -> {enforce, max_outage})."""
        out: dict[str, StepPolicy] = {}
        for name, spec in (raw or {}).items():
            spec = dict(spec or {})
            out[str(name)] = StepPolicy(enforce=bool(spec.get("enforce", True)),
                                        max_outage=float(spec.get("max_outage", 0.0) or 0.0))
        return cls(out, steps)

    def for_step(self, title: str, kind: str) -> StepPolicy:
        for layer, key in ((self.overrides, title), (self.overrides, kind), (self.steps, title)):
            if key in layer:
                return layer[key]
        return self.defaults.get(kind, DEFAULT_POLICIES["setup"])

    def to_json(self) -> dict[str, Any]:
        return {"defaults": {k: p.to_json() for k, p in self.defaults.items()},
                "steps": {k: p.to_json() for k, p in self.steps.items()},
                "overrides": {k: p.to_json() for k, p in self.overrides.items()}}
