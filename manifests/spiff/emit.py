"""YAML output in spiff's layout, written directly (PyYAML's representer pipeline
costs ~25 ms on a cf manifest; this takes a few).

Layout: map keys sorted by byte order, two-space block style, sequences not
indented under their key, `{}`/`[]`/`null` for empty/null, Go-style float text,
strings that would read back as another type (for spiff or for PyYAML) double
quoted, multi-line strings as literal blocks (`|-`, or `|+` when they end with a
newline). Anything the plain or literal forms cannot carry safely is written
double-quoted with escapes, which always reads back exactly.
"""

from __future__ import annotations

import re

from .dynaml import Expr, render
from .yamlio import _needs_quotes, go_float

_PLAIN_FIRST_BAD = frozenset(" \t-?:,[]{}#&*!|>'\"%@`")
_SPECIAL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_DQ_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0",
               "\x07": "\\a", "\x08": "\\b", "\x0b": "\\v", "\x0c": "\\f", "\x1b": "\\e"}
_plain_memo: dict[str, bool] = {}


def _plain_ok(s: str) -> bool:
    try:
        return _plain_memo[s]
    except KeyError:
        pass
    ok = (
        s != ""
        and s[0] not in _PLAIN_FIRST_BAD
        and s[-1] not in " \t:"
        and s.isprintable()
        and ": " not in s
        and " #" not in s
        and not _needs_quotes(s)
    )
    if len(_plain_memo) < 100_000:
        _plain_memo[s] = ok
    return ok


def double_quoted(s: str) -> str:
    out = ['"']
    for ch in s:
        e = _DQ_ESCAPES.get(ch)
        if e is not None:
            out.append(e)
        elif ch == " " or ch.isprintable():
            out.append(ch)
        else:
            o = ord(ch)
            out.append(f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def _literal(s: str, indent: int) -> str | None:
    """`|-`/`|+` block for a multi-line string, or None when it would not read back."""
    if _SPECIAL.search(s.replace("\n", "").replace("\t", "")):
        return None
    keep = s.endswith("\n")
    body = s[:-1] if keep else s
    lines = body.split("\n")
    if not lines[0] or lines[0][0] in " \t":
        return None
    pad = " " * indent
    parts = ["|+" if keep else "|-"]
    for line in lines:
        if line and (line[-1] in " \t" or line.strip(" \t") == ""):
            return None
        parts.append(pad + line if line else "")
    return "\n".join(parts)


def scalar(v: object, indent: int) -> str:
    t = type(v)
    if v is None:
        return "null"
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        return go_float(v)  # type: ignore[arg-type]
    if isinstance(v, str):
        if _plain_ok(v):
            return str(v)
        if "\n" in v:
            lit = _literal(v, indent)
            if lit is not None:
                return lit
        return double_quoted(v)
    if t is Expr:
        return double_quoted(f"(( {render(v.ast)} ))")  # type: ignore[union-attr]
    if isinstance(v, bool | int):
        return scalar(bool(v) if isinstance(v, bool) else int(v), indent)
    if isinstance(v, float):
        return go_float(float(v))
    return double_quoted(str(v))


def _key(k: object) -> str:
    s = k if isinstance(k, str) else str(k)
    return s if _plain_ok(s) else double_quoted(s)


def _sorted_keys(d: dict) -> list:
    try:
        return sorted(d)
    except TypeError:
        return sorted(d, key=str)


def _emit_map(d: dict, indent: int, first: str | None, out: list[str]) -> None:
    pad = " " * indent
    for k in _sorted_keys(d):
        prefix = (first if first is not None else pad) + _key(k) + ":"
        first = None
        v = d[k]
        if isinstance(v, dict) and v:
            out.append(prefix)
            _emit_map(v, indent + 2, None, out)
        elif isinstance(v, list) and v:
            out.append(prefix)
            _emit_seq(v, indent, None, out)
        elif isinstance(v, dict):
            out.append(prefix + " {}")
        elif isinstance(v, list):
            out.append(prefix + " []")
        else:
            out.append(prefix + " " + scalar(v, indent + 2))


def _emit_seq(lst: list, indent: int, first: str | None, out: list[str]) -> None:
    pad = " " * indent
    for v in lst:
        dash = (first if first is not None else pad) + "- "
        first = None
        if isinstance(v, dict) and v:
            _emit_map(v, indent + 2, dash, out)
        elif isinstance(v, list) and v:
            _emit_seq(v, indent + 2, dash, out)
        elif isinstance(v, dict):
            out.append(dash + "{}")
        elif isinstance(v, list):
            out.append(dash + "[]")
        else:
            out.append(dash + scalar(v, indent + 2))


def dump_yaml(data: object) -> str:
    """The YAML text of `data` (ends with one newline; the CLI adds spiff's extra one)."""
    out: list[str] = []
    if isinstance(data, dict) and data:
        _emit_map(data, 0, None, out)
    elif isinstance(data, list) and data:
        _emit_seq(data, 0, None, out)
    elif isinstance(data, dict):
        out.append("{}")
    elif isinstance(data, list):
        out.append("[]")
    else:
        out.append(scalar(data, 2))
    return "\n".join(out) + "\n"
