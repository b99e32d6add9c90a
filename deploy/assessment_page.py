"""The approval page's assessment: a review's questionnaire laid out for a phone (by standard,
then group), with radios and a note per item for whoever may answer it now, the answers as text
for whoever may only read them; and what the page's form changes in it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from states.errors import InvalidInput
from states.standards.answering import ANSWERING, Access, access
from states.standards.answers import AnswerSource, ItemState, Questionnaire, review_questionnaire
from states.standards.schema import Answer
from states.store.db import UnitOfWork

CONFIRM = "confirm"  # the field of the "Confirm the carried answers" button
CARRIED = "carried"  # its value
FIELDS = ("answer:", "note:")  # each item's radios and note: answer:STANDARD:ITEM


@dataclass(frozen=True)
class ShownItem:
    """An item as the page shows it; its radios and note start at the answer that counts
    (a person's or the evidence's) and the person's own note."""

    state: ItemState
    chosen: str  # the answer checked at first, "" for none
    note: str  # the note field's text at first
    origin: str  # where the answer comes from, in words

    @property
    def rows(self) -> int:
        """The note field's height: its text's lines (30 characters a line), 2 to 8."""
        return max(2, min(8, len(self.note) // 30 + self.note.count("\n") + 1))


@dataclass(frozen=True)
class GroupSection:
    """A group of a standard (a CSF function, a policy area) and its items, in order."""

    title: str
    items: list[ShownItem]


@dataclass(frozen=True)
class StandardSection:
    """A standard the review assesses, by group."""

    title: str
    groups: list[GroupSection]


@dataclass(frozen=True)
class Assessment:
    """The page's assessment section and its progress."""

    CHOICES: ClassVar[dict[str, str]] = {
        Answer.MET: "Met",
        Answer.PARTIAL: "Partial",
        Answer.NOT_MET: "Not met",
        Answer.NOT_APPLICABLE: "Not applicable",
    }

    editable: bool
    closed: bool  # the meeting was delivered: nobody answers any more
    standards: list[StandardSection]
    answered: int
    total: int
    carried: int
    open_required: int


def assessment(uow: UnitOfWork, review_id: int, email: str) -> Assessment | None:
    """The review's questionnaire as `email` sees it; None when the review has none or they
    hold no role in it."""
    allowed = access(uow, review_id, email)
    if allowed is Access.NONE:
        return None
    return assessment_of(review_questionnaire(uow, review_id), allowed)


def assessment_of(shown: Questionnaire, allowed: Access) -> Assessment | None:
    """The questionnaire as a person with `allowed` access sees it (`assessment`, from what
    the caller has read)."""
    items = shown.items
    if allowed is Access.NONE or not items:
        return None
    sections: dict[str, list[ItemState]] = {}
    for state in items:
        sections.setdefault(state.standard.name, []).append(state)
    standards = []
    for states in sections.values():
        standard = states[0].standard
        groups = [
            GroupSection(group.title, [_shown(s) for s in states if s.item.group == group.id])
            for group in standard.groups
        ]
        standards.append(StandardSection(standard.title, [g for g in groups if g.items]))
    return Assessment(
        editable=allowed is Access.ANSWER,
        closed=shown.status not in ANSWERING,
        standards=standards,
        answered=sum(s.settled for s in items),
        total=len(items),
        carried=sum(s.source is AnswerSource.CARRIED for s in items),
        open_required=sum(s.open_required for s in items),
    )


def changes(items: list[ItemState], form: Mapping[str, list[str]]) -> dict[str, tuple[Answer, str]]:
    """The items whose answer or note the form changes, as `answer_items` takes them; an item
    the form does not name keeps its answer."""
    changed = {}
    for state in items:
        key = state.key
        chosen, note = _start(state)
        answered, noted = (f"{field}{key}" for field in FIELDS)
        given = _field(form, answered) or chosen
        written = _field(form, noted) if noted in form else note
        if (given, written) == (chosen, note):
            continue
        if not given:
            raise InvalidInput(
                f"{key} has a note but no answer; choose met, partial, not met or not applicable"
            )
        if given not in Assessment.CHOICES:  # not echoed: the refusal's audit row keeps it
            raise InvalidInput(
                f"{key} has an unknown answer; choose met, partial, not met or not applicable"
            )
        changed[key] = (Answer(given), written)
    return changed


def confirming(form: Mapping[str, list[str]]) -> bool:
    """Whether the form was sent with the "Confirm the carried answers" button."""
    return _field(form, CONFIRM) == CARRIED


def _field(form: Mapping[str, list[str]], name: str) -> str:
    # browsers send a textarea's line breaks as CRLF; a note keeps plain ones
    return (form.get(name) or [""])[0].replace("\r\n", "\n").strip()


def _start(state: ItemState) -> tuple[str, str]:
    """The answer that counts (a carried one does not, yet) and the person's own note."""
    if state.answer is None or state.source is AnswerSource.CARRIED:
        return "", ""
    return state.answer.value, state.note if state.source is AnswerSource.PERSON else ""


def _shown(state: ItemState) -> ShownItem:
    chosen, note = _start(state)
    return ShownItem(state, chosen, note, _origin(state))


def _origin(state: ItemState) -> str:
    if state.source is AnswerSource.CARRIED:
        return f"from {state.carried_from}, confirm"
    if state.source is AnswerSource.EVIDENCE:
        return "from the evidence"
    if state.source is None:
        return "not answered yet"
    confirmed = f", confirmed from {state.carried_from}" if state.carried_from else ""
    return f"by {state.answered_by}{confirmed}"
