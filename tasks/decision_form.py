"""The Resume form of a suspended review: what a person decides at a gate, and the decision
code that proves who they are (from their approval email or the approval page)."""

from datetime import datetime
from typing import Literal

from prefect.input import RunInput
from pydantic import Field


class PhaseDecision(RunInput):
    """A decision on the review's current gate; xbr checks it before anything changes."""

    decision: Literal["approve", "reject", "reschedule", "cancel", "reopen"] = "approve"
    decision_code: str = Field(
        default="",
        max_length=40,
        description="Your decision code for this gate, from your approval email or the "
        "approval page (e.g. 7KQ2M-XH4PB). It says who decides.",
    )
    comment: str = Field(default="", max_length=2000)
    new_meeting_date: datetime | None = None
    tasks_completed: list[str] = []
