"""The frameworks a review's answers cover, as people read them: NIST CSF 2.0 by function
(Govern to Recover), HIPAA by safeguard; each group's items met against the baseline and the
previous review."""

from __future__ import annotations

from typing import Any

from states.staging.assessment import color

FRAMEWORK_TITLES = {"nist-csf-2": "NIST CSF 2.0", "hipaa": "HIPAA Security Rule"}
GROUP_TITLES = {
    "nist-csf-2": {
        "GV": "Govern",
        "ID": "Identify",
        "PR": "Protect",
        "DE": "Detect",
        "RS": "Respond",
        "RC": "Recover",
    },
    "hipaa": {
        "administrative": "Administrative safeguards",
        "physical": "Physical safeguards",
        "technical": "Technical safeguards",
        "organizational": "Organizational requirements",
        "documentation": "Policies and documentation",
    },
}
BAR_WIDTH = 200  # a group's bar, in its SVG's units


def framework_title(name: str) -> str:
    """NIST CSF 2.0 for nist-csf-2; an MSP's own framework by its name."""
    return FRAMEWORK_TITLES.get(name, name)


def group_title(framework: str, group: str) -> str:
    """GV Govern, Administrative safeguards; an own framework's group by its id."""
    title = GROUP_TITLES.get(framework, {}).get(group)
    if title is None:
        return group
    return f"{group} {title}" if framework == "nist-csf-2" else title


def framework_tables(frameworks: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per framework its groups in order: met of total, the score with its color, the baseline
    and the previous review's, and where each falls on the group's bar."""
    tables = []
    for name, groups in frameworks.items():
        rows = [
            {
                "group": group,
                "title": group_title(name, group),
                "met": counts["met"],
                "total": counts["total"],
                "score": counts.get("score"),
                "baseline": counts.get("baseline"),
                "previous": counts.get("previous"),
                "color": color(counts.get("score")),
                "bar": _at(counts.get("score")),
                "baseline_x": _at(counts.get("baseline")),
                "previous_x": _at(counts.get("previous")),
            }
            for group, counts in groups.items()
        ]
        tables.append(
            {
                "name": name,
                "title": framework_title(name),
                "groups": rows,
                "met": sum(r["met"] for r in rows),
                "total": sum(r["total"] for r in rows),
            }
        )
    return tables


def _at(score: int | None) -> float | None:
    return None if score is None else round(max(0, min(score, 100)) * BAR_WIDTH / 100, 1)
