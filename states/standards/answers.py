"""A review's questionnaire: every item of the standards it assesses, with its answer.

An item's answer comes, first found, from:
- a person of this review (`person`; a confirmed carried answer is one, naming its review);
- the evidence, when the item names a check that ran in this review's staging (`evidence`): no
  finding of that check is `met`, an amber finding `partial`, a red one `not_met`;
- the client's latest earlier answer, proposed for confirmation (`carried`).
Only person and evidence answers count: a carried one is a proposal until someone confirms it,
and a required item without one keeps staging's gate closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from states.errors import NotFound
from states.standards.pinning import pinned
from states.standards.schema import Answer, Item, Standard
from states.store.db import UnitOfWork
from states.store.models import Assessment, Client, ItemAnswer, Review, ReviewFinding


class AnswerSource(StrEnum):
    """Where an item's answer comes from."""

    PERSON = "person"
    EVIDENCE = "evidence"
    CARRIED = "carried"


EVIDENCE_ACTOR = "xbr (evidence)"


@dataclass(frozen=True, slots=True)
class ItemState:
    """One item of a review's questionnaire and its answer, if it has one."""

    standard: Standard
    item: Item
    answer: Answer | None = None
    note: str = ""
    answered_by: str | None = None
    source: AnswerSource | None = None
    at: datetime | None = None
    # the earlier review a carried answer comes from (or a confirmed one came from)
    carried_from_id: int | None = None
    carried_from: str | None = None  # its name

    @property
    def key(self) -> str:
        """standard:item, how commands and the page name the item."""
        return f"{self.standard.name}:{self.item.id}"

    @property
    def settled(self) -> bool:
        """Answered by a person or by the evidence (a carried proposal is not, yet)."""
        return self.source in (AnswerSource.PERSON, AnswerSource.EVIDENCE)

    @property
    def open_required(self) -> bool:
        """A required item that keeps staging's gate closed."""
        return self.item.required and not self.settled


class Given(NamedTuple):
    """What the questionnaire reads of a person's answer (its columns, not the row)."""

    review_id: int
    standard: str
    item: str
    answer: str
    note: str
    answered_by: str
    at: datetime
    carried_from: int | None


_GIVEN = (
    ItemAnswer.review_id, ItemAnswer.standard, ItemAnswer.item, ItemAnswer.answer,
    ItemAnswer.note, ItemAnswer.answered_by, ItemAnswer.at, ItemAnswer.carried_from,
)  # fmt: skip


Answers = dict[tuple[str, str], Given]  # by (standard, item)
Judged = dict[str, tuple[Answer, str]]  # per check that ran: its answer and why
Names = dict[int | None, str]  # reviews' names, by id


def questionnaire(
    session: Session, review: Review, judged: Judged | None = None
) -> list[ItemState]:
    """Every item of the review's standards, in order, with its answer (`judged`: the
    evidence's answers, when the caller has read the review's assessment and findings)."""
    if not pinned(session, review):
        return []
    judged = _evidence_answers(session, review.id) if judged is None else judged
    return questionnaires(session, [review], {review.id: judged})[review.id]


def questionnaires(
    session: Session, reviews: Sequence[Review], judged: Mapping[int, Judged]
) -> dict[int, list[ItemState]]:
    """The questionnaires of several reviews, by review id (`judged`: the evidence's answers
    of each); the person answers of each client's reviews read in one query."""
    standards = {review.id: pinned(session, review) for review in reviews}
    assessed = [review for review in reviews if standards[review.id]]
    none: tuple[Answers, Answers] = ({}, {})
    answers = {review.id: none for review in reviews} | _answers(session, assessed)
    names = _review_names(session, {i for pair in answers.values() for i in _ids(*pair)})
    return {
        review.id: _items(
            standards[review.id], *answers[review.id], judged.get(review.id, {}), names
        )
        for review in reviews
    }


def _items(
    standards: list[Standard], own: Answers, carried: Answers, judged: Judged, names: Names
) -> list[ItemState]:
    """Every item of the standards, in order, with its answer."""
    states = []
    for standard in standards:
        for item in standard.items:
            key = (standard.name, item.id)
            states.append(_state(standard, item, own.get(key), carried.get(key), judged, names))
    return states


def open_required_keys(items: Iterable[ItemState]) -> tuple[str, ...]:
    """The required items still open (standard:item): what keeps staging's gate closed."""
    return tuple(state.key for state in items if state.open_required)


def _state(
    standard: Standard,
    item: Item,
    mine: Given | None,
    earlier: Given | None,
    judged: Judged,
    names: Names,
) -> ItemState:
    if mine is not None:
        return ItemState(
            standard, item, Answer(mine.answer), mine.note, mine.answered_by, AnswerSource.PERSON,
            mine.at, mine.carried_from, names.get(mine.carried_from),
        )  # fmt: skip
    if item.evidence_check in judged:
        answer, note = judged[item.evidence_check]
        return ItemState(standard, item, answer, note, EVIDENCE_ACTOR, AnswerSource.EVIDENCE)
    if earlier is not None:
        return ItemState(
            standard, item, Answer(earlier.answer), earlier.note, earlier.answered_by,
            AnswerSource.CARRIED, earlier.at, earlier.review_id, names.get(earlier.review_id),
        )  # fmt: skip
    return ItemState(standard, item)


def _answers(session: Session, reviews: list[Review]) -> dict[int, tuple[Answers, Answers]]:
    """Per review: its own person answers, and the client's latest person answer to each item
    in an earlier review (carried); one query per client, its answers up to its last review."""
    found: dict[int, tuple[Answers, Answers]] = {}
    for client_id in {review.client_id for review in reviews}:
        ids = [review.id for review in reviews if review.client_id == client_id]
        rows = session.execute(
            select(*_GIVEN)
            .where(ItemAnswer.client_id == client_id, ItemAnswer.review_id <= max(ids))
            .order_by(ItemAnswer.review_id)
        )
        given = [Given(*row) for row in rows]
        for review_id in ids:
            own: Answers = {}
            carried: Answers = {}
            for answer in given:  # in review order: the latest earlier review's answer stays
                if answer.review_id < review_id:
                    carried[(answer.standard, answer.item)] = answer
                elif answer.review_id == review_id:
                    own[(answer.standard, answer.item)] = answer
            found[review_id] = (own, carried)
    return found


def _evidence_answers(session: Session, review_id: int) -> Judged:
    """Per check that ran on this review's assessed evidence: its answer and why."""
    ran = session.scalar(select(Assessment.checks).where(Assessment.review_id == review_id))
    if not ran:
        return {}
    rows = session.execute(
        select(ReviewFinding.check, ReviewFinding.severity, ReviewFinding.title).where(
            ReviewFinding.review_id == review_id
        )
    )
    return evidence_answers(ran, rows.tuples())


def evidence_answers(ran: Iterable[str] | None, findings: Iterable[tuple[str, str, str]]) -> Judged:
    """Per check that ran (`ran`): met without a finding, else partial or not met (a red
    one), and why; `findings` the review's (check, severity, title)."""
    if not ran:
        return {}
    found: dict[str, list[tuple[str, str]]] = {}
    for check, severity, title in findings:
        found.setdefault(check, []).append((severity, title))
    judged = {}
    for check in ran:
        raised = found.get(check, [])
        if not raised:
            judged[check] = (Answer.MET, f"{check}: no finding in this review's evidence")
            continue
        red = any(severity == "red" for severity, _ in raised)
        titles = "; ".join(title for _, title in raised)
        judged[check] = (Answer.NOT_MET if red else Answer.PARTIAL, f"{check}: {titles}")
    return judged


def _ids(own: Answers, carried: Answers) -> set[int | None]:
    """The earlier reviews the answers come from: confirmed ones' and carried ones'."""
    return {a.carried_from for a in own.values()} | {a.review_id for a in carried.values()}


def _review_names(session: Session, ids: Iterable[int | None]) -> Names:
    """Reviews' names (as Review.name makes them), from their columns only: a review's row
    holds its whole template."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = session.execute(
        select(Review.id, Client.slug, Review.type, Review.period)
        .join(Client, Client.id == Review.client_id)
        .where(Review.id.in_(wanted))
    )
    return {review_id: f"{slug}-{kind}-{period}" for review_id, slug, kind, period in rows}


@dataclass(frozen=True)
class Questionnaire:
    """A review's questionnaire as people and scripts read it."""

    review_id: int
    name: str
    status: str
    standards: list[str]
    items: list[ItemState]

    def to_json(self) -> dict[str, Any]:
        """The JSON contract of `xbr assess REVIEW --json`."""
        return {
            "review_id": self.review_id,
            "standards": self.standards,
            "items": [
                {
                    "standard": s.standard.name,
                    "id": s.item.id,
                    "question": s.item.question,
                    "category": s.item.category,
                    "answer": s.answer.value if s.answer else None,
                    "note": s.note,
                    "answered_by": s.answered_by,
                    "source": s.source.value if s.source else None,
                    "required": s.item.required,
                    "carried_from": s.carried_from,
                }
                for s in self.items
            ],
        }


def review_questionnaire(uow: UnitOfWork, review_id: int) -> Questionnaire:
    """The review's questionnaire, every item with its answer."""
    with uow:
        review = uow.session.get(Review, review_id)
        if review is None:
            raise NotFound(f"unknown review {review_id}; see `xbr review list`")
        return questionnaire_of(uow.session, review)


def questionnaire_of(
    session: Session, review: Review, items: list[ItemState] | None = None
) -> Questionnaire:
    """`review_questionnaire` in the caller's transaction (`items`: the review's, if read)."""
    items = questionnaire(session, review) if items is None else items
    names = [s.name for s in pinned(session, review)]
    return Questionnaire(review.id, review.name, review.status, names, items)


def gate_facts(session: Session, review: Review) -> tuple[tuple[str, ...], frozenset[str]]:
    """What staging's gate is judged on: the required items still open (standard:item), and
    who answered items of this review (none of them may approve it)."""
    items = questionnaire(session, review)
    open_required = open_required_keys(items)
    answered_by = frozenset(
        state.answered_by
        for state in items
        if state.source is AnswerSource.PERSON and state.answered_by is not None
    )
    return open_required, answered_by
