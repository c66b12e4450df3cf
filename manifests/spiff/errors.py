"""Exception types of the spiff engine.

They are separate from the engine so that callers (the manifest generator, the
Redis promotion) can import and catch them without loading the evaluator.
"""

from __future__ import annotations


class SpiffError(Exception):
    """Base class of every error the engine reports (exit status 1 on the CLI)."""


class SpiffReadError(SpiffError):
    """A file could not be read (missing, unreadable, not UTF-8)."""


class SpiffParseError(SpiffError):
    """A YAML document or a dynaml expression could not be accepted.

    Also used for inputs on which real spiff crashes (an integer literal with
    an underscore inside an expression), which we report as ordinary errors.
    """


class UnresolvedNode:
    """One expression left after the fixpoint, with spiff's four report columns.

    (A plain class rather than a dataclass: importing dataclasses costs ~8 ms of
    start-up, and the CLI runs once per merge.)
    """

    __slots__ = ("context", "expression", "merge_path", "source")

    def __init__(self, expression: str, source: str, context: str, merge_path: str):
        self.expression = expression  # canonical rendering, e.g. "(( merge ))"
        self.source = source  # file name as given, or "dynaml"
        self.context = context  # output path with [i] steps for list elements
        self.merge_path = merge_path  # parse path for bare merge/auto, else ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnresolvedNode) and self.line == other.line

    def __hash__(self) -> int:
        return hash(self.line)

    def __repr__(self) -> str:
        return f"UnresolvedNode({self.line!r})"

    def __str__(self) -> str:
        return self.line

    @property
    def line(self) -> str:
        """The report line exactly as spiff prints it (leading tab, tab separated)."""
        return f"\t{self.expression}\tin {self.source}\t{self.context}\t({self.merge_path})"


class UnresolvedNodesError(SpiffError):
    """Evaluation ended with expression nodes left in the tree."""

    def __init__(self, nodes: list[UnresolvedNode]):
        self.nodes = nodes
        super().__init__(self.message())

    def lines(self) -> list[str]:
        """One spiff-format line per unresolved node."""
        return [n.line for n in self.nodes]

    def message(self) -> str:
        """The full multi-line text spiff prints after its log prefix."""
        return "\n".join(["error generating manifest: unresolved nodes:", *self.lines()])
