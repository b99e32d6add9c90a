"""Values as the PSAs write them: ids (numbers only, never put in a URL otherwise), moments in
UTC, and what comes back read leniently (a PSA's odd date is not a reason to stop)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from psa.http import PsaError

_ID = re.compile(r"[0-9]{1,12}")


def number(value: str, psa: str) -> int:
    """A PSA's id: ASCII digits only, as its URLs and queries take it."""
    if not _ID.fullmatch(value):
        raise PsaError(f"{psa} ids are numbers; {value[:40]!r} is not one")
    return int(value)


def utc_text(moment: datetime, fraction: bool = False) -> str:
    """2027-03-10T15:00:00Z (with microseconds when `fraction`)."""
    shape = "%Y-%m-%dT%H:%M:%S.%fZ" if fraction else "%Y-%m-%dT%H:%M:%SZ"
    return moment.astimezone(UTC).strftime(shape)


def moment(value: Any) -> datetime:
    """A moment the PSA wrote (with or without Z or offset; UTC when it has none); now when it
    is not one, so that a pull moves on."""
    try:
        found = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)
    return found.replace(tzinfo=found.tzinfo or UTC).astimezone(UTC)
