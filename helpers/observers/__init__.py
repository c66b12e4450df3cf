"""Continuous measurements of what a user feels during each step of the upgrade.

`REGISTRY` lists every observer, in the order they are set up and reported. Adding a
measurement is one module (a subclass of `Observer`) and one line here; the suite
generates `test_<name>_during_<step>` for each registered observer and every story step,
and the report, the terminal summary and the timeline get a row for it
(docs/observers.md).
"""

from __future__ import annotations

from helpers.observers.a0_routable import A0Routable
from helpers.observers.base import Observer, ObserverContext
from helpers.observers.judge import StepMeasurement
from helpers.observers.log_stream import A0LogStream
from helpers.observers.policy import DEFAULT_POLICIES, Policies, StepPolicy
from helpers.observers.push import PushAbility
from helpers.observers.recent_logs import A0RecentLogs
from helpers.observers.registry import Registry
from helpers.observers.ssh import A0Ssh

REGISTRY = Registry([A0Routable, PushAbility, A0RecentLogs, A0LogStream, A0Ssh])

__all__ = ["DEFAULT_POLICIES", "REGISTRY", "Observer", "ObserverContext", "Policies", "Registry",
           "StepMeasurement", "StepPolicy"]
