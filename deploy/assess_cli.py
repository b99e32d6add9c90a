"""`xbr assess`: a review's questionnaire, answered item by item or by confirming what was
carried from the client's previous review."""

from __future__ import annotations

from typing import Annotated

import typer

from deploy import render
from deploy.context import JsonOpt, ReviewId, settings, uow
from flows.wake import follow_up
from states.errors import InvalidInput
from states.read import views
from states.standards.answering import answer_item, confirm_carried
from states.standards.answers import AnswerSource, ItemState, Questionnaire, review_questionnaire
from states.standards.schema import Answer


def assess_command(
    review_id: ReviewId,
    item: Annotated[
        str | None, typer.Argument(help="The item to answer: ITEM or STANDARD:ITEM.")
    ] = None,
    answer: Annotated[
        Answer | None, typer.Option("--answer", help="met, partial, not_met or not_applicable.")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="What you saw, or why.")] = "",
    confirm: Annotated[
        bool,
        typer.Option("--confirm-carried", help="Confirm every answer carried from before."),
    ] = False,
    actor: Annotated[
        str | None, typer.Option("--as", help="Email of the person answering.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The review's assessment: list its items, answer one, or confirm the carried answers."""
    if item is None and not confirm:
        if answer is not None or note:
            raise InvalidInput("--answer and --note need the ITEM to answer, e.g. POL-01")
        shown = review_questionnaire(uow(), review_id)
        render.out(as_json, shown, lambda: _show(shown))
        return
    if actor is None:
        raise InvalidInput("answering needs --as EMAIL: the person answering")
    if confirm:
        if item is not None or answer is not None:
            raise InvalidInput("--confirm-carried confirms every carried answer; give no ITEM")
        before = _round(review_id)
        count = confirm_carried(uow(), review_id, actor)
        note = follow_up(uow(), settings(), review_id, before, {})
        left = _open_required(review_id)
        render.out(
            as_json,
            {"review_id": review_id, "confirmed": count, "open_required": left},
            f"review {review_id}: {count} carried answers confirmed by {actor}"
            + (f"; {_unanswered(left)}" if left else "")
            + note,
        )
        return
    if answer is None or item is None:
        raise InvalidInput(
            f"answering {item} needs --answer (met, partial, not_met, not_applicable)"
        )
    before = _round(review_id)
    done = answer_item(uow(), review_id, item, answer, actor, note)
    woken = follow_up(uow(), settings(), review_id, before, {})
    render.out(
        as_json,
        done.__dict__,
        f"review {review_id}: {done.item} answered {done.answer} by {actor}; "
        + (
            _unanswered(done.open_required)
            if done.open_required
            else f"every required item is answered; the review is in {done.status}"
        )
        + woken,
    )


def _round(review_id: int) -> int:
    return views.review_view(uow(), review_id).round


def _open_required(review_id: int) -> int:
    return sum(s.open_required for s in review_questionnaire(uow(), review_id).items)


def _source(state: ItemState) -> str:
    if state.source is AnswerSource.CARRIED:
        return f"from {state.carried_from}, confirm"
    if state.source is AnswerSource.PERSON and state.carried_from:
        return f"confirmed from {state.carried_from}"
    return state.source.value if state.source else "-"


def _show(shown: Questionnaire) -> None:
    items = shown.items
    if not items:
        render.say(f"review {shown.review_id} assesses no standard; see `xbr client standards`")
        return
    several = len(shown.standards) > 1  # then an item is named with its standard
    rows = [
        {
            "item": s.key if several else s.item.id,
            "question": s.item.question,
            "answer": (s.answer.value if s.answer else "-") + ("" if s.item.required else " (opt)"),
            "source": _source(s),
            "by": s.answered_by or "-",
            "note": s.note or "-",
        }
        for s in items
    ]
    settled = sum(s.settled for s in items)
    carried = sum(s.source is AnswerSource.CARRIED for s in items)
    left = sum(s.open_required for s in items)
    render.rows(
        f"Assessment of {shown.name} ({', '.join(shown.standards)}): {settled}/{len(items)} "
        f"answered, {carried} carried to confirm, {left} required open",
        ["item", "question", "answer", "source", "by", "note"],
        rows,
    )


def _unanswered(count: int) -> str:
    return f"{count} required item{'' if count == 1 else 's'} still unanswered"
