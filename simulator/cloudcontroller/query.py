"""`q` filters and pagination of CC v2 collections (`lib/vcap/rest_api/query.rb`).

Filters: `field:value`, `field>=v`, `<=`, `<`, `>`, `field IN a,b`; repeated `q=` or joined
by `;`. Each collection says which fields it filters on (a getter per field); any other
field is 400 10005, as on CC.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.cloudcontroller.errors import CCError

_FILTER = re.compile(r"^(?P<field>[a-z_]+)(?P<op>>=|<=|:|<|>| IN )(?P<value>.*)$")

Getter = Callable[[Any], Any]


@dataclass(frozen=True)
class Filter:
    field: str
    op: str
    value: str

    def matches(self, actual: Any) -> bool:
        text = _text(actual)
        if self.op == ":":
            return text == self.value
        if self.op == " IN ":
            return text in [v.strip() for v in self.value.split(",")]
        if actual is None:
            return False
        left: Any = text
        right: Any = self.value
        if isinstance(actual, int | float) and not isinstance(actual, bool):
            try:
                left, right = float(actual), float(self.value)
            except ValueError:
                return False
        return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[self.op]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def parse_filters(qs: list[str]) -> list[Filter]:
    filters = []
    for q in qs:
        for part in q.split(";"):
            if not part:
                continue
            m = _FILTER.match(part)
            if not m:
                raise CCError("BadQueryParameter", part)
            filters.append(Filter(m["field"], m["op"], m["value"]))
    return filters


def apply_filters(records: list[Any], qs: list[str], getters: dict[str, Getter]) -> list[Any]:
    filters = parse_filters(qs)
    for f in filters:
        if f.field not in getters:
            raise CCError("BadQueryParameter", f.field)
    return [r for r in records if all(f.matches(getters[f.field](r)) for f in filters)]


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total_results: int
    total_pages: int
    prev_url: str | None
    next_url: str | None


def paginate(records: list[Any], path: str, args: Any) -> Page:
    """Slice `records` as CC does (`page`, `results-per-page` ≤ 100, `order-direction`)."""
    try:
        page = int(args.get("page", 1))
        per_page = int(args.get("results-per-page", 50))
    except ValueError:
        raise CCError("BadQueryParameter", "page or results-per-page")
    if page < 1:
        raise CCError("BadQueryParameter", "page must be greater than 0")
    if not 1 <= per_page <= 100:
        raise CCError("BadQueryParameter", "results-per-page must be between 1 and 100")
    direction = args.get("order-direction", "asc")
    if direction not in ("asc", "desc"):
        raise CCError("BadQueryParameter", "order-direction")
    ordered = list(records) if direction == "asc" else list(reversed(records))
    total = len(ordered)
    pages = max(1, math.ceil(total / per_page)) if total else 1
    items = ordered[(page - 1) * per_page: page * per_page]

    def url(n: int) -> str:
        params: list[tuple[str, str]] = [("order-direction", direction), ("page", str(n)),
                                         ("results-per-page", str(per_page))]
        params += [("q", q) for q in args.getlist("q")]
        if "inline-relations-depth" in args:
            params.append(("inline-relations-depth", args["inline-relations-depth"]))
        return f"{path}?{urllib.parse.urlencode(params)}"

    return Page(items, total, pages if total else 0,
                url(page - 1) if page > 1 else None,
                url(page + 1) if page < pages else None)
