"""What an approval link lets its person do, checked and applied: the approval page without HTTP.

Every check refuses with LinkRefused (one line: why; what to do). Changes go through
states.lifecycle.decisions, the same validation as the CLI.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from deploy import assessment_page, plan_editing
from deploy.webapp.forms import Form
from deploy.webapp.forms import value as field_value
from flows.wake import follow_up
from notifications import links
from notifications.gate_notice import REPORT
from notifications.links import LinkClaims, LinkRefused
from notifications.messages import local_time, phase_label
from reports.documents import agenda_html
from states.errors import AlreadyDecided
from states.lifecycle import link_uses
from states.lifecycle.decisions import (
    DecisionKind,
    DecisionRequest,
    DecisionResult,
    complete_task,
    decide,
)
from states.lifecycle.machine import FORWARD, OPEN_PHASES, TRANSITIONS, Phase, Trigger
from states.plans.initiatives import Status
from states.read import views
from states.read.gate_evidence import gate_evidence
from states.read.plans import roadmap
from states.settings import Settings
from states.standards.answering import answer_items, confirm_carried
from states.standards.answers import review_questionnaire
from states.store.db import UnitOfWork
from states.store.models import utcnow

CHOICES = {k.value: k for k in (DecisionKind.APPROVE, DecisionKind.REJECT, DecisionKind.RESCHEDULE)}
DONE = {
    "approve": "approved",
    "reject": "sent back for rework",
    "reschedule": "rescheduled",
    "cancel": "cancelled",
    "reopen": "reopened for more follow-up",
}
RESCHEDULE_FROM = {
    str(p) for t in TRANSITIONS if t["trigger"] is Trigger.RESCHEDULE for p in t["source"]
}
UowFactory = Callable[[], UnitOfWork]


@dataclass
class Visit:
    """What is known about one request so far; a refusal's audit row is written from it."""

    token: str
    claims: LinkClaims | None = None
    status: str | None = None  # the review's phase, once the review is known to exist
    person: str = ""
    zone: str = "UTC"
    used_at: datetime | None = None
    saved: list[str] = field(default_factory=list)  # tasks ticked before a refusal
    answered: list[str] = field(default_factory=list)  # items answered (standard:item)
    confirmed: int = 0  # carried answers confirmed
    planned: list[str] = field(default_factory=list)  # changes to the client's plan, in words
    decision: DecisionResult | None = None  # where the decision took the review, once made


@dataclass(frozen=True)
class Sender:
    """Where a POST says it comes from: its form and the headers a browser sets."""

    form: Form | None  # None: too large to read
    own_origins: set[str]
    origin: str | None
    fetch_site: str | None


def iso(moment: int | datetime) -> str:
    """Unix seconds or an aware datetime as ISO text, for the `local` template filter."""
    return (
        moment if isinstance(moment, datetime) else datetime.fromtimestamp(moment, UTC)
    ).isoformat()


def where(status: str) -> str:
    """A review's status in a sentence: "in follow-up", "closed"."""
    return f"in {phase_label(status)}" if status in OPEN_PHASES else status


def check_link(uow: UnitOfWork, key: bytes, visit: Visit) -> LinkClaims:
    """The link's claims if it is intact, due, for a known person and the review's round (a
    plan link: any round)."""
    visit.claims = claims = links.verify(key, visit.token, utcnow())
    found = link_uses.visited(uow, claims.review_id, claims.email, links.digest(visit.token))
    if found is None:
        raise LinkRefused(f"review {claims.review_id} no longer exists; {links.NEW_LINK}")
    visit.status, visit.zone = found.status, found.zone
    if found.person is None:
        raise LinkRefused(f"this link is for {claims.email}, who is not in xbr; {links.NEW_LINK}")
    visit.person, visit.used_at = found.person, found.used_at
    # the client's plan outlives the gate that sent its link: a plan link holds for any round
    if found.round == claims.round or claims.action == links.PLAN:
        return claims
    if visit.used_at:
        raise LinkRefused(f"{_used(visit)}; the review is now {where(found.status)}")
    raise LinkRefused(
        f"this link is for an earlier step: the review is now {where(found.status)}; "
        "use the newest link sent to you for it"
    )


def _used(visit: Visit) -> str:
    when = local_time(iso(visit.used_at or utcnow()), visit.zone)
    return f"this decision link was already used on {when}"


def check_post(key: bytes, visit: Visit, sender: Sender) -> str:
    """The decision asked for ("" for none), once the form is this link's page's own and the
    link allows that decision."""
    assert visit.claims is not None
    form = sender.form
    if form is None:
        raise LinkRefused(
            "the form is too large; shorten the comment or the notes and send it again"
        )
    sent = field_value(form, "csrf").encode("utf-8")
    if not hmac.compare_digest(sent, links.csrf_token(key, visit.token).encode("ascii")):
        raise LinkRefused(
            "the form did not come from this link's page; open the link again and send it there"
        )
    if sender.fetch_site == "cross-site" or sender.origin not in {None, *sender.own_origins}:
        raise LinkRefused("the request came from another site; open the link and use its page")
    choice = field_value(form, "decision")
    if choice and choice not in CHOICES:
        raise LinkRefused(f"unknown decision {choice!r}; choose approve, reject or reschedule")
    if choice and visit.claims.action != "decide":
        raise LinkRefused("this link is for ticking tasks, not for decisions; ask for one that is")
    if choice and visit.used_at:
        raise LinkRefused(f"{_used(visit)}; {links.NEW_LINK}")
    return choice


def apply(uow: UowFactory, visit: Visit, form: Form, choice: str) -> str:
    """Check the plan's changes, tick the tasks (their keys go to visit.saved), answer the
    assessment, change the plan, then decide; returns the decision in words, or "". Raises
    XbrError when the service refuses."""
    assert visit.claims is not None
    claims = visit.claims
    # checked before anything is saved: a refused plan change leaves the rest unsaved too
    plan = plan_editing.changes(uow(), claims.review_id, claims.email, form)
    for task_key in dict.fromkeys(form.get("task", [])):
        try:
            complete_task(uow(), claims.review_id, task_key, claims.email)
        except AlreadyDecided:  # done by someone else meanwhile, or a double submit: fine
            continue
        visit.saved.append(task_key)
    _answer(uow, visit, form)
    if plan is not None:
        plan_editing.save(uow, claims.email, plan, visit.planned)
    if not choice:
        return ""
    kind, comment = DecisionKind(choice), field_value(form, "comment")
    scheduling = kind is DecisionKind.APPROVE and visit.status == Phase.SCHEDULING
    meeting = field_value(form, "meeting") if scheduling or choice == "reschedule" else ""
    request = DecisionRequest(
        claims.review_id, kind, claims.email, comment, meeting or None, visit.status, claims.round
    )
    result = visit.decision = decide(uow(), request)
    if visit.token:  # a signed link decides once; a session decides as often as gates come
        link_uses.record_use(uow(), links.digest(visit.token), claims.review_id, claims.email)
    waits = (
        f"; {phase_label(result.queued_for)} is full, so it waits in its queue and moves "
        "when a place frees"
        if result.queued_for
        else ""
    )
    return f"The {phase_label(result.from_phase)} gate: {DONE[choice]}{waits}"


def _answer(uow: UowFactory, visit: Visit, form: Form) -> None:
    """Save the items whose answer or note the form changed, in one call (visit.answered), then
    confirm the carried answers if the form was sent with that button (visit.confirmed)."""
    assert visit.claims is not None
    review_id, email = visit.claims.review_id, visit.claims.email
    named = any(name.startswith(assessment_page.FIELDS) for name in form)
    items = review_questionnaire(uow(), review_id).items if named else []
    answers = assessment_page.changes(items, form)
    if answers:
        answer_items(uow(), review_id, answers, email)
        visit.answered.extend(answers)
    if assessment_page.confirming(form):
        visit.confirmed = confirm_carried(uow(), review_id, email)


def wake(uow: UnitOfWork, settings: Settings, claims: LinkClaims, choice: str, comment: str) -> str:
    """Resume the review's flow run after a change; a note for the page if that failed."""
    # the decision is in the database already: the woken run reads it there, not from this
    run_input: dict[str, object] = {}
    if choice:
        run_input |= {"decision": choice, "comment": comment}
    try:
        return follow_up(uow, settings, claims.review_id, claims.round, run_input)
    except Exception as exc:  # the change is committed: a Prefect hiccup must not hide that
        return f" (flow run not woken: {type(exc).__name__}; the sweeper catches it up)"


def record_refusal(uow: UnitOfWork, visit: Visit, reason: str) -> None:
    """The one row a refused request leaves: who the link claimed to be, and why."""
    claims = visit.claims
    review_id = claims.review_id if claims and visit.status else None
    actor = claims.email if claims else "unknown"
    link_uses.record_refusal(uow, review_id, visit.status, actor, reason)


def evidence_context(uow: UnitOfWork, visit: Visit, currency: str) -> dict[str, Any]:
    """What the phase produced (`evidence`), the prep agenda as HTML (`agenda`) and the full
    report's address for this link (`report_url`)."""
    assert visit.claims is not None
    evidence = gate_evidence(uow, visit.claims.review_id, visit.claims.email, currency)
    report = evidence.report if evidence else None
    return {
        "evidence": evidence,
        "agenda": Markup(agenda_html(report)) if report else None,  # cut to Markdown's tags
        "report_url": f"{REPORT}{quote(visit.token, safe='')}",
    }


def page_context(uow: UnitOfWork, key: bytes, visit: Visit) -> dict[str, Any]:
    """What the review page shows this link's person, and which boxes they may tick."""
    assert visit.claims is not None
    claims, review = visit.claims, views.review_view(uow, visit.claims.review_id)
    gate, status = review.gate, review.status
    deciders = gate.eligible_approvers if gate else ()
    can_decide = claims.action == "decide" and claims.email in deciders
    checklist = [t for t in review.tasks if t.phase == status]
    mine = [t for t in review.tasks if t.assignee == claims.email and t.status == "open"]
    return {
        "review": review,
        "gate": gate,
        "zone": visit.zone,
        "person": visit.person,
        "claims": claims,
        "expires": iso(claims.expires_at),
        "csrf": links.csrf_token(key, visit.token),
        "checklist": checklist,
        "later": [t for t in mine if t.phase != status],
        "tickable": {
            t.key
            for t in checklist
            if t.status == "open" and (t.assignee == claims.email or can_decide)
        },
        "can_decide": can_decide,
        # for the Prefect UI's Resume form, which takes this instead of a typed email
        "decision_code": links.decision_code(
            key,
            claims.review_id,
            claims.round,
            claims.email,
            datetime.fromtimestamp(claims.expires_at, UTC).date(),
        )
        if can_decide
        else None,  # fmt: skip
        "next_phase": FORWARD[Phase(status)][1] if status in OPEN_PHASES else status,
        "may_reschedule": status in RESCHEDULE_FROM,
        "assessment": assessment_page.assessment(uow, claims.review_id, claims.email),
        "plan": plan_progress(uow, review) if status == Phase.DELIVERY else None,
        "plan_editing": plan_editing.section(uow, claims.review_id, claims.email),
    }


def plan_progress(uow: UnitOfWork, review: views.ReviewView) -> tuple[int, int] | None:
    """(decided, proposed): of the initiatives the review proposed, how many the client has
    decided (approved, declined or deferred, and on since); None when it proposed none."""
    proposed = [
        i
        for i in roadmap(uow, review.client).initiatives
        if i.review_id == review.id and i.status != Status.CANCELLED
    ]
    if not proposed:
        return None
    return sum(i.status != Status.PROPOSED for i in proposed), len(proposed)
