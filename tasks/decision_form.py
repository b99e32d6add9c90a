"""The Resume form of a suspended review: what a person decides at a gate, and the decision
code that proves who they are (from their approval email or the approval page)."""

from typing import Literal

from prefect.input import RunInput
from pydantic import Field

# A new meeting is typed as text in the client's time zone and checked by xbr, as on the command
# line: a date-time field would show the browser's or UTC's clock, and an optional one renders
# as "Property is type None" in Prefect's form.
MEETING_HELP = (
    "Only to approve the scheduling gate or to reschedule: the meeting in the client's time "
    "zone (named in the description above), as YYYY-MM-DDTHH:MM, e.g. 2026-12-15T14:00. "
    "Leave it empty otherwise."
)


class PhaseDecision(RunInput):
    """A decision on the review's current gate; xbr checks it before anything changes."""

    decision_code: str = Field(
        default="",
        max_length=40,
        description="Your decision code for this gate, from your approval email or the "
        "approval page (e.g. 7KQ2M-XH4PB). It says who decides.",
    )
    decision: Literal["approve", "reject", "reschedule", "cancel", "reopen"] = "approve"
    comment: str = Field(default="", max_length=2000, description="Why, for the audit trail.")
    new_meeting_date: str = Field(default="", max_length=40, description=MEETING_HELP)
    tasks_completed: list[str] = Field(
        default=[],
        description="Keys of the checklist's tasks you did (each line's first word above, "
        "e.g. confirm-qbr-scope), if any.",
    )
