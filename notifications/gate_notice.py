"""What an approval notice adds to its message: what the phase produced, and the full report's
link, which takes the notice's own signed link (the approval page checks it the same way)."""

from __future__ import annotations

from typing import Any

from states.read.gate_evidence import gate_evidence
from states.read.views import ReviewView
from states.settings import Settings
from states.store.db import UnitOfWork

REPORT = "/report/"  # the approval page's route of a review's report


def report_url(settings: Settings, action: str | None) -> str | None:
    """The report's address for the token of a page link (`action`), None without one."""
    page = f"{settings.page_url}/r/"
    if not action or not action.startswith(page):
        return None
    return f"{settings.page_url}{REPORT}{action.removeprefix(page)}"


def approval_context(
    uow: UnitOfWork,
    settings: Settings,
    review: ReviewView,
    phase: str,
    action: str | None,
    to: str,
) -> dict[str, Any]:
    """`evidence` of the phase as its recipient `to` may see it (None once the review has left
    it) and the `report` link."""
    current = phase == review.status
    return {
        "evidence": gate_evidence(uow, review.id, to, settings.currency) if current else None,
        "report": report_url(settings, action) if current else None,
    }
