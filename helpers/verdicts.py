"""Verdicts: what every check and measurement returns, and the failure that carries one.

A verdict is data (ok, which check, which step, which app or deployment, a message that says
what was expected and what was seen, details for the report). Checks, measurements and the
preflight all speak it, so the run record, report.json, the terminal and pytest's failure
text are built from the same object. Nothing here imports pytest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Verdict:
    ok: bool
    check: str  # e.g. "smoke: routable", "A0 routable"
    step: str
    app: str  # the app, deployment or director the verdict is about
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        mark = "ok" if self.ok else "FAILED"
        return f"[{self.step}] {self.check} {mark}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "check": self.check, "step": self.step, "app": self.app,
                "message": self.message, "details": self.details}


class CheckFailed(AssertionError):
    """A check's verdict was negative; `str()` is the verdict's story."""

    def __init__(self, verdict: Verdict, history: list[Verdict] | None = None) -> None:
        super().__init__(str(verdict))
        self.verdict = verdict
        self.history = list(history or [])


def verdict(ok: bool, check: str, step: str, app: str, message: str, **details: Any) -> Verdict:
    return Verdict(ok, check, step, app, message, details)


def require(v: Verdict, history: list[Verdict] | None = None) -> Verdict:
    """Return a passing verdict; raise CheckFailed with a failing one."""
    if not v.ok:
        raise CheckFailed(v, history)
    return v


@dataclass
class Budget:
    """A deadline with a poll period; `sleep()` returns False once the time is up."""

    seconds: float
    period: float = 0.2
    clock: Callable[[], float] = time.monotonic
    sleeper: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self.deadline = self.clock() + self.seconds

    @property
    def expired(self) -> bool:
        return self.clock() >= self.deadline

    def sleep(self) -> bool:
        if self.expired:
            return False
        self.sleeper(min(self.period, max(self.deadline - self.clock(), 0)))
        return True


def wait_for(fn: Callable[[], Verdict], budget: Budget) -> tuple[Verdict, list[Verdict]]:
    """Re-evaluate `fn` until it passes or the budget ends; returns the last verdict and all."""
    history: list[Verdict] = []
    while True:
        try:
            v = fn()
        except CheckFailed as exc:
            v = exc.verdict
        history.append(v)
        if v.ok or not budget.sleep():
            return v, history
