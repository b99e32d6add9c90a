"""Staging automation as Prefect tasks: the client's exports in, the assessment out."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import get_run_logger

from bootstrap import root
from states.errors import XbrError
from states.staging.intake import stage
from tasks.runtime import xbr_task


@xbr_task(retries=2, retry_delay_seconds=5)
def stage_review(review_id: int) -> dict[str, Any]:
    """Read the client's evidence folder and assess the review; a bad file is logged, and the
    review waits at its gate for people to fix it (`xbr evidence import`)."""
    try:
        result = stage(root().uow(), root().settings, review_id)
    except (XbrError, OSError) as refused:
        get_run_logger().error("staging could not read the evidence: %s", refused)
        return {"error": str(refused)}
    for note in result.notes:  # a suspect, stale or unreadable export: its check stays open
        get_run_logger().warning("review %s: %s", review_id, note)
    return asdict(result)


@xbr_task(retries=1, retry_delay_seconds=5)
def stage_new_exports() -> list[int]:
    """Reviews in staging whose client folder got new exports, assessed again (their check
    tasks close, their gate's approver is told)."""
    from states.read.views import list_reviews

    assessed = []
    for review in list_reviews(root().uow(), "staging"):
        try:
            if stage(root().uow(), root().settings, review.id).changed:
                assessed.append(review.id)
        except Exception as refused:  # one client's bad folder never stops the others
            get_run_logger().error("review %s: evidence not staged: %s", review.id, refused)
    return assessed
