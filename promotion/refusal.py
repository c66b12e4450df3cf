"""A gate's "no", in one shape for every rule: which rule, why, and what would satisfy it.

Every refusal prints as `refused by rule '<rule>': <why>; to satisfy it: <what>` and makes
the command exit 3, so a pipeline log alone tells an engineer what to do next.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    rule: str
    reason: str
    remedy: str

    def __str__(self) -> str:
        return f"refused by rule '{self.rule}': {self.reason}; to satisfy it: {self.remedy}"


class GateRefused(Exception):
    def __init__(self, refusals: list[Refusal]) -> None:
        self.refusals = refusals
        super().__init__("\n".join(str(r) for r in refusals))

    @property
    def rules(self) -> list[str]:
        return [r.rule for r in self.refusals]
