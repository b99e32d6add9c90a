"""Delivering notices: the outbox's messages to people's channels, retried, never blocking."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger

from bootstrap import root
from states.errors import XbrError
from states.notices.digests import plan_digests
from states.notices.planning import plan_reminders
from states.store.models import utcnow
from tasks.runtime import xbr_task


@xbr_task(retries=3, retry_delay_seconds=[2, 10, 30])
def deliver_notices(review_id: int | None = None) -> dict[str, Any]:
    """Send the notices that are due (of one review, or all); a channel that fails is tried
    again later with backoff, and the review goes on regardless."""
    # Imported here: a review's run that has nothing to send starts without Apprise and Jinja2.
    from notifications.outbox import deliver_due

    try:
        deliveries = deliver_due(root().uow(), root().settings, review_id)
    except XbrError as broken:  # e.g. a bad Apprise file: retrying cannot fix it, people can
        get_run_logger().error("notices not sent: %s", broken)
        return {"error": str(broken)}
    return {
        "sent": sum(d.status == "sent" for d in deliveries),
        "failed": [d.id for d in deliveries if d.status == "failed"],
        "without_channel": [d.id for d in deliveries if d.status == "skipped"],
    }


@xbr_task(retries=2, retry_delay_seconds=5)
def plan_due_reminders() -> int:
    """Reminders for tasks due soon or overdue and escalations of phases that got old."""
    return plan_reminders(root().uow(), utcnow())


@xbr_task(retries=2, retry_delay_seconds=5)
def plan_due_digests() -> int:
    """The daily digest of each person whose 08:00 came, with the notices held for them."""
    return plan_digests(root().uow(), utcnow(), root().settings.timezone)


@xbr_task(retries=1, retry_delay_seconds=30)
def pull_from_psa() -> dict[str, Any]:
    """Read what changed in the connected PSA since the last pull (nothing when none is
    connected): follow-up tickets closed there close here, a review's ticket moved there is
    told to its accountable person. A PSA that fails is logged; the sweep goes on."""
    from psa import connection
    from psa.connectors import open_connector
    from psa.pull import pull

    try:
        connected = connection.load(root().settings.home)
        if connected is None:
            return {}
        connector = open_connector(connected)
        try:
            done = pull(root().uow(), connected, connector)
        finally:
            connector.close()
    except XbrError as failed:  # the PSA refused or did not answer: the next sweep tries again
        get_run_logger().error("PSA not read: %s", failed)
        return {"error": str(failed)}
    return {"read": done.read, "closed": done.closed, "noted": done.noted}
