"""spiff 1.0.x evaluation: the pass-by-pass fixpoint, stub override, `<<`, and the cascade.

Every pass rebuilds the whole tree and every lookup reads the previous pass's
tree (spiff-semantics.md §3-§9). To keep that exact timing without paying for
it on big manifests, a pass returns unchanged any subtree that the previous
pass produced *at the same path* and that holds no expression node: flowing it
again provably gives the same tree (its overrides were already applied, and
nothing in it can evaluate). Likewise: stub lookups are built from the parent
path's entry; a document without expressions, `<<` or stubs is not flowed at
all; and the unresolved-node walk is skipped after a pass that met no
expression. Passes are capped (real spiff has no cap) and a pass that explodes
in size or depth ends the fixpoint, so growing expressions are reported as
unresolved instead of running forever.
"""

from __future__ import annotations

import re

from .dynaml import EXPR_RE, Expr, parse, render
from .errors import SpiffParseError, UnresolvedNode, UnresolvedNodesError
from .yamlio import DynamlStr

TYPE_CHECKING = False  # importing typing costs start-up time; annotations only
if TYPE_CHECKING:
    from typing import Any

_FAIL = object()  # evaluation failure: the node stays, retried next pass
_INDEX_STEP = re.compile(r"\[([0-9]+)\]")
_INT64 = 1 << 64
# The subtree shortcuts (unchanged, stub-supplied and inert subtrees are not flowed
# again); off only in tests, which check that the results are the same without them.
SHORTCUTS = True
_NODE_BUDGET = 1_000_000  # per pass; guards against exponentially growing expressions


class _Fatal(Exception):
    """Inputs on which upstream spiff crashes; reported as ordinary errors."""


class _OverBudget(Exception):
    """A pass grew past _NODE_BUDGET nodes: treated like reaching the pass cap."""


def _is_int(v: Any) -> bool:
    return type(v) is int


def _wrap64(v: int) -> int:
    return ((v + (1 << 63)) % _INT64) - (1 << 63)


def step_into(node: Any, step: str) -> Any:
    """One `find` step (§5): map key, `[N]` list index, or list entry by `name`."""
    t = type(node)
    if t is dict:
        return node.get(step, _FAIL)
    if t is list:
        m = _INDEX_STEP.fullmatch(step)
        if m is not None:
            i = int(m.group(1))
            return node[i] if i < len(node) else _FAIL
        for e in node:
            if type(e) is dict:
                name = e.get("name")
                if isinstance(name, str) and name == step:
                    return e
        return _FAIL
    return _FAIL


def find(node: Any, steps: tuple[str, ...] | list[str]) -> Any:
    for s in steps:
        node = step_into(node, s)
        if node is _FAIL:
            return _FAIL
    return node


def list_step(i: int, e: Any) -> str:
    """A list element's path step: its string `name`, else `[i]`."""
    if type(e) is dict:
        name = e.get("name")
        if isinstance(name, str):
            return name
    return f"[{i}]"


def _parse_ip(text: str) -> tuple[int, int] | None:
    """(address as an integer, IP version) like ipaddress.ip_address, or None if invalid.
    Plain dotted IPv4 is parsed here: importing ipaddress costs start-up time."""
    parts = text.split(".")
    if len(parts) == 4:
        n = 0
        for p in parts:
            if not (p.isascii() and p.isdigit()) or len(p) > 3 or (p[0] == "0" and p != "0") or int(p) > 255:
                break
            n = n * 256 + int(p)
        else:
            return n, 4
    import ipaddress

    try:
        a = ipaddress.ip_address(text)
    except ValueError:
        return None
    return int(a), a.version


def _format_ip(n: int, version: int) -> str:
    if version == 4:
        return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
    import ipaddress

    return str(ipaddress.IPv6Address(n))


def _looks_like_expr(s: str) -> bool:
    return s.startswith("((") and s.endswith("))")


class Flow:
    """Evaluates one document against its (already flowed) stubs."""

    def __init__(self, stubs: list[Any], source: str, max_passes: int | None = None):
        self.max_passes = max_passes
        self.stubs = stubs
        self.source = source
        self.stub_cache: dict[tuple[str, ...], tuple] = {}
        self.prev_stable: dict[int, tuple[Any, tuple[str, ...]]] = {}
        self.stable: dict[int, tuple[Any, tuple[str, ...]]] = {}
        self.names_ok: dict[int, bool] = {}
        self.inert_memo: dict[int, tuple[Any, bool]] = {}
        self.pool_memo: dict[int, tuple[list, Any]] = {}
        self.dirty = 0
        self.nodes = 0
        self.passes = 0  # statistics, for tests and benchmarks
        self.nodes_total = 0

    # ------------------------------------------------------------ lookups

    def stub_nodes(self, path: tuple[str, ...]) -> tuple:
        """The node at `path` in each stub (_FAIL where absent); () when none has it.

        Built from the parent path's entry, so each lookup is one step per stub.
        """
        r = self.stub_cache.get(path)
        if r is not None:
            return r
        if not path:
            r = tuple(self.stubs) if self.stubs else ()
            self.stub_cache[path] = r
            return r
        return self.stub_child(self.stub_nodes(path[:-1]), path, path[-1])

    def stub_child(self, parent: tuple, path: tuple[str, ...], step: str) -> tuple:
        """stub_nodes(path) given stub_nodes(path[:-1]) = parent (the hot path)."""
        cache = self.stub_cache
        r = cache.get(path)
        if r is not None:
            return r
        r = ()
        if parent:
            found = []
            hit = False
            for n in parent:
                if n is not _FAIL:
                    n = n.get(step, _FAIL) if type(n) is dict else step_into(n, step)
                    if n is not _FAIL:
                        hit = True
                found.append(n)
            if hit:
                r = tuple(found)
        cache[path] = r
        return r

    def find_in_stubs(self, path: tuple[str, ...]) -> Any:
        """The value at `path` in the leftmost stub that has it (null counts), else _FAIL."""
        for n in self.stub_nodes(path):
            if n is not _FAIL:
                return n
        return _FAIL

    def from_stubs(self, v: Any, path: tuple[str, ...]) -> None:
        """`v` is find_in_stubs(path), just placed at `path`: mark it unchanged for the next pass.

        Flowing it again would give the same tree: the stubs are fully evaluated (no
        expression, no `<<`), every stub left of the one that supplied `v` lacks `path` and
        so every path below it, and each leaf's override therefore finds itself. The one
        exception is a list whose entries the name steps do not address one to one
        (a repeated `name`, or a name spelled like another entry's `[i]` step): such a
        subtree is flowed as usual.
        """
        t = type(v)
        if (t is dict or t is list) and self._steps_address_self(v):
            self.stable[id(v)] = (v, path)

    def _steps_address_self(self, v: Any) -> bool:
        cache = self.names_ok
        key = id(v)
        ok = cache.get(key)
        if ok is not None:
            return ok
        ok = True
        if type(v) is dict:
            for x in v.values():
                tx = type(x)
                if (tx is dict or tx is list) and not self._steps_address_self(x):
                    ok = False
                    break
        else:
            seen: set[str] = set()
            for i, e in enumerate(v):
                te = type(e)
                if te is dict:
                    name = e.get("name")
                    if isinstance(name, str):
                        if name in seen or (_INDEX_STEP.fullmatch(name) is not None and name != f"[{i}]"):
                            ok = False
                            break
                        seen.add(name)
                if (te is dict or te is list) and not self._steps_address_self(e):
                    ok = False
                    break
        cache[key] = ok  # stub objects live as long as this Flow: ids stay valid
        return ok

    def inert(self, x: Any) -> bool:
        """True when flowing `x` can change nothing but stub overrides: no expression node,
        no `<<` key, no string that looks like `(( ... ))`. Where no stub has the path
        either, flowing `x` gives `x` again, so it is returned as it is (references copy
        whole subtrees, such as cf's `networks: (( merge || networks_default ))`)."""
        if not SHORTCUTS:
            return False
        t = type(x)
        if t is not dict and t is not list:
            if t is Expr:
                return False
            return not (isinstance(x, str) and x.startswith("((") and x.endswith("))"))
        memo = self.inert_memo
        hit = memo.get(id(x))
        if hit is not None:
            return hit[1]
        if t is dict:
            ok = "<<" not in x and all(self.inert(v) for v in x.values())
        else:
            ok = all(self.inert(v) for v in x)
        memo[id(x)] = (x, ok)  # keeps x alive, so its id is not reused while memoised
        return ok

    # ------------------------------------------------------------ one pass

    def flow_node(self, node: Any, path: tuple[str, ...], scope: tuple, override: bool) -> Any:
        self.nodes += 1
        if self.nodes > _NODE_BUDGET:
            raise _OverBudget
        t = type(node)
        if t is dict:
            return self.flow_map(node, path, scope)
        if t is list:
            return self.flow_list(node, path, scope)
        if t is Expr:
            self.dirty += 1
            result = self.evaluate(node, scope)
            if result is _FAIL:
                return node
            if node.ast[0] == "merge" and node.path == path:
                self.from_stubs(result, path)
            return result
        if override:
            v = self.find_in_stubs(path)
            if v is not _FAIL:
                if type(v) is dict or type(v) is list:
                    self.dirty += 1
                    self.from_stubs(v, path)
                return v
        if (t is str or t is DynamlStr) and node.startswith("((") and node.endswith("))"):
            m = EXPR_RE.fullmatch(node)
            if m is not None:
                try:
                    ast = parse(m.group(1))
                except SpiffParseError as e:
                    raise _Fatal(str(e)) from None
                if ast is not None:
                    self.dirty += 1
                    return Expr(ast, path, "dynaml" if t is DynamlStr else self.source)
        return node

    def flow_map(self, m: dict, path: tuple[str, ...], scope: tuple) -> dict:
        key = id(m)
        hit = self.prev_stable.get(key)
        if hit is not None and hit[1] == path:
            self.stable[key] = hit
            return m
        parent_sn = self.stub_nodes(path)
        if not parent_sn and self.inert(m):
            self.stable[key] = (m, path)  # nothing to override below here, nothing to evaluate
            return m
        dirty0 = self.dirty
        scope = (*scope, m)
        result: dict[str, Any] = {}
        for k in sorted(m):
            if k == "<<":
                self.dirty += 1  # the key disappears: the map changes
                base = self.flow_node(m[k], path, scope, True)
                if type(base) is dict:
                    result.update(base)
                continue
            v = m[k]
            t = type(v)
            if t is dict or t is list or t is Expr or (isinstance(v, str) and v.startswith("((")):
                result[k] = self.flow_node(v, (*path, k), scope, True)
                continue
            # Fast path (the bulk of every manifest): a plain scalar leaf under a map
            # key, to which only the stub override applies (same as flow_node).
            self.nodes += 1
            for n in self.stub_child(parent_sn, (*path, k), k):
                if n is not _FAIL:
                    if type(n) is dict or type(n) is list:
                        self.dirty += 1
                        self.from_stubs(n, (*path, k))
                    v = n
                    break
            result[k] = v
        if self.dirty == dirty0:
            self.stable[id(result)] = (result, path)
        return result

    def flow_list(self, lst: list, path: tuple[str, ...], scope: tuple) -> list:
        key = id(lst)
        hit = self.prev_stable.get(key)
        if hit is not None and hit[1] == path:
            self.stable[key] = hit
            return lst
        if not self.stub_nodes(path) and self.inert(lst):
            self.stable[key] = (lst, path)
            return lst
        dirty0 = self.dirty
        elems = lst
        for e in lst:
            if type(e) is dict and len(e) == 1 and "<<" in e:
                elems = self.splice(lst, path, scope)
                break
        result = [self.flow_node(e, (*path, list_step(i, e)), scope, False) for i, e in enumerate(elems)]
        if self.dirty == dirty0:
            self.stable[id(result)] = (result, path)
        return result

    def splice(self, lst: list, path: tuple[str, ...], scope: tuple) -> list:
        """`- <<: (( merge ))` (§8.2): splice a stub list at the list's own path."""
        out: list[Any] = []
        for e in lst:
            if type(e) is dict and len(e) == 1 and "<<" in e:
                inline = self.flow_node(e["<<"], path, scope, True)
                if type(inline) is list:
                    self.dirty += 1
                    for x in inline:
                        if type(x) is dict:
                            name = x.get("name")
                            if isinstance(name, str) and step_into(lst, name) is not _FAIL:
                                continue
                        out.append(x)
                    continue
            out.append(e)
        return out

    # ------------------------------------------------------------ evaluation

    def evaluate(self, node: Expr, scope: tuple) -> Any:
        return self.ev(node.ast, node, scope)

    def ev(self, ast: tuple, node: Expr, scope: tuple) -> Any:
        kind = ast[0]
        if kind == "ref":
            return self.reference(ast, node, scope)
        if kind == "str":
            s = ast[1]
            return DynamlStr(s) if _looks_like_expr(s) else s
        if kind in ("int", "bool"):
            return ast[1]
        if kind == "nil":
            return None
        if kind == "merge":
            return self.find_in_stubs(node.path)
        if kind == "or":
            a = self.ev(ast[1], node, scope)
            if a is not _FAIL:
                if type(a) is Expr and a.ast[0] == "ref":
                    return _FAIL
                return a
            return self.ev(ast[2], node, scope)
        if kind == "concat":
            a = self.ev(ast[1], node, scope)
            if a is _FAIL:
                return _FAIL
            b = self.ev(ast[2], node, scope)
            if b is _FAIL:
                return _FAIL
            if isinstance(a, str):
                if isinstance(b, str):
                    s = a + b
                elif _is_int(b):
                    s = a + str(b)
                else:
                    return _FAIL
                return DynamlStr(s) if _looks_like_expr(s) else str(s)
            if type(a) is list and type(b) is list:
                return a + b
            return _FAIL
        if kind in ("add", "sub"):
            a = self.ev(ast[1], node, scope)
            if a is _FAIL:
                return _FAIL
            b = self.ev(ast[2], node, scope)
            if b is _FAIL or not _is_int(a) or not _is_int(b):
                return _FAIL
            return _wrap64(a + b if kind == "add" else a - b)
        if kind == "list":
            items = []
            for a in ast[1]:
                v = self.ev(a, node, scope)
                if v is _FAIL:
                    return _FAIL
                items.append(v)
            return items
        if kind == "auto":
            return self.auto(node, scope)
        if kind == "call":
            if ast[1] == "static_ips":
                return self.static_ips(ast, node, scope)
            return _FAIL
        return _FAIL

    def reference(self, ast: tuple, node: Expr, scope: tuple) -> Any:
        steps = ast[1]
        if steps[0] == "":
            if not scope:
                return _FAIL
            target = scope[0]
            rest = steps[1:]
        else:
            first = steps[0]
            for m in reversed(scope):
                if first in m:
                    target = m[first]
                    break
            else:
                return _FAIL
            if type(target) is Expr:
                return Expr(ast, node.path, "dynaml")
            rest = steps[1:]
        for s in rest:
            target = step_into(target, s)
            if target is _FAIL:
                return _FAIL
            if type(target) is Expr:
                return Expr(ast, node.path, "dynaml")
        return target

    def _lexical(self, name: str, scope: tuple) -> Any:
        for m in reversed(scope):
            if name in m:
                return m[name]
        return _FAIL

    def auto(self, node: Expr, scope: tuple) -> Any:
        p = node.path
        if len(p) != 3 or p[0] != "resource_pools" or p[2] != "size" or not scope:
            return _FAIL
        jobs = step_into(scope[0], "jobs")
        if type(jobs) is not list:
            return _FAIL
        size = 0
        for job in jobs:
            if type(job) is not dict:
                continue
            pool = job.get("resource_pool")
            if not isinstance(pool, str) or pool != p[1]:
                continue
            if "instances" not in job:
                return _FAIL
            n = job["instances"]
            if not _is_int(n):
                return _FAIL
            size += n
        return _wrap64(size)

    def static_ips(self, ast: tuple, node: Expr, scope: tuple) -> Any:
        indices = []
        for a in ast[2]:
            v = self.ev(a, node, scope)
            if v is _FAIL or not _is_int(v):
                return _FAIL
            indices.append(v)
        instances = self._lexical("instances", scope)
        if not _is_int(instances):
            return _FAIL
        name = self._lexical("name", scope)
        if not isinstance(name, str) or not scope:
            return _FAIL
        subnets = find(scope[0], ("networks", name, "subnets"))
        if type(subnets) is not list:
            return _FAIL
        pool = self.static_pool(subnets)
        if pool is None:
            return _FAIL
        ranges, total = pool
        for i in indices:
            if i < 0:
                raise _Fatal(f"static_ips: negative index {i}")
            if i >= total:
                return _FAIL
        if len(indices) < instances:
            return _FAIL
        if instances < 0:
            raise _Fatal(f"static_ips: negative instance count {instances}")
        out = []
        for i in indices[:instances]:
            for first, count, version in ranges:
                if i < count:
                    out.append(_format_ip(first + i, version))
                    break
                i -= count
        return out

    def static_pool(self, subnets: list) -> tuple[list[tuple[int, int, int]], int] | None:
        """The address ranges [(first, count, IP version)] and their total size of a
        network's subnets, or None when a subnet lacks a list of `static` strings (§7.1).
        Memoised per subnets list: every job on a network asks for the same one."""
        hit = self.pool_memo.get(id(subnets))
        if hit is not None:
            return hit[1]
        ranges: list[tuple[int, int, int]] | None = []
        total = 0
        for subnet in subnets:
            static = subnet.get("static", _FAIL) if type(subnet) is dict else _FAIL
            if type(static) is not list:
                ranges = None
                break
            for r in static:
                if not isinstance(r, str):
                    ranges = None
                    break
                parts = r.split("-")
                start = _parse_ip(parts[0].strip(" "))
                end = _parse_ip(parts[1].strip(" ")) if len(parts) > 1 else start
                if start is None or end is None or start[1] != end[1] or end[0] < start[0]:
                    ranges = None
                    break
                count = end[0] - start[0] + 1
                ranges.append((start[0], count, start[1]))
                total += count
            if ranges is None:
                break
        pool = None if ranges is None else (ranges, total)
        self.pool_memo[id(subnets)] = (subnets, pool)  # keeps subnets alive: ids stay unique
        return pool

    # ------------------------------------------------------------ fixpoint

    def run(self, doc: Any) -> Any:
        n_expr, merge_key = scan(doc)
        if not self.stubs and n_expr == 0 and not merge_key and type(doc) in (dict, list):
            return doc  # nothing can change: no stub to override from, nothing to evaluate
        cap = self.max_passes or max(100, 2 * n_expr)
        current = doc
        last_walked = doc  # the last tree a pass visited completely (bounded size)
        for _ in range(cap):
            self.stable = {}
            self.nodes = 0
            dirty0 = self.dirty
            clean = False
            try:
                nxt = self.flow_node(current, (), (), True)
                same = nxt == current and strict_equal(nxt, current)
            except (_OverBudget, RecursionError):
                # The tree exploded in size or depth (`a: (( [a, a] ))`, `a: (( [a] ))`,
                # which real spiff never finishes): report on the last tree we walked.
                current = last_walked
                break
            last_walked = current
            clean = self.dirty == dirty0
            self.passes += 1
            self.nodes_total += self.nodes
            self.prev_stable = self.stable if SHORTCUTS else {}
            current = nxt
            if same:
                break
        # A pass that met no expression node (every Expr visit marks the pass dirty,
        # and skipped subtrees hold none) proves the tree is resolved: skip the walk.
        nodes = [] if clean else unresolved(current)
        if nodes:
            raise UnresolvedNodesError(nodes)
        return current


def strict_equal(a: Any, b: Any) -> bool:
    """Deep equality that, like Go's reflect.DeepEqual, tells 1, 1.0 and true apart
    (Python's == does not). Shared subtrees (the skipped, unchanged ones) compare by
    identity, so this only walks what the last pass rebuilt."""
    if a is b:
        return True
    ta = type(a)
    if ta is not type(b):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if ta is dict:
        return a.keys() == b.keys() and all(strict_equal(v, b[k]) for k, v in a.items())
    if ta is list:
        return len(a) == len(b) and all(map(strict_equal, a, b))
    if ta is float and a != a:
        return b != b  # NaN: equal to itself here, so the fixpoint still ends
    return a == b


def scan(doc: Any) -> tuple[int, bool]:
    """(number of `(( ... ))`-looking strings, whether any map has a `<<` key).

    The count sets the pass cap; a document with neither, flowed without stubs,
    is returned as it is (every pass would rebuild it unchanged).
    """
    stack = [doc]
    n = 0
    merge_key = False
    while stack:
        x = stack.pop()
        t = type(x)
        if t is dict:
            if "<<" in x:
                merge_key = True
            stack.extend(x.values())
        elif t is list:
            stack.extend(x)
        elif isinstance(x, str) and x.startswith("((") and x.endswith("))"):
            n += 1
    return n, merge_key


def count_expression_strings(doc: Any) -> int:
    """Number of `(( ... ))` strings in a document (sets the pass cap)."""
    return scan(doc)[0]


def unresolved(doc: Any) -> list[UnresolvedNode]:
    """Every expression node left in the tree, with spiff's report columns."""
    out: list[UnresolvedNode] = []
    stack: list[tuple[Any, tuple[str, ...]]] = [(doc, ())]
    while stack:
        x, ctx = stack.pop()
        t = type(x)
        if t is dict:
            for k in sorted(x, reverse=True):
                stack.append((x[k], (*ctx, k)))
        elif t is list:
            for i in range(len(x) - 1, -1, -1):
                stack.append((x[i], (*ctx, f"[{i}]")))
        elif t is Expr:
            kind = x.ast[0]
            mpath = ".".join(x.path) if kind in ("merge", "auto") else ""
            out.append(UnresolvedNode(f"(( {render(x.ast)} ))", x.source, ".".join(ctx), mpath))
    return out


def flow(doc: Any, stubs: list[Any], source: str, max_passes: int | None = None) -> Any:
    """Evaluate one document against already-flowed stubs (spiff's Flow).

    The pass cap defaults to max(100, 2 x the number of expressions); real spiff
    has none and never ends on growing expressions.
    """
    try:
        return Flow(stubs, source, max_passes).run(doc)
    except _Fatal as e:
        raise SpiffParseError(f"error processing [{source}]: {e}") from None
    except RecursionError:
        raise SpiffParseError(f"error processing [{source}]: document or expression nested too deeply") from None


def cascade(docs: list[tuple[str, Any]]) -> Any:
    """spiff merge: stubs flowed right to left against the stubs after them (§2)."""
    if not docs:
        raise ValueError("merge needs at least a template")
    flowed: list[Any] = []
    for name, data in reversed(docs[1:]):
        flowed.insert(0, flow(data, list(flowed), name))
    name, data = docs[0]
    return flow(data, flowed, name)
