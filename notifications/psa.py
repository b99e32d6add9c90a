"""Follow-up tickets for the MSP's PSA: one CSV file of them all, and a JSON webhook per ticket.

A cell that a spreadsheet would run as a formula (=, +, -, @, tab, carriage return first) is
written with a leading apostrophe: a client called "=2+5" stays a name when the file is opened.

The CSV file is rewritten whole from the database (to a temporary file, then renamed), so a
retried or replayed export never adds a line twice. The webhook carries the outbox's dedupe key
as an Idempotency-Key header, so the PSA side can drop a resend after a crash.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import httpx

from states.read.scorecards import client_tickets
from states.store.db import UnitOfWork

COLUMNS = [
    "id", "client", "key", "title", "detail", "severity", "owner_role", "due", "status",
    "review_id", "created_at",
]  # fmt: skip


def write_csv(uow: UnitOfWork, path: Path) -> Path:
    """Write every follow-up ticket to `path` (oldest first), replacing the file atomically."""
    rows = sorted(client_tickets(uow), key=lambda t: t["id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    # a temporary file of its own: two deliverers in one process never write the same one
    handle, name = tempfile.mkstemp(prefix=".tickets-", suffix=".tmp", dir=path.parent)
    partial = Path(name)
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: spreadsheet_cell(v) for k, v in row.items()} for row in rows)
    os.replace(partial, path)
    return path


# A cell a spreadsheet would run as a formula (OWASP's CSV injection rule)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """A text value that a spreadsheet would read as a formula gets a leading apostrophe, so
    it shows as the text it is; numbers and other text are written as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def masked(url: str) -> str:
    """The webhook as results and logs show it: scheme://host:port, no path, query or secret."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}:{parsed.port or ''}".rstrip(":")


def post(
    url: str, event: str, data: dict[str, Any], idempotency_key: str, name: str = "ticket"
) -> str | None:
    """POST the event (ticket.created, ticket.closed, initiative.approved) and its object (under
    `name`) as JSON; None when the PSA took it, else the reason."""
    try:
        response = httpx.post(
            url,
            content=json.dumps({"event": event, name: data}),
            headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
            timeout=10,
        )
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        return f"{type(error).__name__}: {error}"
    if response.is_success:
        return None
    return f"HTTP {response.status_code}: {response.text[:200]}"
