"""The dynaml expression language of spiff 1.0.x: parser and canonical rendering.

The parser is a packrat PEG parser for the grammar of spiff-semantics.md §6.1,
with PEG's ordered, committed choice (as upstream's generated parser), so
`(( a||b ))`, `(( [ 1 ] ))` or `(( !x ))` do not parse and stay literal strings.

ASTs are nested tuples, so that deep equality (the fixpoint test) is cheap:
  ("int", n) ("str", s) ("bool", b) ("nil",) ("merge",) ("auto",)
  ("ref", steps)       steps are strings; a leading "" means "from the root",
                       index steps are written "[N]" (as upstream keeps them)
  ("list", items) ("call", name, args)
  ("concat"|"add"|"sub"|"or", a, b)
"""

from __future__ import annotations

import re

from .errors import SpiffParseError

TYPE_CHECKING = False  # importing typing costs start-up time; annotations only
if TYPE_CHECKING:
    from typing import Any

Ast = tuple
EXPR_RE = re.compile(r"\(\((.*)\)\)")  # whole single-line string; inner = first (( .. last ))

_WS = " \t\n\r"
_NAME = re.compile(r"[A-Za-z0-9_]+")
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]*")
_INDEX = re.compile(r"\[[0-9]+\]")
_INT = re.compile(r"-?[0-9_]+")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


class _Fail(Exception):
    pass


class _Parser:
    """Packrat parser over one expression text; methods return (ast, end) or None."""

    def __init__(self, text: str):
        self.t = text
        self.n = len(text)
        self.memo: dict[tuple[str, int], Any] = {}

    def ws(self, i: int) -> int:
        t, n = self.t, self.n
        while i < n and t[i] in _WS:
            i += 1
        return i

    def req_ws(self, i: int) -> int | None:
        j = self.ws(i)
        return j if j > i else None

    def expression(self, i: int):
        key = ("e", i)
        if key in self.memo:
            return self.memo[key]
        r = None
        left = self.level1(i)
        if left is not None:
            a, j = left
            k = self.req_ws(j)
            if k is not None and self.t.startswith("||", k):
                m = self.req_ws(k + 2)
                if m is not None:
                    rest = self.expression(m)
                    if rest is not None:
                        r = (("or", a, rest[0]), rest[1])
            if r is None:
                r = left
        self.memo[key] = r
        return r

    def level1(self, i: int):
        key = ("1", i)
        if key in self.memo:
            return self.memo[key]
        r = None
        first = self.level0(i)
        if first is not None:
            a, j = first
            k = self.req_ws(j)
            if k is not None:
                rest = self.level1(k)  # concatenation
                if rest is not None:
                    r = (("concat", a, rest[0]), rest[1])
                else:
                    for op, kind in (("+", "add"), ("-", "sub")):
                        if self.t.startswith(op, k):
                            m = self.req_ws(k + 1)
                            if m is not None:
                                rest = self.level1(m)
                                if rest is not None:
                                    r = ((kind, a, rest[0]), rest[1])
                                    break
            if r is None:
                r = first
        self.memo[key] = r
        return r

    def level0(self, i: int):
        key = ("0", i)
        if key in self.memo:
            return self.memo[key]
        r = None
        for alt in (self.grouped, self.call, self.keyword_literal, self.string, self.integer,
                    self.list_, self.merge_auto, self.reference):
            r = alt(i)
            if r is not None:
                break
        self.memo[key] = r
        return r

    def grouped(self, i: int):
        if not self.t.startswith("(", i):
            return None
        inner = self.expression(i + 1)
        if inner is None or not self.t.startswith(")", inner[1]):
            return None
        return inner[0], inner[1] + 1

    def _items(self, i: int, close: str):
        """Expression (',' ws Expression)* followed by `close`; returns (items, end)."""
        items = []
        first = self.expression(i)
        if first is None:
            return None
        items.append(first[0])
        j = first[1]
        while self.t.startswith(",", j):
            nxt = self.expression(self.ws(j + 1))
            if nxt is None:
                break
            items.append(nxt[0])
            j = nxt[1]
        if not self.t.startswith(close, j):
            return None
        return items, j + 1

    def call(self, i: int):
        m = _NAME.match(self.t, i)
        if m is None or not self.t.startswith("(", m.end()):
            return None
        args = self._items(m.end() + 1, ")")
        if args is None:
            return None
        return ("call", m.group(), tuple(args[0])), args[1]

    def keyword_literal(self, i: int):
        t = self.t
        if t.startswith("true", i):
            return ("bool", True), i + 4
        if t.startswith("false", i):
            return ("bool", False), i + 5
        if t.startswith("nil", i):
            return ("nil",), i + 3
        return None

    def string(self, i: int):
        t, n = self.t, self.n
        if not t.startswith('"', i):
            return None
        j = i + 1
        out = []
        while j < n:
            c = t[j]
            if c == "\\" and j + 1 < n and t[j + 1] == '"':
                out.append('"')
                j += 2
            elif c == '"':
                return ("str", "".join(out)), j + 1
            else:
                out.append(c)
                j += 1
        return None

    def integer(self, i: int):
        m = _INT.match(self.t, i)
        if m is None:
            return None
        text = m.group()
        if "_" in text or text == "-":
            return ("badint", text), m.end()
        v = int(text)
        if not _INT64_MIN <= v <= _INT64_MAX:
            return ("badint", text), m.end()
        return ("int", v), m.end()

    def list_(self, i: int):
        if not self.t.startswith("[", i):
            return None
        if self.t.startswith("]", i + 1):
            return ("list", ()), i + 2
        items = self._items(i + 1, "]")
        if items is None:
            return None
        return ("list", tuple(items[0])), items[1]

    def merge_auto(self, i: int):
        if self.t.startswith("merge", i):
            return ("merge",), i + 5
        if self.t.startswith("auto", i):
            return ("auto",), i + 4
        return None

    def reference(self, i: int):
        t = self.t
        steps: list[str] = []
        j = i
        if t.startswith(".", j):
            steps.append("")
            j += 1
        m = _KEY.match(t, j)
        if m is None:
            return None
        steps.append(m.group())
        j = m.end()
        while t.startswith(".", j):
            m = _KEY.match(t, j + 1) or _INDEX.match(t, j + 1)
            if m is None:
                break
            steps.append(m.group())
            j = m.end()
        return ("ref", tuple(steps)), j


def _bad_ints(ast: Ast) -> list[str]:
    kind = ast[0]
    if kind == "badint":
        return [ast[1]]
    out: list[str] = []
    if kind in ("concat", "add", "sub", "or"):
        out += _bad_ints(ast[1]) + _bad_ints(ast[2])
    elif kind == "list":
        for a in ast[1]:
            out += _bad_ints(a)
    elif kind == "call":
        for a in ast[2]:
            out += _bad_ints(a)
    return out


_parse_cache: dict[str, Ast | None] = {}


def parse(inner: str) -> Ast | None:
    """Parse the text between `((` and `))`. None when it does not parse (the string
    then stays literal). Raises SpiffParseError where upstream crashes (an integer
    literal with `_`, or one outside int64)."""
    try:
        ast = _parse_cache[inner]
    except KeyError:
        p = _Parser(inner)
        r = p.expression(p.ws(0))
        ast = None
        if r is not None and p.ws(r[1]) == p.n:
            ast = r[0]
        _parse_cache[inner] = ast
    if ast is not None:
        bad = _bad_ints(ast)
        if bad:
            raise SpiffParseError(f"invalid integer literal {bad[0]!r} in expression (( {inner.strip()} ))")
    return ast


# ---------------------------------------------------------------- rendering

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def go_quote(s: str) -> str:
    """Go's strconv.Quote (close enough: printable runes kept, others escaped)."""
    out = ['"']
    for ch in s:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_BINOPS = {"concat": " ", "add": " + ", "sub": " - ", "or": " || "}


def render(ast: Ast) -> str:
    """Canonical text of an expression, as in spiff's unresolved-node lines."""
    kind = ast[0]
    if kind == "int":
        return str(ast[1])
    if kind == "str":
        return go_quote(ast[1])
    if kind == "bool":
        return "true" if ast[1] else "false"
    if kind in ("nil", "merge", "auto"):
        return kind
    if kind == "ref":
        return ".".join(ast[1])
    if kind == "list":
        return "[" + ", ".join(render(a) for a in ast[1]) + "]"
    if kind == "call":
        return ast[1] + "(" + ", ".join(render(a) for a in ast[2]) + ")"
    if kind in _BINOPS:
        return render(ast[1]) + _BINOPS[kind] + render(ast[2])
    return str(ast[1])


class Expr:
    """An expression node in the tree: AST, parse path (name steps) and source name.

    Equality covers all three, as spiff's fixpoint test compares expression nodes.
    """

    __slots__ = ("ast", "path", "source")

    def __init__(self, ast: Ast, path: tuple[str, ...], source: str):
        self.ast = ast
        self.path = path
        self.source = source

    def __eq__(self, other: object) -> bool:
        return (type(other) is Expr and self.ast == other.ast  # type: ignore[union-attr]
                and self.path == other.path and self.source == other.source)  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash((self.ast, self.path, self.source))

    def __repr__(self) -> str:
        return f"Expr((( {render(self.ast)} )) in {self.source} @{'.'.join(self.path)})"
