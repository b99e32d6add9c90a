"""`xbr scorecard` at the terminal: a review's scorecard with its frameworks and why scores
moved, and a client's scores over its assessed reviews."""

from __future__ import annotations

from typing import Any

from deploy import render
from reports.frameworks import framework_title, group_title
from states.staging.assessment import Category

RISK_MARKS = {"at_risk": " !", "critical": " !!"}


def scorecard(data: dict[str, Any]) -> None:
    """A review's scorecard (score, risk, items met, baseline, previous), a table per
    framework, the questionnaire's progress, and why each category moved since the previous
    review."""
    from reports.run_pages import questionnaire_line  # its Markdown helpers only when shown

    base = data["baseline"]["name"] if data["baseline"] else "this review is the baseline"
    rows = [
        {
            **row,
            "risk": (row["risk"] or "-").replace("_", " "),
            "items": f"{row['items_met']}/{row['items_total']}" if row["items_total"] else None,
        }
        for row in data["scorecard"]
    ]
    render.rows(
        f"Scorecard of {data['review']['name']} (baseline: {base})",
        ["label", "score", "risk", "items", "baseline", "previous", "change"],
        rows,
    )
    for name, groups in data["frameworks"].items():
        render.rows(
            f"{framework_title(name)} of {data['review']['name']}",
            ["group", "met", "total", "score", "baseline", "previous"],
            [{**counts, "group": group_title(name, group)} for group, counts in groups.items()],
        )
    render.say(questionnaire_line(data["questionnaire"]))
    previous = data["previous"]
    for row in data["scorecard"]:
        if previous and row["change_previous"]:
            render.say(
                f"{row['label']} {row['previous']} -> {row['score']} since {previous['name']}:"
            )
            for line in row["why"]["previous"]:
                render.say(f"  - {line}")


def history(data: dict[str, Any]) -> None:
    """A client's scores, a row per assessed review (oldest first), marked by risk level."""
    reviews = data["reviews"]
    if not reviews:
        render.say(f"{data['client']} has no assessed review yet")
        return
    categories = list(reviews[0]["scores"])
    rows = [
        {
            "review": f"#{review['review_id']} {(review['period'] or '').upper()}".strip(),
            **{
                category: _marked(review["scores"][category], review["risk"][category])
                for category in categories
            },
        }
        for review in reviews
    ]
    table = [{SHORT.get(k, k): v for k, v in row.items()} for row in rows]
    columns = ["review", *(SHORT.get(c, c) for c in categories)]
    render.rows(f"Scores of {data['client']}, oldest first", columns, table)
    render.say("! at risk, !! critical, - not assessed")


def _marked(score: int | None, risk: str | None) -> str | None:
    return None if score is None else f"{score}{RISK_MARKS.get(risk or '', '')}"


# the history's column heads, short enough for a row per review
SHORT = {
    Category.PATCHING: "patching",
    Category.ENDPOINT: "endpoint",
    Category.IDENTITY: "identity",
    Category.BACKUP: "backup",
    Category.LIFECYCLE: "lifecycle",
    Category.AWARENESS: "awareness",
    Category.NETWORK: "network",
    Category.SERVICE: "service",
    Category.GOVERNANCE: "governance",
    Category.COMPLIANCE: "compliance",
}
