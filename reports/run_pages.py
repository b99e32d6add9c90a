"""What a review shows on its flow run, as Markdown: the checklist, the Resume form's
description and the run's progress. Every value from the data is escaped for Markdown (`md`);
a table artifact's cells are one line of text (`cell`)."""

from __future__ import annotations

import os
import re
from datetime import datetime

from notifications.messages import local_time
from notifications.messages import markdown_text as md
from states.lifecycle.run_records import REFUSED
from states.read.views import ReviewView

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")


def cell(value: object) -> object:
    """A table artifact's cell: text on one line without control characters; numbers and
    None as they are."""
    return _CONTROLS.sub(" ", value).strip() if isinstance(value, str) else value


def run_url(flow_run_id: str | None) -> str | None:
    """The Prefect UI page of a flow run."""
    ui = os.environ.get("PREFECT_UI_URL", "").rstrip("/")
    return f"{ui}/runs/flow-run/{flow_run_id}" if ui and flow_run_id else None


def day(moment: datetime | None, missing: str = "-") -> str:
    """A moment's date as YYYY-MM-DD, or `missing`."""
    return moment.date().isoformat() if moment else missing


def checklist_markdown(review: ReviewView) -> str:
    """The current phase's tasks as a Markdown list, with who and when."""
    rows = [t for t in review.tasks if t.phase == review.status]
    if not rows:
        return "_No tasks in this phase._"
    marks = {"done": "x", "skipped": "-", "open": " "}
    # a task list's line is shown as text in the Resume form: no code span around the key
    return "\n".join(
        f"- [{marks[t.status]}] {md(t.key)}: {md(t.title)} — {md(t.assignee or t.role)}, "
        f"due {day(t.due)}{'' if t.required else ' (optional)'}"
        for t in rows
    )


def gate_description(review: ReviewView, zone: str = "UTC") -> str:
    """The Resume form's description: any refusal first, then how to prove who decides, then
    what the gate needs; dates in the client's time zone `zone`."""
    gate = review.gate
    if gate is None:
        return f"### {md(review.name)}: {review.status}"
    lines = [f"> {refusal}", ""] if (refusal := refusal_line(review, zone)) else []
    meeting = local_time(review.meeting_at, zone) if review.meeting_at else "not set"
    lines += [
        "**Prove who you are with your decision code** for this gate: copy it from your "
        "approval email or the approval page into *Decision Code*.",
        "",
        f"### {md(review.name)}: {gate.phase.replace('_', ' ')} gate",
        f"Approver: **{gate.accountable_role}** "
        f"({md(', '.join(gate.eligible_approvers)) or 'nobody holds the role yet'}).",
        f"Meeting: {meeting} (the client's time, {md(zone)}).",
        "",
        checklist_markdown(review),
    ]
    if gate.open_required_tasks:
        lines += [
            "",
            f"Still open: {'; '.join(_open_task(review, k) for k in gate.open_required_tasks)}.",
        ]
    if gate.open_required_items:
        lines += [
            "",
            f"Assessment: {len(gate.open_required_items)} required items without an answer "
            f"(`xbr assess {review.id}`, or the approval page).",
        ]
    return "\n".join(lines)


def refusal_line(review: ReviewView, zone: str = "UTC") -> str | None:
    """**Refused:** why, by whom and when, while a refusal is the last word on the gate."""
    if not review.last_refusal:
        return None
    entry = next(a for a in reversed(review.audit) if a.trigger == REFUSED)
    return f"**Refused:** {md(entry.comment)} (by {md(entry.actor)}, {local_time(entry.at, zone)})"


def _open_task(review: ReviewView, key: str) -> str:
    """A task still open, with why when xbr kept it open (a suspect or stale export)."""
    task = review.task(key)
    note = f" ({md(task.note)})" if task and task.note else ""
    return f"{md(key)}{note}"


def questionnaire_line(progress: dict[str, int]) -> str:
    """The questionnaire's progress in a line (numbers only, safe as text and as Markdown)."""
    if not progress["items"]:
        return "Questionnaire: no standard is assessed in this review."
    return (
        f"Questionnaire: {progress['answered']} of {progress['items']} items answered "
        f"({progress['by_people']} by people, {progress['by_evidence']} by the evidence); "
        f"{progress['carried']} carried from the last review to confirm; "
        f"{progress['open_required']} required still open."
    )


def progress(review: ReviewView) -> float:
    """Per cent of the review's required tasks done or skipped."""
    required = [t for t in review.tasks if t.required]
    closed = [t for t in required if t.status != "open"]
    return round(100 * len(closed) / len(required), 1) if required else 100.0
