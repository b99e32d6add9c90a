"""What an approval notice adds to its message: what the phase produced, and the full report's
link, which takes the notice's own signed link (the approval page checks it the same way)."""

from __future__ import annotations

from typing import Any

from states.lifecycle.machine import Phase
from states.read.gate_evidence import gate_evidence
from states.read.views import ReviewView
from states.settings import Settings
from states.store.db import UnitOfWork

REPORT = "/report/"  # the approval page's route of a review's report
# the phases whose evidence is drawn from the review's report data (gate_evidence's `data`)
_FROM_REPORT = {Phase.STAGING, Phase.PREP}


def report_url(settings: Settings, action: str | None) -> str | None:
    """The report's address for the token of a page link (`action`), None without one."""
    page = f"{settings.page_url}/r/"
    if not action or not action.startswith(page):
        return None
    return f"{settings.page_url}{REPORT}{action.removeprefix(page)}"


def reads_report(review: ReviewView, phase: str) -> bool:
    """Whether the approval notice of `phase` shows evidence drawn from the report's data, which
    the notices of one pass can then read once for all their approvers."""
    return phase == review.status and phase in _FROM_REPORT


def approval_context(
    uow: UnitOfWork,
    settings: Settings,
    review: ReviewView,
    phase: str,
    action: str | None,
    to: str,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`evidence` of the phase as its recipient `to` may see it (None once the review has left
    it) and the `report` link; `data`: the review's report data, when read already."""
    current = phase == review.status
    return {
        "evidence": gate_evidence(uow, review.id, to, settings.currency, data) if current else None,
        "report": report_url(settings, action) if current else None,
    }
