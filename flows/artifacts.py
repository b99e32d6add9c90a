"""What a review shows on its flow run: the checklist, its progress and a summary with links."""

from __future__ import annotations

import os
from typing import Any

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from states.db import UnitOfWork
from states.runs import remember_progress_artifact


def run_url(flow_run_id: str | None) -> str | None:
    """The Prefect UI page of a flow run."""
    ui = os.environ.get("PREFECT_UI_URL", "").rstrip("/")
    return f"{ui}/runs/flow-run/{flow_run_id}" if ui and flow_run_id else None


def checklist_markdown(review: dict[str, Any]) -> str:
    """The current phase's tasks as a Markdown list, with who and when."""
    rows = [t for t in review["tasks"] if t["phase"] == review["status"]]
    if not rows:
        return "_No tasks in this phase._"
    marks = {"done": "x", "skipped": "-", "open": " "}
    return "\n".join(
        f"- [{marks[t['status']]}] `{t['key']}` {t['title']} — {t['assignee'] or t['role']}, "
        f"due {(t['due'] or '-')[:10]}{'' if t['required'] else ' (optional)'}"
        for t in rows
    )


def gate_description(review: dict[str, Any]) -> str:
    """The Resume form's description: any refusal first, then what the gate needs."""
    gate = review["gate"]
    lines = []
    if review["last_refusal"]:
        lines += [f"> **Refused:** {review['last_refusal']}", ""]
    lines += [
        f"### {review['name']}: {gate['phase']} gate (round {gate['round']})",
        f"Approver: **{gate['accountable_role']}** "
        f"({', '.join(gate['eligible_approvers']) or 'nobody holds the role yet'}).",
        f"Meeting: {review['meeting_at'] or 'not set'}.",
        "",
        checklist_markdown(review),
    ]
    if gate["open_required_tasks"]:
        lines += ["", f"Still open: {', '.join(gate['open_required_tasks'])}."]
    return "\n".join(lines)


def _progress(review: dict[str, Any]) -> float:
    required = [t for t in review["tasks"] if t["required"]]
    closed = [t for t in required if t["status"] != "open"]
    return round(100 * len(closed) / len(required), 1) if required else 100.0


def publish(uow: UnitOfWork, review: dict[str, Any]) -> None:
    """Checklist table, progress and summary on the run, keyed by the review: replays overwrite."""
    key = f"review-{review['id']}"
    create_table_artifact(
        key=f"{key}-checklist",
        table=[
            {
                "phase": t["phase"],
                "task": t["key"],
                "title": t["title"],
                "assignee": t["assignee"] or t["role"],
                "due": (t["due"] or "")[:10],
                "status": t["status"],
            }
            for t in review["tasks"]
        ],
        description=f"Checklist of {review['name']}",
    )
    progress, note = _progress(review), f"{review['name']}: {review['status']}"
    if review["progress_artifact_id"]:
        update_progress_artifact(review["progress_artifact_id"], progress, description=note)
    else:
        artifact_id = create_progress_artifact(progress, key=f"{key}-progress", description=note)
        remember_progress_artifact(uow, review["id"], str(artifact_id))
    links = [f"- Flow run: {run_url(review['flow_run_id'])}"] if review["flow_run_id"] else []
    summary = [f"## {review['name']}", f"Status: **{review['status']}**", *links]
    if review["gate"]:
        summary += ["", gate_description(review)]
    create_markdown_artifact(
        key=f"{key}-summary", markdown="\n".join(summary), description="Review summary"
    )


AGENDA_FROM = ("prep", "delivery", "follow_up", "qa_review", "closed")
SUMMARY_FROM = ("follow_up", "qa_review", "closed")


def publish_assessment(data: dict[str, Any]) -> None:
    """Findings, scorecard, and from prep the agenda, from follow-up the client summary draft."""
    from tasks.outputs import agenda_markdown, summary_markdown

    key, status = f"review-{data['review']['id']}", data["review"]["status"]
    create_table_artifact(
        key=f"{key}-scorecard",
        table=[
            {k: row[k] for k in ("label", "score", "color", "baseline", "change")}
            for row in data["scorecard"]
        ],
        description=f"Scorecard of {data['review']['name']} against the baseline",
    )
    create_table_artifact(
        key=f"{key}-findings",
        table=[
            {
                "severity": f["severity"],
                "category": f["category_label"],
                "finding": f["title"],
                "new": "recurring" if f["recurring"] else "new",
                "disposition": f["disposition"],
                "ticket": f["ticket"]["title"] if f["ticket"] else "",
            }
            for f in data["findings"]
        ],
        description=f"Findings of {data['review']['name']}",
    )
    if status in AGENDA_FROM:
        create_markdown_artifact(
            key=f"{key}-agenda", markdown=agenda_markdown(data), description="Agenda"
        )
    if status in SUMMARY_FROM:
        create_markdown_artifact(
            key=f"{key}-client-summary",
            markdown=summary_markdown(data),
            description="Client summary email (draft)",
        )
