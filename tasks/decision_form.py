"""The Resume form of a suspended review: what a person decides at a gate."""

from datetime import datetime
from typing import Literal

from prefect.input import RunInput


class PhaseDecision(RunInput):
    """A decision on the review's current gate; xbr checks it before anything changes."""

    decision: Literal["approve", "reject", "reschedule", "cancel", "reopen"] = "approve"
    approver_email: str
    comment: str = ""
    new_meeting_date: datetime | None = None
    tasks_completed: list[str] = []
