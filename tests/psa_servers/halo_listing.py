"""HaloPSA's list parameters: filters, `order`/`orderdesc`, `pageinate` with `page_size` ≤ 100."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tests.psa_servers.common import ApiError, Request, parse_datetime

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50
EMPTY_DATE = "1900-01-01T00:00:00"  # how Halo writes a date it does not have

Record = dict[str, Any]
Test = Callable[[Record], bool]


def bad_request(message: str) -> ApiError:
    """Halo's 400 with a message."""
    return ApiError(400, {"Message": message})


def flag(request: Request, name: str) -> bool:
    """A boolean query parameter: `true` or `1`."""
    return (request.arg(name) or "").lower() in ("true", "1")


def number(request: Request, name: str) -> int | None:
    """A whole-number query parameter, None when absent."""
    text = request.arg(name)
    if text in (None, ""):
        return None
    try:
        return int(str(text))
    except ValueError:
        raise bad_request(f"{name} must be a whole number, not {text!r}") from None


def moment(request: Request, name: str) -> datetime | None:
    """A date-time query parameter (any ISO 8601 form, UTC when it names no zone)."""
    text = request.arg(name)
    if not text:
        return None
    try:
        return parse_datetime(text)
    except ValueError:
        raise bad_request(f"{name} must be a date and time, not {text!r}") from None


def ticket_tests(request: Request) -> list[Test]:
    """The filters a `GET /api/Tickets` (or Opportunities) asks for."""
    tests: list[Test] = []
    for field in ("client_id", "status_id", "agent_id", "tickettype_id", "site_id", "user_id"):
        wanted = number(request, field)
        if wanted is not None:
            tests.append(_equals(field, wanted))
    if flag(request, "open_only"):
        tests.append(lambda r: not r.get("hasbeenclosed"))
    if flag(request, "closed_only"):
        tests.append(lambda r: bool(r.get("hasbeenclosed")))
    tests += _text_tests(request)
    since, until = moment(request, "lastupdatefromdate"), moment(request, "lastupdatetodate")
    if since is not None:
        tests.append(lambda r: parse_datetime(r["last_update"]) >= since)
    if until is not None:
        tests.append(lambda r: parse_datetime(r["last_update"]) <= until)
    ids = request.arg("ticketids")
    if ids:
        wanted_ids = {int(i) for i in ids.split(",") if i.strip().isdigit()}
        tests.append(lambda r: r["id"] in wanted_ids)
    return tests


def _text_tests(request: Request) -> list[Test]:
    searches = {
        "search": ("summary", "details", "third_party_id_string"),
        "search_summary": ("summary",),
        "search_details": ("details",),
    }
    tests: list[Test] = []
    for name, fields in searches.items():
        text = (request.arg(name) or "").casefold()
        if text:
            tests.append(_mentions(text, fields))
    return tests


def _equals(field: str, wanted: int) -> Test:
    return lambda record: record.get(field) == wanted


def _mentions(text: str, fields: tuple[str, ...]) -> Test:
    return lambda record: any(text in str(record.get(f) or "").casefold() for f in fields)


def listed(request: Request, records: list[Record], tests: list[Test], key: str) -> Record:
    """`{"record_count": total, key: rows}` of the records passing `tests`, ordered and paged."""
    chosen = [r for r in records if all(test(r) for test in tests)]
    order = request.arg("order") or "id"
    chosen.sort(key=lambda r: _sort_key(r.get(order)), reverse=flag(request, "orderdesc"))
    if flag(request, "pageinate"):
        size = min(number(request, "page_size") or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        page = max(number(request, "page_no") or 1, 1)
        rows = chosen[(page - 1) * size : page * size]
    else:
        limit = number(request, "count")
        rows = chosen[:limit] if limit else chosen
    return {"record_count": len(chosen), key: rows}


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, str(value).casefold())
