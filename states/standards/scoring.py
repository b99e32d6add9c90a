"""One scorecard from the evidence and the answers, per category and per framework.

Per category (hand-computable):
- the evidence's score E: 100 less 50 per red and 20 per amber finding of the checks
  (`states.staging.assessment.score`), when the category had evidence;
- the answers' score Q: 100 x sum(weight x credit) / sum(weight) over the items people answered
  (met 1, partial 0.5, not met 0; not applicable left out). Items the evidence answered count in
  E through their check's findings, not a second time here;
- the score: the mean of E and Q when both exist, else the one that does, rounded; its risk
  level from the thresholds (satisfactory from 80, critical below 50 by default).
A `not_met` or `partial` answer by a person is a finding like the checks' (red or amber, new or
recurring, a recommendation or a discussion item). Per framework (NIST CSF 2.0 functions, HIPAA
safeguards): how many of the answered items covering it are met.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from states.lifecycle.schedule import review_template
from states.staging.assessment import Category, Severity
from states.standards.answers import (
    AnswerSource,
    ItemState,
    Judged,
    evidence_answers,
    questionnaires,
)
from states.standards.schema import Answer
from states.store.models import Assessment, Review, ReviewFinding
from states.templates.schema import Template

CREDIT = {Answer.MET: 1.0, Answer.PARTIAL: 0.5, Answer.NOT_MET: 0.0}

# HIPAA's sections, by the safeguard each one sets out
HIPAA_SAFEGUARDS = {
    "164.308": "administrative",
    "164.310": "physical",
    "164.312": "technical",
    "164.314": "organizational",
    "164.316": "documentation",
}


@dataclass(frozen=True, slots=True)
class Mark:
    """One thing that moves a category's score: a finding, or a person's answer."""

    key: str
    category: str
    title: str
    severity: str | None = None  # a finding's
    answer: str | None = None  # an answer's


@dataclass(frozen=True, slots=True)
class CategoryScore:
    """A category's score and what it is made of."""

    score: int | None
    evidence: int | None
    answers: int | None
    items_met: int
    items_total: int


@dataclass(frozen=True)
class Scored:
    """One review's assessment: scores, risk levels, frameworks and what made them."""

    review_id: int
    categories: dict[str, CategoryScore]
    risk: dict[str, str | None]
    frameworks: dict[str, dict[str, dict[str, int | None]]]
    findings: dict[str, Mark]  # the checks' findings, by key
    answers: dict[str, Mark]  # every settled answer, by standard:item
    items: list[ItemState]


def scored(session: Session, review: Review, template: Template | None = None) -> Scored:
    """The review's scorecard as it stands (`template`: the review's, when read already); its
    questionnaire is read along (`Scored.items`)."""
    known = {review.id: template} if template is not None else {}
    return scored_all(session, [review], known)[review.id]


Finding = Row[tuple[int, str, str, str, str, str]]  # review, key, check, category, title, severity


def scored_all(
    session: Session, reviews: Sequence[Review], templates: Mapping[int, Template] | None = None
) -> dict[int, Scored]:
    """Several reviews' scorecards, by review id (`templates`: those parsed already, by review
    id): their assessments, findings and answers each read in one query."""
    ids = [review.id for review in reviews]
    assessed = {
        a.review_id: a
        for a in session.scalars(select(Assessment).where(Assessment.review_id.in_(ids)))
    }
    found: dict[int, list[Finding]] = {i: [] for i in ids}
    for row in session.execute(
        select(
            ReviewFinding.review_id, ReviewFinding.key, ReviewFinding.check,
            ReviewFinding.category, ReviewFinding.title, ReviewFinding.severity,
        ).where(ReviewFinding.review_id.in_(ids))
    ):  # fmt: skip
        found[row.review_id].append(row)
    judged = {i: _judged(assessed.get(i), found[i]) for i in ids}
    items = questionnaires(session, reviews, judged)
    templates = templates or {}
    return {
        r.id: _scored(r, templates.get(r.id), assessed.get(r.id), found[r.id], items[r.id])
        for r in reviews
    }


def _judged(own: Assessment | None, found: list[Finding]) -> Judged:
    """The evidence's answers: those of the checks that ran, from their findings."""
    return evidence_answers(
        own.checks if own else None, ((f.check, f.severity, f.title) for f in found)
    )


def _scored(
    review: Review,
    template: Template | None,
    own: Assessment | None,
    found: list[Finding],
    items: list[ItemState],
) -> Scored:
    evidence: dict[str, Any] = dict(own.scores) if own else {}
    settled = [s for s in items if s.settled and s.answer is not Answer.NOT_APPLICABLE]
    template = review_template(review) if template is None else template
    thresholds = template.thresholds.merged(review.client.thresholds)
    categories = {c.value: _category(c.value, evidence.get(c.value), settled) for c in Category}
    return Scored(
        review.id,
        categories,
        {name: thresholds.risk(c.score) for name, c in categories.items()},
        frameworks(settled),
        {f.key: Mark(f.key, f.category, f.title, severity=f.severity) for f in found},
        {s.key: Mark(s.key, s.item.category, _title(s), answer=str(s.answer)) for s in settled},
        items,
    )


def _category(name: str, evidence: int | None, settled: list[ItemState]) -> CategoryScore:
    mine = [s for s in settled if s.item.category == name]
    by_people = [s for s in mine if s.source is AnswerSource.PERSON]
    answers = None
    if by_people:
        weight = sum(s.item.weight for s in by_people)
        earned = sum(s.item.weight * CREDIT[s.answer] for s in by_people if s.answer)
        answers = round(100 * earned / weight)
    parts = [p for p in (evidence, answers) if p is not None]
    score = round(sum(parts) / len(parts)) if parts else None
    met = sum(s.answer is Answer.MET for s in mine)
    return CategoryScore(score, evidence, answers, met, len(mine))


def _title(state: ItemState) -> str:
    return f"{state.standard.name} {state.item.id}: {state.item.question}"


def answer_findings(settled: Iterable[ItemState]) -> list[Mark]:
    """The findings people's answers make: not met (the item's severity), partial (amber)."""
    marks = []
    for s in settled:
        if s.source is not AnswerSource.PERSON or s.answer not in (Answer.NOT_MET, Answer.PARTIAL):
            continue
        severity = s.item.severity if s.answer is Answer.NOT_MET else Severity.AMBER.value
        marks.append(Mark(s.key, s.item.category, _title(s), severity=severity))
    return marks


def disposition(state: ItemState) -> str:
    """What an answer's finding becomes: a not met item its own, a partial one discussion."""
    return state.item.disposition if state.answer is Answer.NOT_MET else "discussion"


def framework_groups(state: ItemState) -> dict[str, set[str]]:
    """The framework groups an item covers: NIST CSF functions (GV ... RC), HIPAA safeguards."""
    references = dict(state.item.references)
    framework = state.standard.framework
    if framework != "none" and framework not in references:
        references[framework] = [state.item.id]
    groups: dict[str, set[str]] = {}
    for name, refs in references.items():
        for ref in refs:
            if name == "hipaa":
                group = HIPAA_SAFEGUARDS.get(ref[:7])
            elif name == "nist-csf-2":
                group = ref.split(".", 1)[0]
            else:
                group = state.item.group if name == framework else None
            if group:
                groups.setdefault(name, set()).add(group)
    return groups


def frameworks(settled: Iterable[ItemState]) -> dict[str, dict[str, dict[str, int | None]]]:
    """Per framework and group: answered items covering it, how many met, and the share."""
    counts: dict[str, dict[str, list[int]]] = {}
    for state in settled:
        for name, groups in framework_groups(state).items():
            for group in groups:
                tally = counts.setdefault(name, {}).setdefault(group, [0, 0])
                tally[0] += state.answer is Answer.MET
                tally[1] += 1
    return {
        name: {
            group: {"met": met, "total": total, "score": round(100 * met / total)}
            for group, (met, total) in sorted(groups.items(), key=lambda g: _order(name, g[0]))
        }
        for name, groups in sorted(counts.items())
    }


NIST_ORDER = ("GV", "ID", "PR", "DE", "RS", "RC")


def _order(framework: str, group: str) -> tuple[int, str]:
    order = NIST_ORDER if framework == "nist-csf-2" else tuple(HIPAA_SAFEGUARDS.values())
    return (order.index(group) if group in order else len(order), group)


def why(now: Scored, then: Scored | None) -> dict[str, list[str]]:
    """Per category, what moved its score since `then`: findings new and gone, answers changed."""
    moved: dict[str, list[str]] = {c.value: [] for c in Category}
    if then is None:
        return moved
    for key, mark in now.findings.items():
        if key not in then.findings:
            moved[mark.category].append(f"new {mark.severity} finding: {mark.title}")
    for key, mark in then.findings.items():
        if key not in now.findings:
            moved[mark.category].append(f"resolved: {mark.title}")
    for key, mark in now.answers.items():
        was = then.answers.get(key)
        if was is not None and was.answer != mark.answer:
            moved[mark.category].append(f"{key}: {was.answer} -> {mark.answer}")
        elif was is None:
            moved[mark.category].append(f"{key}: answered {mark.answer}")
    for key, mark in then.answers.items():
        if key not in now.answers:
            moved[mark.category].append(f"{key}: no longer answered (was {mark.answer})")
    return moved
