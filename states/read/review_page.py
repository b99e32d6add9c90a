"""What the review page (`/reviews/<id>`) reads of one review for one person, in one
transaction: each thing read once and handed to whatever else is made of it (the questionnaire
to the gate, the scorecard, the phase's evidence and the assessment; the report's data to the
evidence; the client's plan to the report and to the plan's editing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from states.lifecycle.decisions import load_review
from states.lifecycle.machine import OPEN_PHASES
from states.lifecycle.schedule import review_template
from states.read.client_plan import OpenPlan, client_plan, open_plan_for
from states.read.gate_evidence import GateEvidence, evidence_of
from states.read.scorecards import Read, read_report, report_scores
from states.read.views import ReviewView, view_of
from states.standards.answering import Access, access_of
from states.standards.answers import Questionnaire, questionnaire_of
from states.store.db import UnitOfWork
from states.store.models import Person, PsaLink


@dataclass(frozen=True)
class ReviewPage:
    """One review as the page shows it to one person."""

    view: ReviewView
    questionnaire: Questionnaire
    access: Access  # what the person may do with the questionnaire
    data: dict[str, Any]  # report_data
    evidence: GateEvidence | None  # what the open phase produced, for its gate
    plan: OpenPlan | None  # the open plan, when the person may change it here
    names: dict[str, str]  # everyone's name by email
    psa_ticket: tuple[str, str] | None = None  # (the PSA, its ticket's id) when mirrored


def read_review_page(uow: UnitOfWork, review_id: int, email: str, currency: str) -> ReviewPage:
    """The review as the page shows it to `email`, the plan's money in `currency`."""
    with uow:
        session = uow.session
        review = load_review(session, review_id)
        template = review_template(review)
        scores = report_scores(session, review, template)  # with its questionnaire
        items = scores.now.items
        plan = client_plan(session, review.client)
        data = read_report(session, review, currency=currency, read=Read(template, scores, plan))
        opened = review.status in OPEN_PHASES
        return ReviewPage(
            view=view_of(session, review, template, items),
            questionnaire=questionnaire_of(session, review, items),
            access=access_of(session, review, email, template),
            data=data,
            evidence=evidence_of(session, review, email, currency, data, items, template)
            if opened
            else None,
            plan=open_plan_for(session, review, email, plan),
            names=_names(session),
            psa_ticket=_psa_ticket(session, review.id) if review.client.psa_company else None,
        )


def _psa_ticket(session: Session, review_id: int) -> tuple[str, str] | None:
    """The PSA and the id of the review's ticket there, once it is made."""
    found = session.execute(
        select(PsaLink.psa, PsaLink.remote_id).where(
            PsaLink.object == "review", PsaLink.local_id == review_id,
            PsaLink.remote_id.is_not(None),
        )
    ).first()  # fmt: skip
    return (found[0], found[1]) if found else None


def _names(session: Session) -> dict[str, str]:
    """Everyone's name by email: the page shows people by the names they go by."""
    return {email: name for email, name in session.execute(select(Person.email, Person.name))}
