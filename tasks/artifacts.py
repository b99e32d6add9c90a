"""What a review shows on its flow run: the checklist, its progress and a summary with links,
the questionnaire's progress, and once assessed its findings, scorecard, frameworks, agenda and
client summary draft, and the client's roadmap and budget, as artifacts."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from notifications.messages import markdown_text as md
from reports.documents import agenda_markdown, summary_markdown
from reports.frameworks import framework_title, group_title
from reports.run_pages import cell, day, gate_description, progress, questionnaire_line, run_url
from states.lifecycle.run_records import remember_progress_artifact
from states.read.views import ReviewView
from states.store.db import UnitOfWork


def publish(uow: UnitOfWork, review: ReviewView) -> None:
    """Checklist table, progress and summary on the run, keyed by the review: replays overwrite."""
    key = f"review-{review.id}"
    create_table_artifact(
        key=f"{key}-checklist",
        table=[
            {
                "phase": t.phase,
                "task": cell(t.key),
                "title": cell(t.title),
                "assignee": cell(t.assignee or t.role),
                "due": day(t.due, missing=""),
                "status": t.status,
            }
            for t in review.tasks
        ],
        description=f"Checklist of {md(review.name)}",
    )
    done, note = progress(review), f"{review.name}: {review.status}"
    if review.progress_artifact_id:
        update_progress_artifact(UUID(review.progress_artifact_id), done, description=note)
    else:
        artifact_id = create_progress_artifact(done, key=f"{key}-progress", description=note)
        remember_progress_artifact(uow, review.id, str(artifact_id))
    links = [f"- Flow run: {run_url(review.flow_run_id)}"] if review.flow_run_id else []
    summary = [f"## {md(review.name)}", f"Status: **{review.status}**", *links]
    if review.gate:
        summary += ["", gate_description(review)]
    create_markdown_artifact(
        key=f"{key}-summary", markdown="\n".join(summary), description="Review summary"
    )


AGENDA_FROM = ("prep", "delivery", "follow_up", "qa_review", "closed")
SUMMARY_FROM = ("follow_up", "qa_review", "closed")


def publish_questionnaire(data: dict[str, Any]) -> None:
    """The questionnaire's progress: answered of its items, carried answers to confirm and
    required items still open (what holds staging's gate)."""
    create_markdown_artifact(
        key=f"review-{data['review']['id']}-questionnaire",
        markdown=f"## {md(data['review']['name'])}\n\n{questionnaire_line(data['questionnaire'])}",
        description="Questionnaire progress",
    )


SCORECARD_COLUMNS = ("label", "score", "color", "risk", "baseline", "previous", "change")


def publish_assessment(data: dict[str, Any]) -> None:
    """Findings, scorecard, frameworks, and from prep the agenda, from follow-up the client
    summary draft."""
    key, status = f"review-{data['review']['id']}", data["review"]["status"]
    name = md(data["review"]["name"])
    create_table_artifact(
        key=f"{key}-scorecard",
        table=[
            {
                **{k: cell(row[k]) for k in SCORECARD_COLUMNS},
                "items": f"{row['items_met']}/{row['items_total']}" if row["items_total"] else "",
            }
            for row in data["scorecard"]
        ],
        description=f"Scorecard of {name} against the baseline; "
        + questionnaire_line(data["questionnaire"]),
    )
    create_table_artifact(
        key=f"{key}-frameworks",
        table=[
            {
                "framework": cell(framework_title(framework)),
                "group": cell(group_title(framework, group)),
                **{k: counts[k] for k in ("met", "total", "score", "baseline", "previous")},
            }
            for framework, groups in data["frameworks"].items()
            for group, counts in groups.items()
        ],
        description=f"Frameworks of {name}: items met by group",
    )
    create_table_artifact(
        key=f"{key}-findings",
        table=[
            {
                "severity": f["severity"],
                "category": cell(f["category_label"]),
                "finding": cell(f["title"]),
                "new": "recurring" if f["recurring"] else "new",
                "disposition": cell(f["disposition"]),
                "ticket": cell(f["ticket"]["title"]) if f["ticket"] else "",
            }
            for f in data["findings"]
        ],
        description=f"Findings of {name}",
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


BUDGET_COLUMNS = ("one_time", "recurring", "hardware")


def publish_plan(data: dict[str, Any]) -> None:
    """The client's roadmap (its open initiatives) and its budget by fiscal quarter, as
    tables; amounts in the budget's currency."""
    key, name = f"review-{data['review']['id']}", md(data["review"]["client"])
    currency = data["budget"]["currency"]
    create_table_artifact(
        key=f"{key}-roadmap",
        table=[
            {
                "quarter": i["quarter"] or "",
                "initiative": cell(i["title"]),
                "category": cell(i["category"]),
                "priority": i["priority"],
                "status": i["status"],
                "one_time": i["one_time"],
                "monthly": i["monthly"],
            }
            for i in data["roadmap"]
        ],
        description=f"Roadmap of {name}: open initiatives by fiscal quarter ({currency})",
    )
    create_table_artifact(
        key=f"{key}-budget",
        table=[
            {
                "quarter": q["quarter"],
                **{
                    f"{c}_{side}": q[c][side]
                    for c in BUDGET_COLUMNS
                    for side in ("approved", "proposed")
                },
                "actual": q["actual"],
            }
            for q in data["budget"]["quarters"]
        ],
        description=f"Budget of {name} by fiscal quarter ({currency}): approved and proposed",
    )
