"""Answering a review's questionnaire: one item, or every carried answer at once.

The people of staging (its responsible roles and its accountable one, for the review's client)
answer while the review has not reached delivery; each answer is audited with the way its person
was known, and may let staging's gate pass (`settle`). Whoever answers an item cannot approve
staging's gate: that is the second set of eyes on the answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from states.directory import covers, person_by_email
from states.errors import IllegalTrigger, InvalidInput, NotFound, Refused
from states.lifecycle import audit
from states.lifecycle.decisions import load_review
from states.lifecycle.machine import Phase
from states.lifecycle.schedule import review_template
from states.lifecycle.steps import settle
from states.standards.answers import AnswerSource, ItemState, questionnaire
from states.standards.schema import Answer
from states.store.db import UnitOfWork
from states.store.models import ItemAnswer, Person, Review, utcnow
from states.templates.schema import Raci, Role, Template
from states.text import check_text

ITEM_NAME_MAX = 129  # a standard's name (64), a colon and an item's id (64)

# Answers are taken until the meeting is delivered: staging's, and the vCIO's changes in prep.
ANSWERING = (Phase.NEEDED, Phase.SCHEDULING, Phase.SCHEDULED, Phase.STAGING, Phase.PREP)


class Access(StrEnum):
    """What a person may do with a review's questionnaire now."""

    ANSWER = "answer"
    READ = "read"
    NONE = "none"


@dataclass(frozen=True)
class Answered:
    """What an answer changed: the item, and where the review is now."""

    review_id: int
    item: str  # standard:item
    answer: str
    status: str
    open_required: int  # required items still without an answer


def answer_item(
    uow: UnitOfWork,
    review_id: int,
    item: str,
    answer: Answer,
    actor: str,
    note: str = "",
    now: datetime | None = None,
) -> Answered:
    """Record `actor`'s answer to one item (ITEM or STANDARD:ITEM) of the review."""
    return answer_items(uow, review_id, {item: (answer, note)}, actor, now)


def answer_items(
    uow: UnitOfWork,
    review_id: int,
    answers: Mapping[str, tuple[Answer, str]],
    actor: str,
    now: datetime | None = None,
) -> Answered:
    """Record `actor`'s answers (item -> (answer, note)) in one transaction: all or none."""
    now = now or utcnow()
    with uow:
        session = uow.session
        review, person = _answering(session, review_id, actor)
        states = questionnaire(session, review)
        chosen = [(find_item(states, item, review_id), *given) for item, given in answers.items()]
        for state, _, note in chosen:  # named by its key: the name given may be anything
            check_text(note, f"the note of {state.key} (--note)")
        for state, answer, note in chosen:
            if answer is Answer.NOT_APPLICABLE and state.item.required and not note.strip():
                raise InvalidInput(
                    f"{state.key} is required: not_applicable needs a note saying why (--note)"
                )
        kept = _kept_rows(session, review)
        for state, answer, note in chosen:
            _write(session, review, state, answer, note, person, now, kept)
            said = f" ({note.strip()})" if note.strip() else ""
            audit.note(
                session, review, "item_answered", person.email,
                f"{state.key}: {answer.value}{said}", now,
            )  # fmt: skip
        last = chosen[-1] if chosen else None
        key, value = (last[0].key, last[1].value) if last else ("", "")
        return _settled(uow, session, review, key, value, now)


def confirm_carried(
    uow: UnitOfWork, review_id: int, actor: str, now: datetime | None = None
) -> int:
    """Make every carried answer of the review `actor`'s own; returns how many."""
    now = now or utcnow()
    with uow:
        session = uow.session
        review, person = _answering(session, review_id, actor)
        carried = [s for s in questionnaire(session, review) if s.source is AnswerSource.CARRIED]
        if not carried:
            raise InvalidInput(
                f"review {review_id} has no carried answers to confirm; "
                f"see `xbr assess {review_id}`"
            )
        kept = _kept_rows(session, review)
        for state in carried:
            assert state.answer is not None
            _write(session, review, state, state.answer, state.note, person, now, kept)
        audit.note(
            session, review, "answers_confirmed", person.email,
            f"{len(carried)} carried answers confirmed", now,
        )  # fmt: skip
        _settled(uow, session, review, "", "", now)
        return len(carried)


def access(uow: UnitOfWork, review_id: int, email: str) -> Access:
    """Whether `email` may answer the review's questionnaire now, only read it (staging
    consults or informs them, or the assessment closed), or neither."""
    with uow:
        return access_of(uow.session, load_review(uow.session, review_id), email)


def access_of(
    session: Session, review: Review, email: str, template: Template | None = None
) -> Access:
    """`access` in the caller's transaction; `template`: the review's, when read already."""
    raci = (template or review_template(review)).phase(Phase.STAGING).raci
    if covers(session, review.client_id, email, _answering_roles(raci)):
        return Access.ANSWER if review.status in ANSWERING else Access.READ
    readers = _reading_roles(raci)
    return Access.READ if covers(session, review.client_id, email, readers) else Access.NONE


def find_item(states: list[ItemState], wanted: str, review_id: int) -> ItemState:
    """The item named ITEM or STANDARD:ITEM, or an error naming the way to list them."""
    if len(wanted) > ITEM_NAME_MAX:
        raise InvalidInput(
            f"an item is named ITEM or STANDARD:ITEM, at most {ITEM_NAME_MAX} characters; "
            f"see `xbr assess {review_id}`"
        )
    standard, _, item_id = wanted.strip().rpartition(":")
    found = [
        s for s in states if s.item.id == item_id and (not standard or s.standard.name == standard)
    ]
    if len(found) == 1:
        return found[0]
    if found:
        keys = ", ".join(s.key for s in found)
        raise InvalidInput(f"item {wanted!r} is in several standards ({keys}); name one of them")
    if not states:
        raise NotFound(f"review {review_id} assesses no standard; see `xbr client standards`")
    raise NotFound(f"review {review_id} has no item {wanted!r}; see `xbr assess {review_id}`")


def _answering(session: Session, review_id: int, actor: str) -> tuple[Review, Person]:
    review = load_review(session, review_id, for_update=True)
    if review.status not in ANSWERING:
        raise IllegalTrigger(
            f"review {review_id} is {review.status}: its assessment closed when the meeting "
            "was delivered"
        )
    person = person_by_email(session, actor)
    if not may_answer(session, review, person.email):
        names = ", ".join(_answerers(review))
        raise Refused(
            f"{person.email} holds none of staging's roles for {review.client.name} ({names}); "
            "assign one with `xbr client assign`"
        )
    return review, person


def may_answer(session: Session, review: Review, email: str) -> bool:
    """Whether `email` holds one of staging's responsible roles or its accountable one for the
    review's client: who answers its questionnaire (while its status is in ANSWERING)."""
    return covers(session, review.client_id, email, _answerers(review))


def may_read(session: Session, review: Review, email: str) -> bool:
    """Whether `email` answers the questionnaire or staging consults or informs them: who may
    see its answers. Never the client's contacts: the notes are the MSP's working notes."""
    return access_of(session, review, email) is not Access.NONE


def _answerers(review: Review) -> list[str]:
    return _answering_roles(review_template(review).phase(Phase.STAGING).raci)


def _answering_roles(raci: Raci) -> list[str]:
    """Staging's responsible roles and its accountable one, each once."""
    return list(dict.fromkeys(str(r) for r in (*raci.responsible, raci.accountable)))


def _reading_roles(raci: Raci) -> list[str]:
    """The roles staging consults or informs, but never the client's contacts."""
    return [r for r in (*raci.consulted, *raci.informed) if r != Role.CLIENT_CONTACT]


def _kept_rows(session: Session, review: Review) -> dict[tuple[str, str], ItemAnswer]:
    rows = session.scalars(select(ItemAnswer).where(ItemAnswer.review_id == review.id))
    return {(row.standard, row.item): row for row in rows}


def _write(
    session: Session,
    review: Review,
    state: ItemState,
    answer: Answer,
    note: str,
    person: Person,
    now: datetime,
    kept: dict[tuple[str, str], ItemAnswer],
) -> None:
    """Keep the person's answer (`kept`: the review's answer rows, read once); confirming a
    carried one names the review it came from."""
    row = kept.get((state.standard.name, state.item.id))
    if row is None:
        row = ItemAnswer(
            review_id=review.id,
            client_id=review.client_id,
            standard=state.standard.name,
            item=state.item.id,
        )
        session.add(row)
    row.answer, row.note, row.answered_by, row.at = answer.value, note.strip(), person.email, now
    row.via = session.info.get("via", "")
    confirming = state.source is AnswerSource.CARRIED and answer == state.answer
    row.carried_from = state.carried_from_id if confirming else None


def _settled(
    uow: UnitOfWork, session: Session, review: Review, key: str, answer: str, now: datetime
) -> Answered:
    session.flush()
    if review.status == Phase.STAGING:  # the last required answer may open the gate
        settle(session, review, review_template(review), now)
    session.flush()
    open_required = sum(s.open_required for s in questionnaire(session, review))
    uow.commit()
    return Answered(review.id, key, answer, review.status, open_required)
