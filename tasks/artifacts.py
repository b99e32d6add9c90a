"""What a review shows on its flow run, one artifact per kind: the checklist, its progress, a
summary (status, any refusal, the questionnaire, the gate), and once assessed its findings,
scorecard (with the frameworks' groups), agenda and client summary draft, and the client's
plan (roadmap and budget). Each is made once on the run under its stable key and then updated
in place, so the run's Artifacts tab holds at most eight."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from prefect.client.schemas.actions import ArtifactCreate, ArtifactUpdate
from prefect.exceptions import ObjectNotFound

from notifications.messages import markdown_text as md
from reports.documents import agenda_markdown, summary_markdown
from reports.frameworks import framework_title, group_title
from reports.run_pages import (
    cell,
    day,
    gate_description,
    progress,
    questionnaire_line,
    refusal_line,
    run_url,
)
from states.lifecycle.run_records import remember_artifacts, run_artifacts
from states.read.views import ReviewView
from states.store.db import UnitOfWork
from tasks.flow_runs import prefect_client

AGENDA_FROM = ("prep", "delivery", "follow_up", "qa_review", "closed")
SUMMARY_FROM = ("follow_up", "qa_review", "closed")


class RunArtifacts:
    """The artifacts of one review on one flow run, by kind: made once, then updated in place
    (which also updates the latest-by-key view, as long as it is the key's latest)."""

    def __init__(self, uow: Callable[[], UnitOfWork], review_id: int, flow_run_id: str) -> None:
        self.uow, self.review_id, self.flow_run_id = uow, review_id, flow_run_id
        self.ids = run_artifacts(uow(), review_id, flow_run_id)

    def put(self, kind: str, type_: str, data: Any, description: str) -> None:
        """Update the run's artifact of this kind, or make it (once) when the run has none."""
        client = prefect_client()
        if kind in self.ids:
            try:
                update = ArtifactUpdate(data=data, description=description)
                client.update_artifact(UUID(self.ids[kind]), update)
                return
            except ObjectNotFound:  # deleted in the UI: make it again
                pass
        made = client.create_artifact(
            ArtifactCreate(
                key=f"review-{self.review_id}-{kind}",
                type=type_,
                data=data,
                description=description,
                flow_run_id=UUID(self.flow_run_id),
            )
        )
        self.ids[kind] = str(made.id)
        # remembered at once: a retried task updates it instead of making a second one
        remember_artifacts(self.uow(), self.review_id, self.flow_run_id, self.ids)

    def table(self, kind: str, rows: list[dict[str, Any]], description: str) -> None:
        self.put(kind, "table", json.dumps(rows), description)

    def markdown(self, kind: str, text: str, description: str) -> None:
        self.put(kind, "markdown", text, description)


def publish(run: RunArtifacts, review: ReviewView, data: dict[str, Any]) -> None:
    """Every artifact the review shows at its current gate."""
    zone = data["review"]["timezone"]
    run.table(
        "checklist",
        [
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
        f"Checklist of {md(review.name)}",
    )
    run.put("progress", "progress", progress(review), f"{review.name}: {review.status}")
    run.markdown("summary", summary(review, data, zone), "Review summary")
    if data["assessed"]:
        publish_assessment(run, data)
    if data["roadmap"] or data["last_plan"]:
        run.markdown("plan", plan_markdown(data), f"Plan of {md(data['review']['client'])}")


def summary(review: ReviewView, data: dict[str, Any], zone: str) -> str:
    """The review's status, any refusal, links, the questionnaire's progress and the gate."""
    status = "Refused" if review.gate and review.last_refusal else review.status
    lines = [f"## {md(review.name)}", f"Status: **{status}**"]
    if review.gate and (refusal := refusal_line(review, zone)):
        lines += ["", refusal]
    if url := run_url(review.flow_run_id):
        lines += ["", f"- Flow run: {url}"]
    if data["questionnaire"]["items"]:
        lines += ["", questionnaire_line(data["questionnaire"])]
    if review.gate:
        lines += ["", gate_description(review, zone)]
    return "\n".join(lines)


SCORECARD_COLUMNS = ("label", "score", "color", "risk", "baseline", "previous", "change")


def publish_assessment(run: RunArtifacts, data: dict[str, Any]) -> None:
    """Findings and the scorecard (its categories, then each framework's groups), and from
    prep the agenda, from follow-up the client summary draft."""
    status, name = data["review"]["status"], md(data["review"]["name"])
    run.table("scorecard", scorecard_rows(data), f"Scorecard of {name} against the baseline")
    run.table(
        "findings",
        [
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
        f"Findings of {name}",
    )
    if status in AGENDA_FROM:
        run.markdown("agenda", agenda_markdown(data), "Agenda")
    if status in SUMMARY_FROM:
        run.markdown("client-summary", summary_markdown(data), "Client summary email (draft)")


def scorecard_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The scorecard's categories, then each framework's groups (items met of the group's)."""
    categories = [
        {
            **{k: cell(row[k]) for k in SCORECARD_COLUMNS},
            "items": f"{row['items_met']}/{row['items_total']}" if row["items_total"] else "",
        }
        for row in data["scorecard"]
    ]
    groups = [
        {
            "label": cell(f"{framework_title(framework)}: {group_title(framework, group)}"),
            **{k: counts[k] for k in ("score", "baseline", "previous")},
            "items": f"{counts['met']}/{counts['total']}",
        }
        for framework, by_group in data["frameworks"].items()
        for group, counts in by_group.items()
    ]
    return categories + groups


BUDGET_COLUMNS = ("one_time", "recurring", "hardware")


def plan_markdown(data: dict[str, Any]) -> str:
    """The client's roadmap (its open initiatives by fiscal quarter) and its budget by fiscal
    quarter, approved and proposed, as Markdown tables in the budget's currency."""
    currency = md(data["budget"]["currency"])
    roadmap = [
        [i["quarter"] or "", i["title"], i["category"], i["priority"], i["status"],
         i["one_time"], i["monthly"]]
        for i in data["roadmap"]
    ]  # fmt: skip
    budget = [
        [q["quarter"], *(q[c][side] for c in BUDGET_COLUMNS for side in ("approved", "proposed")),
         q["actual"]]
        for q in data["budget"]["quarters"]
    ]  # fmt: skip
    money = [f"{c.replace('_', ' ')} {side}" for c in BUDGET_COLUMNS
             for side in ("approved", "proposed")]  # fmt: skip
    return "\n".join(
        [
            f"## Roadmap of {md(data['review']['client'])} ({currency})",
            "",
            _table(
                ["quarter", "initiative", "category", "priority", "status", "one time", "monthly"],
                roadmap,
            )  # fmt: skip
            if roadmap
            else "_No open initiatives._",
            "",
            f"## Budget by fiscal quarter ({currency})",
            "",
            _table(["quarter", *money, "actual"], budget) if budget else "_No budget yet._",
        ]
    )


def _table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; every cell escaped, on one line."""
    lines = [header, ["---"] * len(header)]
    lines += [["" if v is None else md(v) for v in row] for row in rows]
    return "\n".join(f"| {' | '.join(line)} |" for line in lines)
