"""A Python reimplementation of `spiff merge` (cloudfoundry-incubator/spiff 1.0.x).

Public API (docs/architecture.md §5): load_yaml_file, load_yaml_text, merge,
merge_files, dump_yaml and the SpiffError family. Semantics:
../shared/docs/spiff-semantics.md.
"""

from __future__ import annotations

from .emit import dump_yaml
from .errors import (
    SpiffError,
    SpiffParseError,
    SpiffReadError,
    UnresolvedNode,
    UnresolvedNodesError,
)
from .flow import cascade
from .yamlio import load_yaml_file, load_yaml_text

TYPE_CHECKING = False  # typing, pathlib and collections.abc cost start-up time; annotations only
if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path
    from typing import Any


__all__ = [
    "SpiffError",
    "SpiffParseError",
    "SpiffReadError",
    "UnresolvedNode",
    "UnresolvedNodesError",
    "dump_yaml",
    "load_yaml_file",
    "load_yaml_text",
    "merge",
    "merge_files",
]


def _copy(x: Any) -> Any:
    """A private copy of merged data: results share subtrees with the inputs and
    with each other (references, stub values), so callers get their own."""
    t = type(x)
    if t is dict:
        return {k: _copy(v) for k, v in x.items()}
    if t is list:
        return [_copy(v) for v in x]
    if isinstance(x, str) and t is not str:
        return str(x)
    return x


def merge(docs: list[tuple[str, Any]]) -> Any:
    """Merge parsed documents: the first is the template, the rest are stubs.

    Each tuple is (name used in error messages, parsed document). Returns newly
    built data (safe to modify); raises UnresolvedNodesError (or another SpiffError).
    """
    return _copy(cascade(list(docs)))


def _read_all(paths: Iterable[str | Path]) -> list[tuple[str, Any]]:
    docs = []
    for i, p in enumerate(paths):
        docs.append((str(p), load_yaml_file(p, role="template" if i == 0 else "stub")))
    if not docs:
        raise SpiffError("merge needs at least a template file")
    return docs


def merge_files(paths: Iterable[str | Path]) -> Any:
    """Read, parse and merge files, template first, exactly like `spiff merge`."""
    return _copy(cascade(_read_all(paths)))


def merge_files_shared(paths: Iterable[str | Path]) -> Any:
    """merge_files without the final copy (the CLI only serialises the result)."""
    return cascade(_read_all(paths))
