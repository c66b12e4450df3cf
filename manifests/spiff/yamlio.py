"""YAML reading and writing with spiff's (candiedyaml) scalar rules.

PyYAML's SafeLoader types plain scalars differently from candiedyaml (`y` and
`oFF` are booleans for spiff, `2e3` is a float, timestamps are fatal, map keys
must be strings, `<<` is an ordinary key). We keep libyaml's C parser for speed
and replace only the resolution of plain scalars and the mapping constructor.
"""

from __future__ import annotations

import math
import re

from ._cyaml import cparser
from .errors import SpiffParseError, SpiffReadError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

# libyaml's parser; under the CLI without PyYAML's pure-Python modules (see _cyaml)
_CParser = cparser()
from yaml.error import MarkedYAMLError, YAMLError  # noqa: E402  (after cparser(): see _cyaml)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode  # noqa: E402

PLAIN_TAG = "tag:spiff:plain"
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"

_NULLS = frozenset(("~", "null", "Null", "NULL"))
_BOOLS = {"y": True, "yes": True, "n": False, "no": False, "true": True, "false": False, "on": True, "off": False}
_DEC_DIGITS = re.compile(r"[0-9]+")
_BASE_DIGITS = {2: re.compile(r"[01]+"), 8: re.compile(r"[0-7]+"), 16: re.compile(r"[0-9a-fA-F]+")}
_GO_FLOAT = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_GO_HEXFLOAT = re.compile(r"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+")
_GO_SPECIAL = {"inf": math.inf, "infinity": math.inf, "nan": math.nan}
_YMD = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?"
)
_INT64_MAX = (1 << 63) - 1


class TimestampError(ValueError):
    """candiedyaml yields a time.Time, which spiff cannot sanitize (fatal)."""


def _go_int(val: str) -> int | None:
    """candiedyaml's resolve_int: underscores dropped, Go ParseUint base 0, int64 range."""
    v = val.replace("_", "")
    sign = 1
    if v[:1] == "-":
        sign, v = -1, v[1:]
    elif v[:1] == "+":
        v = v[1:]
    if v == "0":
        return 0
    base = 10
    if v[:2] in ("0o", "0O"):
        base, v = 8, v[2:]
    elif v[:2] in ("0x", "0X"):
        base, v = 16, v[2:]
    elif v[:2] in ("0b", "0B"):
        base, v = 2, v[2:]
    elif v[:1] == "0":
        base, v = 8, v[1:]
    pattern = _BASE_DIGITS.get(base, _DEC_DIGITS)
    if not pattern.fullmatch(v):
        return None
    n = int(v, base)
    if n >= 1 << 64:
        return None
    if n <= _INT64_MAX:
        return sign * n
    if sign == -1 and n == _INT64_MAX + 1:
        return -n
    return None


def _go_float(val: str) -> float | None:
    """candiedyaml's resolve_float: sign, `.inf`/`.nan`, then Go's ParseFloat."""
    v = val.replace("_", "")
    sign = 1.0
    if v[:1] == "-":
        sign, v = -1.0, v[1:]
    elif v[:1] == "+":
        v = v[1:]
    low = v.lower()
    if low == ".inf":
        return sign * math.inf
    if low == ".nan":
        return math.nan
    if low in _GO_SPECIAL:
        return sign * _GO_SPECIAL[low]
    if _GO_FLOAT.fullmatch(v):
        f = float(v)
    elif _GO_HEXFLOAT.fullmatch(v):
        try:
            f = float.fromhex(v)
        except OverflowError:
            return None
    else:
        return None
    if math.isinf(f):  # Go reports a range error; candiedyaml then falls through
        return None
    return sign * f


_plain_cache: dict[str, Any] = {}
_MISS = object()


def resolve_plain(val: str) -> Any:
    """Type of a plain (unquoted) scalar as candiedyaml resolves it.

    Raises TimestampError for timestamps, which spiff rejects.
    """
    try:
        return _plain_cache[val]
    except KeyError:
        pass
    result: Any = val
    if val == "":
        result = None
    else:
        c = val[0]
        if c in "+-0123456789":
            i = _go_int(val)
            if i is not None:
                result = i
            else:
                f = _go_float(val)
                if f is not None:
                    result = f
                elif c not in "+-" and (_YMD.fullmatch(val) or _TIMESTAMP.fullmatch(val)):
                    raise TimestampError(val)
        elif c in "~nN":
            result = None if val in _NULLS else _BOOLS.get(val.lower(), val)
        elif c == ".":
            f = _go_float(val)
            if f is not None:
                result = f
        elif c in "tTfFyYoO":
            result = _BOOLS.get(val.lower(), val)
    if len(_plain_cache) < 100_000:
        _plain_cache[val] = result
    return result


class _Loader(_CParser):  # type: ignore[misc,valid-type]
    """libyaml parser and composer; every plain scalar gets PLAIN_TAG (typed later by
    resolve_plain), so `<<` stays a plain key and PyYAML's own typing never applies."""

    def resolve(self, kind, value, implicit):  # type: ignore[override]
        # Only called for untagged nodes (or the non-specific "!"); no path resolvers.
        if kind is ScalarNode:
            return PLAIN_TAG if implicit[0] else _STR_TAG
        return _SEQ_TAG if kind is SequenceNode else _MAP_TAG

    def descend_resolver(self, current_node, current_index):  # type: ignore[override]
        return None

    def ascend_resolver(self):  # type: ignore[override]
        return None


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


class _Builder:
    """Turns libyaml's composed node graph into Python data with spiff's typing.

    Faster than PyYAML's generic constructor (no generator/state machinery);
    aliases share the built object, as PyYAML does (nothing mutates it later).
    Nodes with unusual explicit tags fall back to PyYAML's SafeConstructor.
    """

    def __init__(self) -> None:
        self.memo: dict[int, Any] = {}
        self.fallback: Any = None  # yaml.constructor.SafeConstructor, imported when first needed

    def build(self, node: Any) -> Any:
        cls = type(node)
        tag = node.tag
        if cls is ScalarNode:  # not memoised: an aliased scalar builds to an equal value
            if tag == PLAIN_TAG:
                value = node.value
                hit = _plain_cache.get(value, _MISS)
                return self._plain(node) if hit is _MISS else hit
            return node.value if tag == _STR_TAG else self._fallback(node)
        memo = self.memo
        nid = id(node)
        if nid in memo:
            return memo[nid]
        build = self.build
        cache = _plain_cache
        if cls is MappingNode and tag == _MAP_TAG:
            value = {}
            memo[nid] = value
            for key_node, value_node in node.value:
                if type(key_node) is ScalarNode and key_node.tag == _STR_TAG:
                    key = key_node.value
                else:
                    key = build(key_node)
                    if not isinstance(key, str):
                        text = {True: "true", False: "false", None: "<nil>"}.get(key, str(key)) \
                            if isinstance(key, (bool, type(None))) else str(key)
                        raise MarkedYAMLError(
                            None, None, f"map key must be a string: {text}", key_node.start_mark
                        )
                if type(value_node) is ScalarNode:  # inline: most values are scalars
                    vt = value_node.tag
                    if vt == PLAIN_TAG:
                        v = cache.get(value_node.value, _MISS)
                        value[key] = self._plain(value_node) if v is _MISS else v
                    else:
                        value[key] = value_node.value if vt == _STR_TAG else self._fallback(value_node)
                else:
                    value[key] = build(value_node)
        elif cls is SequenceNode and tag == _SEQ_TAG:
            value = []
            memo[nid] = value
            value.extend([build(c) for c in node.value])
        else:
            value = self._fallback(node)
        memo[nid] = value
        return value

    @staticmethod
    def _plain(node: Any) -> Any:
        try:
            return resolve_plain(node.value)
        except TimestampError:
            raise MarkedYAMLError(
                None, None, "unknown type (time.Time) during sanitization", node.start_mark
            ) from None

    def _fallback(self, node: Any) -> Any:
        if self.fallback is None:
            from yaml.constructor import SafeConstructor

            self.fallback = SafeConstructor()
        value = self.fallback.construct_object(node, deep=True)
        if isinstance(value, dict) and any(not isinstance(k, str) for k in value):
            raise MarkedYAMLError(None, None, "map key must be a string", node.start_mark)
        if type(value).__module__ == "datetime":
            raise MarkedYAMLError(
                None, None, "unknown type (time.Time) during sanitization", node.start_mark
            )
        return value


def load_yaml_text(text: str, name: str = "<string>", role: str = "template") -> Any:
    """Parse the first YAML document of `text` with spiff's rules.

    `name` and `role` ("template" or "stub") only shape the error message.
    An empty stream is an error, as in spiff.
    """
    try:
        loader = _Loader(text)
        try:
            if not loader.check_node():
                raise SpiffParseError(
                    f"error parsing {role} [{name}]: Expected document start at line 0, column 0"
                )
            node = loader.get_node()
        finally:
            loader.dispose()
        return _Builder().build(node)
    except YAMLError as e:
        raise SpiffParseError(f"error parsing {role} [{name}]: {_one_line(e)}") from None
    except RecursionError:
        raise SpiffParseError(f"error parsing {role} [{name}]: document nested too deeply") from None


def load_yaml_file(path: str | Path, role: str = "template", name: str | None = None) -> Any:
    """Read and parse a file; errors name the file as given."""
    shown = str(path) if name is None else name
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpiffReadError(f"error reading {role} [{shown}]: {_one_line(e)}") from None
    return load_yaml_text(text, shown, role)


# ---------------------------------------------------------------- output


def go_float(f: float) -> str:
    """Go's strconv.FormatFloat(f, 'g', -1, 64), which candiedyaml's emitter uses."""
    if math.isnan(f):
        return ".nan"
    if math.isinf(f):
        return ".inf" if f > 0 else "-.inf"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    from decimal import Decimal  # lazily: start-up time matters for the CLI

    sign, digits, exponent = Decimal(repr(f)).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    nd = len(digits)
    dp = nd + int(exponent)
    exp = dp - 1
    neg = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{ds}"
    if dp >= len(ds):
        return f"{neg}{ds}{'0' * (dp - len(ds))}"
    return f"{neg}{ds[:dp]}.{ds[dp:]}"


class DynamlStr(str):
    """A string produced by evaluation; if it looks like `(( ... ))` it is parsed later
    with source name `dynaml`, as spiff does."""

    __slots__ = ()


_pyyaml_resolver: Any = None  # yaml.resolver.Resolver, imported when first needed (start-up time)


def _needs_quotes(s: str) -> bool:
    """True when a plain scalar would read back as something other than this string,
    for spiff (candiedyaml rules) or for PyYAML consumers."""
    try:
        if not isinstance(resolve_plain(s), str):
            return True
    except TimestampError:
        return True
    global _pyyaml_resolver
    if _pyyaml_resolver is None:
        from yaml.resolver import Resolver

        _pyyaml_resolver = Resolver()
    return _pyyaml_resolver.resolve(ScalarNode, s, (True, False)) != _STR_TAG
