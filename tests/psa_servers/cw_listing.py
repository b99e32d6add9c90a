"""ConnectWise Manage's list queries: conditions, orderBy, fields, page and pageSize, Link."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from tests.psa_servers.common import ApiError, Request, Response
from tests.psa_servers.cw_conditions import ALIASES, ConditionError, matches, parse, resolve

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000


def invalid(message: str) -> ApiError:
    """ConnectWise's 400 for a request it cannot read."""
    return ApiError(400, {"code": "InvalidObject", "message": message, "errors": None})


def known_fields(records: Iterable[dict[str, Any]], documented: Iterable[str]) -> set[str]:
    """The fields a query may name: the documented ones and any a record carries."""
    names = set(documented) | set(ALIASES)
    for record in records:
        names.update(record)
    return names


def select(request: Request, records: list[dict[str, Any]], fields: set[str]) -> list[Any]:
    """The records meeting the request's `conditions`, in its `orderBy` order."""
    conditions = request.arg("conditions")
    if conditions:
        try:
            tree = parse(conditions, lambda name: name.split("/")[0] in fields or name in fields)
        except ConditionError as error:
            raise invalid(f"conditions: {error}") from None
        records = [r for r in records if matches(tree, r)]
    return _ordered(records, request.arg("orderBy") or "id asc", fields)


def page_of(
    request: Request, records: list[dict[str, Any]], fields: set[str], root: str
) -> Response:
    """One page of the selected records, trimmed to `fields=`, with its `Link` header."""
    selected = select(request, records, fields)
    page = _whole(request.arg("page"), 1, "page")
    size = min(_whole(request.arg("pageSize"), DEFAULT_PAGE_SIZE, "pageSize"), MAX_PAGE_SIZE)
    rows = selected[(page - 1) * size : page * size]
    wanted = [f.strip() for f in (request.arg("fields") or "").split(",") if f.strip()]
    body = [_trimmed(row, wanted) if wanted else row for row in rows]
    last = max(1, -(-len(selected) // size))
    link = link_header(root + request.target, page, last)
    return Response(200, body, {"Link": link} if link else {})


def link_header(url: str, page: int, last: int) -> str:
    """RFC 5988 links to the next, last, first and previous pages (GitHub's rule of omission)."""
    links = []
    if page < last:
        links += [(_with_page(url, page + 1), "next"), (_with_page(url, last), "last")]
    if page > 1:
        links += [(_with_page(url, 1), "first"), (_with_page(url, min(page - 1, last)), "prev")]
    return ", ".join(f'<{href}>; rel="{rel}"' for href, rel in links)


def _with_page(url: str, page: int) -> str:
    parts = urlsplit(url)
    pairs = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() != "page"
    ]
    query = urlencode([*pairs, ("page", str(page))], quote_via=quote)
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{query}"


def _whole(text: str | None, default: int, name: str) -> int:
    if text is None or text == "":
        return default
    try:
        number = int(text)
    except ValueError:
        raise invalid(f"{name} must be a whole number, not {text!r}") from None
    if number < 1:
        raise invalid(f"{name} must be 1 or more")
    return number


def _ordered(records: list[dict[str, Any]], order_by: str, fields: set[str]) -> list[Any]:
    ordered = list(records)
    keys = [part.split() for part in order_by.split(",") if part.strip()]
    for key in reversed(keys):
        name, direction = key[0], (key[1].lower() if len(key) > 1 else "asc")
        if name.split("/")[0] not in fields or direction not in ("asc", "desc") or len(key) > 2:
            raise invalid(f"orderBy: cannot order by {' '.join(key)!r}")
        ordered.sort(key=_by(name), reverse=direction == "desc")
    return ordered


def _by(path: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    return lambda record: _sort_key(resolve(record, path))


def _sort_key(value: Any) -> tuple[int, Any]:
    # SQL Server sorts nulls first; values of different types never meet in one column
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value.casefold())
    return (3, str(value))


def _trimmed(record: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in wanted:
        parts = path.split("/")
        value = resolve(record, path)
        if value is None and parts[0] not in record:
            continue
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return out


def count_of(request: Request, records: list[dict[str, Any]], fields: set[str]) -> Response:
    """`{"count": n}` of the records meeting the request's conditions."""
    return Response(200, {"count": len(select(request, records, fields))})
