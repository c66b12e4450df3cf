"""libyaml's parser (PyYAML's C extension `yaml._yaml`) without the rest of PyYAML.

Why: `import yaml` costs ~12-15 ms of start-up: the package imports its pure-Python
reader, scanner, constructor, resolver, emitter and representer, which compile large
regular expressions and import datetime and base64. The engine only needs the C
parser/composer and the node classes, and the command line runs once per merge (the
release scripts start one process per merge), so that fixed cost is a large share of
every merge.

The light load is used by the command line only (`python -m manifests.spiff`): it
registers a bare `yaml` package object (its `__init__` is not run), loads the cheap real
submodules the extension needs (error, tokens, events, nodes) and gives it stand-ins
for the error classes of the modules we skip. Library users (the manifest generator,
tests) always get a normal `import yaml`, and so does the command line whenever yaml is
already imported or anything about the light load is unexpected.
"""

from __future__ import annotations

import sys

_SKIPPED = ("reader", "scanner", "parser", "composer", "constructor", "emitter", "serializer", "representer")


def _cli_process() -> bool:
    """True while `python -m manifests.spiff ...` imports this package to run it.

    runpy imports the package before `__main__` runs, with sys.argv[0] == "-m" while the
    module is being located; sys.orig_argv names the module.
    """
    argv = getattr(sys, "orig_argv", [])
    if sys.argv[:1] != ["-m"] or "-m" not in argv:
        return False
    i = argv.index("-m")
    return argv[i + 1:i + 2] == [__package__]


_LIGHT = "yaml" not in sys.modules and _cli_process()


def cparser() -> type:
    """The C parser class (`yaml._yaml.CParser`)."""
    if _LIGHT and "yaml" not in sys.modules:
        try:
            return _light_cparser()
        except Exception:  # any surprise (another PyYAML version): the ordinary import
            for name in [m for m in sys.modules if m == "yaml" or m.startswith("yaml.")]:
                del sys.modules[name]
    import yaml._yaml

    return yaml._yaml.CParser


def _light_cparser() -> type:
    import importlib.util

    spec = importlib.util.find_spec("yaml")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("yaml")
    package = importlib.util.module_from_spec(spec)  # not executed: no yaml/__init__.py
    sys.modules["yaml"] = package
    import yaml.error as error
    import yaml.events  # the extension reads yaml.events.*, yaml.nodes.* and yaml.tokens.*
    import yaml.nodes
    import yaml.tokens

    standins = _standin_errors(error)
    for mod in _SKIPPED:
        setattr(package, mod, standins[mod])
    package.YAMLError = error.YAMLError
    package.MarkedYAMLError = error.MarkedYAMLError
    import yaml._yaml

    for mod in _SKIPPED:  # a later `import yaml.constructor` (rare fallback) loads the real one
        delattr(package, mod)
    return yaml._yaml.CParser


def _standin_errors(error) -> dict[str, object]:
    """Namespaces holding the error classes the extension looks up, by module name."""
    import types

    marked = error.MarkedYAMLError

    class ReaderError(error.YAMLError):
        """Same constructor and text as yaml.reader.ReaderError (an invalid character)."""

        def __init__(self, name, position, character, encoding, reason):
            self.name = name
            self.character = character
            self.position = position
            self.encoding = encoding
            self.reason = reason

        def __str__(self) -> str:
            if isinstance(self.character, bytes):
                return (f"'{self.encoding}' codec can't decode byte #x{ord(self.character):02x}: "
                        f"{self.reason}\n  in \"{self.name}\", position {self.position}")
            return (f"unacceptable character #x{self.character:04x}: {self.reason}\n"
                    f"  in \"{self.name}\", position {self.position}")

    out: dict[str, object] = {"reader": types.SimpleNamespace(ReaderError=ReaderError)}
    for mod, cls in (("scanner", "ScannerError"), ("parser", "ParserError"), ("composer", "ComposerError"),
                     ("constructor", "ConstructorError"), ("emitter", "EmitterError"),
                     ("serializer", "SerializerError"), ("representer", "RepresenterError")):
        base = error.YAMLError if mod in ("emitter", "serializer", "representer") else marked
        out[mod] = types.SimpleNamespace(**{cls: type(cls, (base,), {})})
    return out
