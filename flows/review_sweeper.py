"""The `review-sweeper` flow: wake reviews whose date came, re-attach reviews whose run is gone."""

from __future__ import annotations

from prefect import flow, get_run_logger

from tasks.notify import deliver_notices, plan_due_digests, plan_due_reminders, pull_from_psa
from tasks.staging import stage_new_exports
from tasks.sweeping import pull_waiting_reviews, reattach_lost_runs, wake_due_reviews


@flow(name="review-sweeper", log_prints=True)
def review_sweeper() -> dict[str, list[int]]:
    """Keep every open review moving: wake the ones whose date came, pull queued reviews into
    freed places, re-attach lost runs,
    assess new exports of reviews in staging, remind people of tasks due and phases grown old,
    gather the daily digests whose 08:00 came, read what changed in the PSA, and deliver the
    notices, ticket exports and PSA updates still due."""
    woken = wake_due_reviews()
    pulled = pull_waiting_reviews()
    reattached = reattach_lost_runs()
    assessed = stage_new_exports()
    reminders = plan_due_reminders()
    digests = plan_due_digests()
    from_psa = pull_from_psa()
    delivered = deliver_notices()
    get_run_logger().info(
        "woke %s, pulled %s, re-attached %s, assessed %s, %s new reminders, %s digests, "
        "from the PSA %s, notices %s",
        woken, pulled, reattached, assessed, reminders, digests, from_psa, delivered,
    )  # fmt: skip
    return {"woken": woken, "pulled": pulled, "reattached": reattached, "assessed": assessed}
