"""The plan page: a client contact's signed link (action "plan", sent when a review reaches
delivery) shows the client's initiatives (why, cost, target quarter, priority) and its budget
by fiscal quarter, and takes their decision on each one still to decide: approve, decline, or
defer to one of the next quarters, with a comment. A link takes one set of decisions: the first
sent uses it up (a replay or a second submit at once is refused), and it shows what was
decided afterwards. Each decision goes through states.plans.initiatives.client_decides."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from deploy.approval import UowFactory, Visit, iso
from deploy.webapp.forms import Form
from deploy.webapp.forms import value as field_value
from notifications import links
from notifications.links import LinkRefused
from notifications.messages import local_time
from states.errors import AlreadyDecided, IllegalTrigger, InvalidInput, Refused
from states.lifecycle import link_uses
from states.plans.fiscal import FiscalQuarter, quarters_from
from states.plans.initiatives import TO_DECIDE, Move, Status, client_decides, is_client_contact
from states.plans.money import display_amount, total
from states.read import views
from states.read.plans import InitiativeView, budget, roadmap
from states.store.db import UnitOfWork
from states.store.models import utcnow
from states.text import check_text

VIA = "plan page, signed link"  # how the client's contact is known, in the audit trail
QUARTERS_OFFERED = 8  # a deferral comes back in one of the next eight fiscal quarters
BUDGET_YEARS = 3
CHOICES = {"approve": Move.APPROVE, "decline": Move.DECLINE, "defer": Move.DEFER}
DONE = {Move.APPROVE: "Approved", Move.DECLINE: "Declined", Move.DEFER: "Deferred"}
STATUS_WORDS = {Status.IN_PROGRESS: "In progress"}


@dataclass(frozen=True)
class Shown:
    """An initiative as the page shows it, its money in the installation's currency."""

    view: InitiativeView
    status: str  # in words: "Deferred", "In progress"
    one_time: str
    monthly: str
    decidable: bool


@dataclass(frozen=True)
class QuarterRow:
    """One fiscal quarter of the budget: what is approved and what is proposed in it."""

    quarter: str
    approved: str
    proposed: str


@dataclass(frozen=True)
class Choice:
    """One decision the form asks for."""

    initiative_id: int
    title: str
    move: Move
    comment: str
    defer_to: FiscalQuarter | None

    @property
    def said(self) -> str:
        """The decision in words, for the page."""
        to = f" to {self.defer_to.label}" if self.defer_to else ""
        return f"{DONE[self.move]}{to}: {self.title}"


def offered(fiscal_year_start: int, today: date | None = None) -> list[FiscalQuarter]:
    """The quarters a deferral may come back in: the next QUARTERS_OFFERED after today's."""
    now = FiscalQuarter.of(today or utcnow().date(), fiscal_year_start)
    return quarters_from(now.next(), QUARTERS_OFFERED)


def _shown(view: InitiativeView, currency: str) -> Shown:
    status = Status(view.status)
    return Shown(
        view,
        STATUS_WORDS.get(status, status.value.capitalize()),
        display_amount(view.one_time, currency),
        display_amount(view.monthly, currency),
        status in TO_DECIDE,
    )


def page_context(uow: UowFactory, key: bytes, visit: Visit, currency: str) -> dict[str, Any]:
    """What the plan page shows its link's person, and whether they may decide now."""
    assert visit.claims is not None
    claims = visit.claims
    review = views.review_view(uow(), claims.review_id)
    plan = roadmap(uow(), review.client)
    shown = [_shown(v, currency) for v in plan.initiatives if v.status != Status.CANCELLED]
    forecast = budget(uow(), review.client, currency, BUDGET_YEARS)
    contact = is_client_contact(uow(), review.client, claims.email)
    return {
        "review": review,
        "person": visit.person,
        "claims": claims,
        "zone": visit.zone,
        "expires": iso(claims.expires_at),
        "csrf": links.csrf_token(key, visit.token),
        "to_decide": [s for s in shown if s.decidable],
        "others": [s for s in shown if not s.decidable],
        "budget": [
            QuarterRow(
                q.quarter.label,
                display_amount(total([q.one_time[0], q.recurring[0], q.hardware[0]]), currency),
                display_amount(total([q.one_time[1], q.recurring[1], q.hardware[1]]), currency),
            )
            for q in forecast.quarters
        ],
        "currency": currency,
        "quarters": [q.label for q in offered(plan.fiscal_year_start)],
        "contact": contact,
        "used_at": iso(visit.used_at) if visit.used_at else None,
        "editable": contact and visit.used_at is None,
        "sent": False,
        "done": [],
        "late": [],
    }


def choices(uow: UowFactory, visit: Visit, form: Form) -> list[Choice]:
    """The decisions the form asks for, all checked before any is made; refused (one line:
    why; what to do) when the link may not decide or a field is wrong."""
    assert visit.claims is not None
    claims = visit.claims
    if visit.used_at:
        when = local_time(iso(visit.used_at), visit.zone)
        raise LinkRefused(
            f"this plan link was already used on {when}; open it again to see what was decided"
        )
    review = views.review_view(uow(), claims.review_id)
    if not is_client_contact(uow(), review.client, claims.email):
        raise Refused(
            f"{claims.email} is not a contact of {review.client}; only its client contacts "
            "decide its plan, each with the link sent to them"
        )
    plan = roadmap(uow(), review.client)
    known = {v.id: v for v in plan.initiatives}
    quarters = {q.label: q for q in offered(plan.fiscal_year_start)}
    asked = {name.partition(":")[2] for name in form if name.startswith(("move:", "comment:"))}
    chosen = []
    for field in sorted(asked):
        view = known.get(int(field)) if field.isdigit() else None
        if view is None:
            raise InvalidInput(
                f"initiative {field[:20]!r} is not on {review.client}'s plan; open the link "
                "again and decide on the initiatives it shows"
            )
        move, comment = field_value(form, f"move:{field}"), field_value(form, f"comment:{field}")
        check_text(comment, f"the comment on {view.title!r}")
        if not move:
            if comment:
                raise InvalidInput(
                    f"{view.title!r} has a comment but no decision; choose approve, decline or "
                    "defer, or clear the comment"
                )
            continue
        if move not in CHOICES:
            raise InvalidInput(
                f"unknown decision on {view.title!r}; choose approve, decline or defer"
            )
        defer_to = None
        if CHOICES[move] is Move.DEFER:
            defer_to = quarters.get(field_value(form, f"defer:{field}"))
            if defer_to is None:
                raise InvalidInput(
                    f"deferring {view.title!r} needs one of the quarters offered; choose one "
                    "in its list"
                )
        chosen.append(Choice(view.id, view.title, CHOICES[move], comment, defer_to))
    return chosen


def apply(uow: UowFactory, visit: Visit, chosen: list[Choice]) -> tuple[list[str], list[str]]:
    """Use the link up, then make each decision: (what was decided, what someone had decided
    first). Of two submits of one link, the second uses nothing and is refused."""
    assert visit.claims is not None
    claims = visit.claims
    if not link_uses.record_use(uow(), links.digest(visit.token), claims.review_id, claims.email):
        raise LinkRefused(
            "this plan link was used by another submit just now; open it again to see what "
            "was decided"
        )
    visit.used_at = utcnow()
    done, late = [], []
    for choice in chosen:
        try:
            client_decides(
                uow(), choice.initiative_id, choice.move, claims.email, choice.comment,
                choice.defer_to,
            )  # fmt: skip
        except (AlreadyDecided, IllegalTrigger):
            late.append(choice.title)
            continue
        done.append(choice.said)
    return done, late


def plan_uow(make: UowFactory) -> UowFactory:
    """Units of work whose audit rows say the plan page and its signed link."""

    def uow() -> UnitOfWork:
        work = make()
        work.via = VIA
        return work

    return uow
