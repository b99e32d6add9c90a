"""Tickets opened and closed per month, from a review's PSA export (the report's volume chart).

Decoding a stored export of thousands of tickets costs more than the rest of a report, and an
export never changes once stored: the volumes of the exports read last are kept.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from threading import Lock
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from states.staging.evidence import Source
from states.store.models import EvidenceSet

KEPT = 64  # exports whose volume is kept
Volume = list[dict[str, Any]]
_kept: OrderedDict[tuple[Any, ...], Volume] = OrderedDict()
_lock = Lock()  # the web app reads in several threads


def ticket_volume(session: Session, review_id: int) -> Volume:
    """Tickets opened and closed per month, from the review's PSA export; none when the
    stored export cannot be read back (`xbr evidence list` names it)."""
    stored = session.execute(
        select(EvidenceSet.id, EvidenceSet.imported_at, EvidenceSet.sha256).where(
            EvidenceSet.review_id == review_id, EvidenceSet.source == Source.TICKETS.value
        )
    ).first()
    if stored is None:
        return []
    # An evidence set is never changed, only replaced (deleted, then inserted anew at the time
    # of its import): its database, id, import time and content digest name its rows for good.
    key = (session.get_bind().engine.url, *stored)
    with _lock:
        volume = _kept.get(key)
        if volume is not None:
            _kept.move_to_end(key)
    if volume is None:
        volume = _volume(session, stored.id)
        with _lock:
            _kept[key] = volume
            while len(_kept) > KEPT:
                _kept.popitem(last=False)
    return [dict(month) for month in volume]  # the caller's own, to change if it likes


def _volume(session: Session, evidence_id: int) -> Volume:
    """The months of one stored export; none when it cannot be read back."""
    try:
        rows = session.scalar(select(EvidenceSet.rows).where(EvidenceSet.id == evidence_id))
        opened = Counter(r["opened"][:7] for r in rows or [])
        closed = Counter(r["closed"][:7] for r in rows or [] if r.get("closed"))
    except (ValueError, TypeError, KeyError):
        return []
    return [
        {"month": m, "opened": opened[m], "closed": closed[m]}
        for m in sorted(set(opened) | set(closed))
    ]
