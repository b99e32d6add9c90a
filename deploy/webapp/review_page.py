"""The review page, `/reviews/<id>`: phase and gate with who may decide, the evidence, the
checklist, the assessment, the scores and why they moved, findings and tickets, the roadmap
and budget, the feedback and the audit trail, with the forms to act on them as the signed-in
person (deploy/webapp/review_actions.py), and its documents for the client to download
(deploy/webapp/downloads.py). A client's contact sees their own client's report
(`/reviews/<id>/report`, and its PDF), nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from deploy import approval, assessment_page, plan_editing
from deploy.webapp import downloads, review_actions, staff
from deploy.webapp.site import Site
from notifications import links
from psa.connection import NAMES
from reports.documents import agenda_html, report_context, report_html
from reports.run_pages import run_url
from states.access.sessions import SignedIn
from states.lifecycle.machine import FORWARD, OPEN_PHASES, Phase
from states.read import views
from states.read.review_page import read_review_page
from states.read.scorecards import report_data


def router(site: Site) -> APIRouter:
    """GET and POST /reviews/<id>, GET /reviews/<id>/report."""
    routes = APIRouter()

    @routes.get("/reviews/{review_id}")
    def show(review_id: str, request: Request, done: str = "") -> Response:
        found = _reader(site, request, review_id)
        if isinstance(found, Response):
            return found
        person, number = found
        if not person.staff:  # a client's contact: their client's report and plan
            return RedirectResponse(f"/reviews/{number}/report", status_code=303)
        return site.page(
            "app/review.html.j2", person, **page_context(site, person, number), done=done[:300]
        )

    @routes.get("/reviews/{review_id}/report")
    def report(review_id: str, request: Request) -> Response:
        found = _reader(site, request, review_id)
        if isinstance(found, Response):
            return found
        person, number = found
        data = report_data(site.uow(person).reading(), number, currency=site.settings.currency)
        return HTMLResponse(report_html(data))

    @routes.post("/reviews/{review_id}")
    async def act(review_id: str, request: Request, later: BackgroundTasks) -> Response:
        return await staff.submit(
            site, request, ANYONE, "Not saved",
            lambda person, form: review_actions.act(
                site, request, person, review_id, form, later
            ),
        )  # fmt: skip

    return routes


# what each download is to the person who gives it to the client
DOCUMENTS = {"pdf": "the report (PDF)", "pptx": "the meeting's deck (PowerPoint)",
             "docx": "the summary to edit (Word)"}  # fmt: skip
# who may send the form: everyone signed in; review_actions.act says who may change what
ANYONE = staff.Door(lambda person: True, "")


def _reader(site: Site, request: Request, review_id: str) -> tuple[SignedIn, int] | Response:
    """The signed-in person and the review's id when they may see it; else the way to sign
    in, or the 404 or 403 page."""
    person = site.person_or_signin(request)
    if not isinstance(person, SignedIn):
        return person
    found = review_actions.visible(site, request, person, review_id)
    return found if isinstance(found, Response) else (person, found[0])


def page_context(site: Site, person: SignedIn, review_id: int) -> dict[str, Any]:
    """Everything the review page shows its person, and what they may change on it."""
    # the page only reads: on SQLite its transaction neither waits for a writer nor holds one up
    uow, email, currency = site.uow(person).reading(), person.email, site.settings.currency
    # one transaction reads each thing once (states/read/review_page.py)
    read = read_review_page(uow, review_id, email, currency)
    review, evidence = read.view, read.evidence
    gate, status = review.gate, review.status
    deciders = gate.eligible_approvers if gate else ()
    can_decide = email in deciders
    agenda = evidence.report if evidence else None
    return {
        "here": "review",
        "review": review,
        "report": report_context(read.data),
        "zone": read.data["review"]["timezone"],
        "names": read.names,
        "gate": gate,
        "deciders": deciders,
        "can_decide": can_decide,
        "choices": review_actions.choices(status, can_decide, bool(gate and gate.approval)),
        "next_phase": FORWARD[Phase(status)][1] if status in OPEN_PHASES else status,
        "tickable": {
            t.key
            for t in review.tasks
            if t.phase == status and t.status == "open" and (t.assignee == email or can_decide)
        },
        "phases": [p.value for p in Phase if any(t.phase == p for t in review.tasks)],
        "evidence": evidence,
        "agenda": Markup(agenda_html(agenda)) if agenda else None,
        "report_url": f"/reviews/{review_id}/report",
        "downloads": [
            (DOCUMENTS[f.name], f"/reviews/{review_id}/report.{f.name}")
            for f in downloads.offered(person)
        ],
        "run_url": run_url(review.flow_run_id),
        "psa_ticket": _psa_ticket(read.psa_ticket),
        "assessment": assessment_page.assessment_of(read.questionnaire, read.access),
        "plan": approval.plan_progress(uow, review) if status == Phase.DELIVERY else None,
        "plan_editing": plan_editing.section_of(read.plan),
        "decision_code": _code(site, review, email) if can_decide else None,
        "now": datetime.now(UTC),
    }


def _psa_ticket(found: tuple[str, str] | None) -> str | None:
    """Where the review is on the PSA's board, in its words: ConnectWise ticket 5000."""
    return f"{NAMES.get(found[0], found[0])} ticket {found[1]}" if found else None


def _code(site: Site, review: views.ReviewView, email: str) -> str:
    """The person's decision code for this gate, for the Prefect UI's Resume form."""
    expires = datetime.now(UTC).date() + timedelta(days=links.CODE_DAYS)
    return links.decision_code(site.auth.key, review.id, review.round, email, expires)
