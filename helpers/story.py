"""The upgrade-from-stable story, as data: one vocabulary, one order, one set of expectations.

The stories (`shared/seeds/upgrade-from-stable-stories.txt`) name five deployments, CF and
D1..D4, and an order: deploy V0; upgrade D1; upgrade D3, then stop D4; upgrade D2, then
start D4 and stop D3; upgrade CF; start D3, then upgrade D4. After each step the smoke app
must land on the cells of the intended Diego version. Everything that runs or judges the
upgrade reads this module: the driver takes the operations from it, the suite generates
its tests from it (so the order that runs *is* `STORY`), the placement check takes the
cells and versions from it. Nothing else spells a deployment differently: manifest file
names (`cell1.yml`, ...) are a detail of the manifests layer, mapped there in one place.

Nothing here talks to a platform; `validate` checks the story's own invariants.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

CF, D1, D2, D3, D4 = "CF", "D1", "D2", "D3", "D4"
DEPLOYMENTS = (CF, D1, D2, D3, D4)
CELLS = (D3, D4)
ROLES = {CF: "Cloud Foundry", D1: "database", D2: "brain and pals", D3: "cell bank 1", D4: "cell bank 2"}

V0, V_PRIME = "V0", "V-prime"
VERSIONS = (V0, V_PRIME)

KINDS = ("setup", "diego", "cf")  # setup: not an upgrade; diego/cf: what the policies key on


@dataclass(frozen=True)
class Op:
    """One BOSH operation on one deployment: deploy at a version, stop, or start."""

    action: str  # deploy | stop | start
    deployment: str  # CF | D1 | D2 | D3 | D4
    version: str | None = None  # deploy only: V0 | V-prime

    def __post_init__(self) -> None:
        if self.action not in ("deploy", "stop", "start"):
            raise ValueError(f"unknown operation {self.action!r}")
        if self.deployment not in DEPLOYMENTS:
            raise ValueError(f"unknown deployment {self.deployment!r} (one of {', '.join(DEPLOYMENTS)})")
        if (self.action == "deploy") != (self.version in VERSIONS):
            raise ValueError(f"{self.action} {self.deployment}: a deploy names V0 or V-prime, nothing else does")

    @property
    def label(self) -> str:
        """`deploy D3 at V-prime`, `stop D4`: how reports and failures name the operation."""
        if self.action == "deploy":
            return f"deploy {self.deployment} at {self.version}"
        return f"{self.action} {self.deployment}"


@dataclass(frozen=True)
class Step:
    """One step of the story: its BOSH operations, then what must hold afterwards."""

    id: str  # short key: v0, d1, d3, d2, cf, d4 (JUnit properties, run state)
    title: str  # "upgrade D3": reports, test names, config policy keys
    kind: str  # setup | diego | cf
    ops: tuple[Op, ...]
    smoke_cells: tuple[str, ...]  # the cells the smoke app may land on afterwards
    cell_versions: Mapping[str, str] = field(default_factory=dict)  # cell -> V0 | V-prime expected

    @property
    def slug(self) -> str:
        """`upgrade_d3`: the step as a Python identifier (test names)."""
        return "".join(c if c.isalnum() else "_" for c in self.title.lower()).strip("_")

    @property
    def class_name(self) -> str:
        """`TestUpgradeD3`: the test class that holds the step's tests."""
        words = "".join(c if c.isalnum() else " " for c in self.title).split()
        return "Test" + "".join(w[:1].upper() + w[1:] for w in words)

    @property
    def ops_sentence(self) -> str:
        """`upgrade D2 then start D4 and stop D3`: the operations as the story says them."""
        if all(op.action == "deploy" and op.version == V0 for op in self.ops):
            return "deploy " + ", ".join(op.deployment for op in self.ops) + " at V0"
        words = [f"upgrade {op.deployment}" if op.action == "deploy" and op.version == V_PRIME else op.label
                 for op in self.ops]
        if len(words) <= 2:
            return " then ".join(words)
        return f"{words[0]} then {', '.join(words[1:-1])} and {words[-1]}"

    @property
    def smoke_sentence(self) -> str:
        """`on D3 only at V-prime`, `on either cell at V0`: where the smoke app must land."""
        where = "either cell" if set(self.smoke_cells) == set(CELLS) else f"{' or '.join(self.smoke_cells)} only"
        versions = {self.cell_versions.get(c) for c in self.smoke_cells}
        at = f" at {versions.pop()}" if len(versions) == 1 and None not in versions else ""
        return f"on {where}{at}"


DEPLOY_V0 = Step("v0", "deploy V0", "setup", tuple(Op("deploy", d, V0) for d in DEPLOYMENTS),
                 CELLS, {D3: V0, D4: V0})
UPGRADE_D1 = Step("d1", "upgrade D1", "diego", (Op("deploy", D1, V_PRIME),), CELLS, {D3: V0, D4: V0})
UPGRADE_D3 = Step("d3", "upgrade D3", "diego", (Op("deploy", D3, V_PRIME), Op("stop", D4)), (D3,), {D3: V_PRIME})
UPGRADE_D2 = Step("d2", "upgrade D2", "diego", (Op("deploy", D2, V_PRIME), Op("start", D4), Op("stop", D3)),
                  (D4,), {D4: V0})
UPGRADE_CF = Step("cf", "upgrade CF", "cf", (Op("deploy", CF, V_PRIME),), (D4,), {D4: V0})
UPGRADE_D4 = Step("d4", "upgrade D4", "diego", (Op("start", D3), Op("deploy", D4, V_PRIME)), CELLS,
                  {D3: V_PRIME, D4: V_PRIME})

STORY: tuple[Step, ...] = (DEPLOY_V0, UPGRADE_D1, UPGRADE_D3, UPGRADE_D2, UPGRADE_CF, UPGRADE_D4)
UPGRADES: tuple[Step, ...] = STORY[1:]


def step(key: str) -> Step:
    """The story step with this id (`d3`) or title (`upgrade D3`)."""
    found = next((s for s in STORY if key in (s.id, s.title)), None)
    if found is None:
        raise KeyError(f"no story step {key!r}; steps: {', '.join(s.title for s in STORY)}")
    return found


def validate(steps: Iterable[Step] = STORY) -> list[str]:
    """The invariants the stories rely on, replayed over the steps: at every point a cell
    runs (a cell stops only while the other runs); the smoke cells after each step are
    exactly the running cells, at the versions the step claims; every deployment ends at
    V-prime. Returns the problems found (empty: the story holds)."""
    problems: list[str] = []
    running = dict.fromkeys(CELLS, True)
    version = dict.fromkeys(DEPLOYMENTS, V0)
    steps = list(steps)
    for st in steps:
        for op in st.ops:
            if op.action == "deploy":
                version[op.deployment] = op.version or V0
                if op.deployment in CELLS:
                    running[op.deployment] = True
            elif op.deployment not in CELLS:
                problems.append(f"{st.title}: {op.label}, but only cells are stopped and started")
            elif op.action == "stop":
                if not any(running[c] for c in CELLS if c != op.deployment):
                    problems.append(f"{st.title}: {op.label} while no other cell runs")
                running[op.deployment] = False
            else:
                running[op.deployment] = True
        live = tuple(c for c in CELLS if running[c])
        if set(live) != set(st.smoke_cells):
            problems.append(f"{st.title}: smoke cells {', '.join(st.smoke_cells) or 'none'} but running cells "
                            f"{', '.join(live) or 'none'}")
        for cell, want in st.cell_versions.items():
            if version[cell] != want:
                problems.append(f"{st.title}: expects {cell} at {want}, it is at {version[cell]}")
    if steps and steps[-1] is STORY[-1]:
        behind = [d for d in DEPLOYMENTS if version[d] != V_PRIME]
        if behind:
            problems.append(f"the story ends with {', '.join(behind)} not at V-prime")
    return problems
