"""What the review page's form does: tick tasks, answer the assessment, edit the plan and
decide the gate as the signed-in person, through the same services as the CLI and the signed
links (deploy/approval.py). The answer comes first; the review's run is woken right after it,
so nobody waits for Prefect, and the notifier mails the notices the change planned."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import BackgroundTasks, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from deploy import approval
from deploy.webapp.forms import Form, value
from deploy.webapp.site import Site
from flows.wake import follow_up
from notifications.links import LinkClaims
from states.access.permissions import may_see_client
from states.access.sessions import SignedIn
from states.errors import WEB_PAGE, AlreadyDecided, InvalidInput, NotFound, XbrError
from states.lifecycle.decisions import DecisionKind
from states.lifecycle.machine import OPEN_PHASES, Phase
from states.store.models import Client, Review

MAX_REVIEW_ID = 2**31 - 1
log = logging.getLogger("xbr.web")


def choices(status: str, can_decide: bool, approval_gate: bool) -> list[str]:
    """The decisions the review page offers in this phase to a person who may decide."""
    if not can_decide or status not in OPEN_PHASES:
        return []
    offered = [DecisionKind.APPROVE] if approval_gate else []
    offered.append(DecisionKind.REJECT)
    if status in approval.RESCHEDULE_FROM:
        offered.append(DecisionKind.RESCHEDULE)
    if status == Phase.QA_REVIEW:
        offered.append(DecisionKind.REOPEN)
    offered.append(DecisionKind.CANCEL)
    return [str(k) for k in offered]


def visible(
    site: Site, request: Request, person: SignedIn, review_id: str
) -> tuple[int, int, str] | Response:
    """(review id, client id, the client's time zone) when the review exists and the person
    may see it; else the 404 or 403 page."""
    number = int(review_id) if review_id.isdigit() and len(review_id) < 10 else 0
    client_id, zone = None, "UTC"
    if 0 < number <= MAX_REVIEW_ID:
        with site.plain_uow().reading() as work:
            found = work.session.execute(
                select(Review.client_id, Client.timezone)
                .join(Client, Client.id == Review.client_id)
                .where(Review.id == number)
            ).one_or_none()
            client_id, zone = found if found is not None else (None, zone)
    if client_id is None:
        why = f"there is no review {review_id[:20]!r}; open it from My work or the board"
        return site.refuse(request, person, why, 404, "No such review")
    if not may_see_client(person, client_id):
        why = f"review {number} is another client's; you see your own client's reviews only"
        return site.refuse(request, person, why, 403)
    return number, client_id, zone


def act(
    site: Site,
    request: Request,
    person: SignedIn,
    review_id: str,
    form: Form,
    later: BackgroundTasks,
) -> Response:
    """POST /reviews/<id>: make the form's changes, then back to the page saying what was done
    (a refusal: its one line, 4xx, and what was saved before it)."""
    found = visible(site, request, person, review_id)
    if isinstance(found, Response):
        return found
    number, _, zone = found
    if not person.staff:
        why = "a client's contact decides the plan from the link in their email"
        return site.refuse(request, person, why, 403, "Not saved")
    visit = _visit(person, number, zone, form)
    if isinstance(visit, str):
        return site.refuse(request, person, visit, 400, "Not saved")
    choice = value(form, "decision")
    try:
        decided = approval.apply(lambda: site.uow(person), visit, form, choice)
    except XbrError as exc:
        status = _status(exc)
        saved = [*visit.saved, *visit.answered, *visit.planned]
        todo = f"saved before that: {', '.join(saved)}" if saved else ""
        return site.refuse(request, person, exc.worded(WEB_PAGE), status, "Not saved", todo)
    assert visit.claims is not None
    done = _counted(len(visit.saved), "task", "done")
    done += _counted(len(visit.answered), "item", "answered")
    done += _counted(visit.confirmed, "carried answer", "confirmed")
    done += visit.planned + ([decided] if decided else [])
    # a decision says whether the review has a run: a review without one has nobody to wake
    runless = visit.decision is not None and visit.decision.flow_run_id is None
    if done and not runless:
        run_input: dict[str, object] = {}
        if decided:
            run_input = {"decision": choice, "comment": value(form, "comment")}
        later.add_task(after_change, site, number, visit.claims.round, run_input)
    where = f"/reviews/{number}?done={quote('; '.join(done) or 'nothing to save')}"
    return RedirectResponse(where, status_code=303)


def _visit(person: SignedIn, review_id: int, zone: str, form: Form) -> approval.Visit | str:
    """The change as the page showed the review (its phase and round, which pin a decision
    to that gate; dates in the client's `zone`), or why the form cannot say which."""
    phase, round_ = value(form, "phase"), value(form, "round")
    if phase not in {str(p) for p in Phase} or not round_.isdigit() or len(round_) > 9:
        return "the form does not say which gate it was sent from; open the review again"
    claims = LinkClaims(review_id, int(round_), person.email, "decide", 0)
    return approval.Visit("", claims, phase, person.name, zone)


def _status(refused: XbrError) -> int:
    """409 when someone else decided first, 400 for a value that can never be right, else 403."""
    if isinstance(refused, AlreadyDecided):
        return 409
    return 400 if isinstance(refused, InvalidInput | NotFound) else 403


def _counted(count: int, thing: str, done: str) -> list[str]:
    return [f"{count} {thing}{'' if count == 1 else 's'} {done}"] if count else []


def after_change(
    site: Site, review_id: int, round_before: int, run_input: dict[str, object]
) -> None:
    """After the answer: wake the review's run. The notices the change planned are the
    notifier's (deploy/notifier.py), in a thread or process of its own: answering the next
    person comes before mailing."""
    try:
        # only reads (where the run is): on SQLite it takes no write lock from the next decision
        follow_up(
            site.plain_uow().reading(), site.settings, review_id, round_before, run_input, False
        )
    except Exception:  # the change is committed: the sweeper catches up
        log.exception("after a change to review %s from the web app", review_id)
