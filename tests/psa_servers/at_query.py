"""Autotask's QueryModel: `{"MaxRecords", "IncludeFields", "filter"}`, its operators and pages.

Field names and operator names are case-insensitive; text compares case-insensitively and
dates as dates (SQL Server does both); a missing value meets only `notExist`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tests.psa_servers.common import parse_datetime

MAX_RECORDS = 500
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_GROUPS = ("and", "or")


class QueryError(ValueError):
    """A query Autotask would refuse with 400 and `{"errors": [message]}`."""


@dataclass(frozen=True)
class Query:
    """A parsed QueryModel."""

    max_records: int
    include: tuple[str, ...]
    filter: tuple[dict[str, Any], ...]
    raw: dict[str, Any]  # as the client sent it, for the `search=` of the page URLs


@dataclass(frozen=True)
class Page:
    """One page of a query's records and the ids its neighbours start from."""

    items: list[dict[str, Any]]
    before: int | None  # paging for the previous page: ids below this one
    after: int | None  # paging for the next page: ids above this one


def _member(raw: dict[str, Any], name: str) -> Any:
    for key, value in raw.items():
        if key.lower() == name.lower():
            return value
    return None


def parse_query(raw: Any) -> Query:
    """The query in a body or `search=` JSON; QueryError if it is not a QueryModel."""
    if not isinstance(raw, dict):
        raise QueryError("The query must be a JSON object")
    size = _member(raw, "MaxRecords")
    size = MAX_RECORDS if size is None else size
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_RECORDS:
        raise QueryError(f"MaxRecords must be between 1 and {MAX_RECORDS}")
    include = _member(raw, "IncludeFields") or []
    items = _member(raw, "filter") or []
    if not isinstance(include, list) or not isinstance(items, list):
        raise QueryError("IncludeFields and filter must be arrays")
    return Query(size, tuple(str(f) for f in include), tuple(items), raw)


def check(items: Iterable[Any], fields: Callable[[str], str | None]) -> None:
    """QueryError unless every condition is well formed and names a field the entity has."""
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("op"), str):
            raise QueryError(f"A filter item needs an op: {item!r}")
        op = item["op"].lower()
        if op in _GROUPS:
            check(item.get("items") or [], fields)
            continue
        if op not in _OPERATORS:
            raise QueryError(f"Unknown filter operator {item['op']!r}")
        name = item.get("field")
        if not item.get("udf") and (not isinstance(name, str) or fields(name) is None):
            raise QueryError(f"Unable to find {name} in the entity")


def matches(items: Iterable[dict[str, Any]], record: dict[str, Any]) -> bool:
    """Whether `record` meets every condition (the top level is ANDed)."""
    return all(_meets(item, record) for item in items)


def _meets(item: dict[str, Any], record: dict[str, Any]) -> bool:
    op = item["op"].lower()
    if op in _GROUPS:
        results = (_meets(inner, record) for inner in item.get("items") or [])
        return any(results) if op == "or" else all(results)
    actual = _value(record, item)
    if op in ("exist", "notexist"):
        present = actual not in (None, "")
        return present if op == "exist" else not present
    if actual is None:
        return False
    return _OPERATORS[op](actual, item.get("value"))


def _value(record: dict[str, Any], item: dict[str, Any]) -> Any:
    name = str(item.get("field", ""))
    if item.get("udf"):
        for udf in record.get("userDefinedFields") or []:
            if str(udf.get("name", "")).lower() == name.lower():
                return udf.get("value")
        return None
    for key, value in record.items():
        if key.lower() == name.lower():
            return value
    return None


def _pair(actual: Any, expected: Any) -> tuple[Any, Any] | None:
    """Both sides as one comparable type, or None."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        truth = {"true": True, "false": False}
        left = truth.get(str(actual).lower(), actual)
        right = truth.get(str(expected).lower(), expected)
        return (left, right) if isinstance(left, bool) and isinstance(right, bool) else None
    if isinstance(actual, int | float) or isinstance(expected, int | float):
        try:
            return float(actual), float(expected)
        except (TypeError, ValueError):
            return None
    if isinstance(actual, str) and isinstance(expected, str):
        if _DATE.match(actual) and _DATE.match(expected):
            try:
                return parse_datetime(actual), parse_datetime(expected)
            except ValueError:
                pass
        return actual.casefold(), expected.casefold()
    return None


def _compare(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def run(actual: Any, expected: Any) -> bool:
        pair = _pair(actual, expected)
        return pair is not None and test(*pair)

    return run


def _text(test: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def run(actual: Any, expected: Any) -> bool:
        return test(str(actual).casefold(), str(expected).casefold())

    return run


def _among(actual: Any, expected: Any) -> bool:
    return isinstance(expected, list) and any(_OPERATORS["eq"](actual, one) for one in expected)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": _compare(lambda a, b: bool(a == b)),
    "noteq": _compare(lambda a, b: bool(a != b)),
    "gt": _compare(lambda a, b: bool(a > b)),
    "gte": _compare(lambda a, b: bool(a >= b)),
    "lt": _compare(lambda a, b: bool(a < b)),
    "lte": _compare(lambda a, b: bool(a <= b)),
    "beginswith": _text(str.startswith),
    "endswith": _text(str.endswith),
    "contains": _text(lambda a, b: b in a),
    "exist": lambda a, b: True,
    "notexist": lambda a, b: True,
    "in": _among,
    "notin": lambda a, b: isinstance(b, list) and not _among(a, b),
}


def page(records: list[dict[str, Any]], size: int, paging: dict[str, Any]) -> Page:
    """One page of `records` (sorted by id) after or before the id in `paging`."""
    if "afterId" in paging:
        chosen = [r for r in records if r["id"] > paging["afterId"]][:size]
    elif "beforeId" in paging:
        chosen = [r for r in records if r["id"] < paging["beforeId"]][-size:]
    else:
        chosen = records[:size]
    if not chosen:
        return Page([], None, None)
    first, last = chosen[0]["id"], chosen[-1]["id"]
    before = first if any(r["id"] < first for r in records) else None
    after = last if any(r["id"] > last for r in records) else None
    return Page(chosen, before, after)


def trimmed(record: dict[str, Any], include: tuple[str, ...]) -> dict[str, Any]:
    """`record` with only the IncludeFields (all fields when none are named)."""
    if not include:
        return record
    wanted = {name.lower() for name in include}
    return {k: v for k, v in record.items() if k.lower() in wanted}


def page_url(base: str, paging: dict[str, Any], query: Query) -> str:
    """`{base}?paging=...&search=...`, both URL-encoded JSON."""
    encoded = quote(json.dumps(paging, separators=(",", ":")), safe="")
    search = quote(json.dumps(query.raw, separators=(",", ":")), safe="")
    return f"{base}?paging={encoded}&search={search}"
