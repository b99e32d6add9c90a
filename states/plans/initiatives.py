"""Initiatives: the pieces of a client's roadmap, their cost lines, and their steps.

An initiative's statuses and the moves between them are data (`MOVES`); every move is audited
with who made it and how they were known, like a review's. The vCIO and the account manager
shape the plan (add, edit, merge, drop); a decision the client made in the meeting is recorded
by one of them, and says so. Amounts are Decimals in the MSP's currency; a cost line sits in
months, given as fiscal quarters on the client's fiscal year.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from states.directory import client_by_name, covers, person_by_email
from states.errors import AlreadyDecided, IllegalTrigger, InvalidInput, NotFound, Refused
from states.lifecycle import audit
from states.plans.execution import approved
from states.plans.fiscal import FiscalQuarter
from states.plans.money import parse_amount
from states.staging.assessment import Category
from states.store.db import UnitOfWork
from states.store.models import Client, CostLine, Initiative, Person, utcnow
from states.templates.schema import Role
from states.text import check_text, parse_name


class Status(StrEnum):
    """Where an initiative stands."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    DECLINED = "declined"
    DEFERRED = "deferred"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class Priority(StrEnum):
    """How soon it matters."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Move(StrEnum):
    """What can happen to an initiative."""

    APPROVE = "approve"
    DECLINE = "decline"
    DEFER = "defer"
    START = "start"
    FINISH = "finish"
    CANCEL = "cancel"
    PROPOSE_AGAIN = "propose_again"


# move -> (the statuses it may start from, where it leads)
MOVES: dict[Move, tuple[frozenset[Status], Status]] = {
    Move.APPROVE: (frozenset({Status.PROPOSED, Status.DEFERRED}), Status.APPROVED),
    Move.DECLINE: (frozenset({Status.PROPOSED, Status.DEFERRED}), Status.DECLINED),
    Move.DEFER: (frozenset({Status.PROPOSED, Status.DEFERRED}), Status.DEFERRED),
    Move.START: (frozenset({Status.APPROVED}), Status.IN_PROGRESS),
    Move.FINISH: (frozenset({Status.APPROVED, Status.IN_PROGRESS}), Status.DONE),
    Move.CANCEL: (
        frozenset({Status.PROPOSED, Status.DEFERRED, Status.APPROVED, Status.IN_PROGRESS}),
        Status.CANCELLED,
    ),
    Move.PROPOSE_AGAIN: (frozenset({Status.DEFERRED, Status.DECLINED}), Status.PROPOSED),
}
# the client's decisions (recorded by staff until the client decides on its plan page)
CLIENT_MOVES = (Move.APPROVE, Move.DECLINE, Move.DEFER)
# an initiative still to be decided or worked on: the plan can still change it
OPEN = (Status.PROPOSED, Status.DEFERRED, Status.APPROVED, Status.IN_PROGRESS)
# who shapes the plan and records the client's decisions
PLANNERS = (Role.VCIO, Role.ACCOUNT_MANAGER)
LIST_MAX = 200  # findings, items or assets one initiative names
COST_LINES_MAX = 50


@dataclass(frozen=True)
class Cost:
    """One cost line as given: once in a quarter, or every month from one quarter (until one)."""

    kind: str  # one_time or recurring
    amount: Decimal  # recurring: per month
    first: FiscalQuarter
    last: FiscalQuarter | None = None
    hardware: bool = False
    label: str = ""


COST = re.compile(r"^\s*([^@]+)@\s*([^.\s]+)\s*(?:\.\.\s*(\S+))?\s*$")


def parse_cost(text: str, kind: str, what: str) -> Cost:
    """AMOUNT@QUARTER (one-time), AMOUNT@FROM[..UNTIL] (monthly), e.g. 4800@FY2027-Q2."""
    found = COST.match(text[:120])
    example = "4800@FY2027-Q2" if kind == "one_time" else "150@FY2027-Q2..FY2028-Q1"
    if found is None or (kind == "one_time" and found.group(3)):
        raise InvalidInput(f"{what} {text[:60]!r} is not a cost line; write e.g. {example}")
    amount = parse_amount(found.group(1).strip(), what)
    first = FiscalQuarter.parse(found.group(2))
    last = FiscalQuarter.parse(found.group(3)) if found.group(3) else None
    if last is not None and last < first:
        raise InvalidInput(f"{what} {text[:60]!r} ends before it starts; write e.g. {example}")
    return Cost(kind, amount, first, last)


@dataclass(frozen=True)
class Draft:
    """An initiative as a person gives it (a new one, or the fields an edit changes)."""

    title: str
    why: str = ""
    category: str = Category.GOVERNANCE.value
    priority: str = Priority.MEDIUM.value
    owner_role: str = Role.VCIO.value
    quarter: FiscalQuarter | None = None
    costs: tuple[Cost, ...] = ()
    findings: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    assets: tuple[str, ...] = ()
    source_key: str | None = None  # what proposed it, when xbr did

    def checked(self) -> Draft:
        """The draft with its text trimmed, or an error naming the field and the fix."""
        if self.category not in {c.value for c in Category}:
            raise InvalidInput(
                f"--category {self.category[:40]!r} is not a scorecard category; use one of "
                f"{', '.join(c.value for c in Category)}"
            )
        if self.priority not in {p.value for p in Priority}:
            raise InvalidInput(f"--priority {self.priority[:40]!r}: use high, medium or low")
        if self.owner_role not in {r.value for r in Role} or self.owner_role == Role.CLIENT_CONTACT:
            raise InvalidInput(
                f"--owner-role {self.owner_role[:40]!r} is not a staff role; use e.g. vcio"
            )
        for name, values in (("finding", self.findings), ("item", self.items),
                             ("asset", self.assets)):  # fmt: skip
            if len(values) > LIST_MAX:
                raise InvalidInput(f"an initiative names at most {LIST_MAX} {name}s")
            for value in values:
                parse_name(value, f"{name} {value[:40]!r}")
        if len(self.costs) > COST_LINES_MAX:
            raise InvalidInput(f"an initiative has at most {COST_LINES_MAX} cost lines")
        check_text(self.why, "the why (--why)")
        return replace(self, title=parse_name(self.title, "initiative"), why=self.why.strip())


def _planner(session: Session, client: Client, actor: str) -> Person:
    person = person_by_email(session, actor)
    if not covers(session, client.id, person.email, PLANNERS):
        raise Refused(
            f"{person.email} is not {client.name}'s vCIO or account manager; they shape its "
            "plan and record its decisions (`xbr client assign`)"
        )
    return person


def cost_rows(costs: Sequence[Cost], start_month: int) -> list[CostLine]:
    """Cost lines as stored: in months, from the quarters given on the client's fiscal year."""
    rows = []
    for cost in costs:
        ends = None
        if cost.kind == "recurring" and cost.last is not None:
            ends = cost.last.months(start_month)[-1]
        rows.append(
            CostLine(
                kind=cost.kind,
                amount=cost.amount,
                starts=cost.first.start(start_month),
                ends=ends,
                hardware=cost.hardware,
                label=cost.label,
            )
        )
    return rows


def add_initiative(
    uow: UnitOfWork,
    client_name: str,
    draft: Draft,
    actor: str,
    review_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Add an initiative to a client's roadmap, proposed; returns its id."""
    now = now or utcnow()
    draft = draft.checked()
    with uow:
        session = uow.session
        client = client_by_name(session, client_name)
        person = _planner(session, client, actor)
        initiative = new_initiative(session, client, draft, review_id, now)
        session.flush()
        _audit(session, initiative, None, Status.PROPOSED, "added", person.email, "", now)
        uow.commit()
        return initiative.id


def new_initiative(
    session: Session, client: Client, draft: Draft, review_id: int | None, now: datetime
) -> Initiative:
    """A proposed initiative in the caller's transaction (people and staging both add them)."""
    start = client.fiscal_year_start
    initiative = Initiative(
        client=client,
        review_id=review_id,
        title=draft.title,
        why=draft.why,
        category=draft.category,
        priority=draft.priority,
        status=Status.PROPOSED.value,
        owner_role=draft.owner_role,
        quarter_start=draft.quarter.start(start) if draft.quarter else None,
        source_key=draft.source_key,
        findings=list(dict.fromkeys(draft.findings)),
        items=list(dict.fromkeys(draft.items)),
        assets=list(dict.fromkeys(draft.assets)),
        created_at=now,
        updated_at=now,
    )
    initiative.costs = cost_rows(draft.costs, start)
    session.add(initiative)
    return initiative


def edit_initiative(
    uow: UnitOfWork,
    initiative_id: int,
    actor: str,
    draft: Draft,
    given: Sequence[str],
    now: datetime | None = None,
) -> None:
    """Change the fields named in `given` (title, why, category, priority, owner_role, quarter,
    costs: the cost lines given replace all of them) of an open initiative."""
    now = now or utcnow()
    draft = draft.checked()
    with uow, _one_writer(initiative_id):
        session = uow.session
        initiative = load_initiative(session, initiative_id)
        person = _planner(session, initiative.client, actor)
        _refuse_closed(initiative, "edited")
        start = initiative.client.fiscal_year_start
        for name in given:
            if name == "quarter":
                quarter = draft.quarter.start(start) if draft.quarter else None
                initiative.quarter_start = quarter
            elif name == "costs":
                initiative.costs = cost_rows(draft.costs, start)
            else:
                setattr(initiative, name, getattr(draft, name))
        initiative.updated_at = now
        status = Status(initiative.status)
        _audit(session, initiative, status, status, "edited", person.email, ", ".join(given), now)
        uow.commit()


def merge_initiatives(
    uow: UnitOfWork, into_id: int, other_ids: Sequence[int], actor: str, now: datetime | None = None
) -> None:
    """Fold other open initiatives of the same client into one: their findings, items, assets
    and cost lines move to it, and they are cancelled, "merged into N"."""
    now = now or utcnow()
    if into_id in other_ids or not other_ids:
        raise InvalidInput("merge names one initiative to keep and others to fold into it")
    with uow, _one_writer(into_id):
        session = uow.session
        into = load_initiative(session, into_id)
        person = _planner(session, into.client, actor)
        _refuse_closed(into, "merged into")
        for other_id in dict.fromkeys(other_ids):
            other = load_initiative(session, other_id)
            if other.client_id != into.client_id:
                raise InvalidInput(
                    f"initiative {other_id} is {other.client.name}'s, not {into.client.name}'s"
                )
            _refuse_closed(other, "merged")
            into.findings = list(dict.fromkeys([*into.findings, *other.findings]))
            into.items = list(dict.fromkeys([*into.items, *other.items]))
            into.assets = list(dict.fromkeys([*into.assets, *other.assets]))
            # loading into.costs must not flush the line removed a moment ago: an orphan, deleted
            with session.no_autoflush:
                for line in list(other.costs):
                    other.costs.remove(line)
                    into.costs.append(line)
            before = Status(other.status)
            other.status, other.updated_at = Status.CANCELLED.value, now
            other.source_key = None  # its source now proposes into the one kept
            _audit(session, other, before, Status.CANCELLED, "merged", person.email,
                   f"merged into initiative {into.id}", now)  # fmt: skip
        into.updated_at = now
        status = Status(into.status)
        merged = ", ".join(str(i) for i in other_ids)
        _audit(session, into, status, status, "merged", person.email, f"took in {merged}", now)
        uow.commit()


def move_initiative(
    uow: UnitOfWork,
    initiative_id: int,
    move: Move,
    actor: str,
    comment: str = "",
    defer_to: FiscalQuarter | None = None,
    actual: Decimal | None = None,
    now: datetime | None = None,
) -> Initiative:
    """One step of an initiative (approve, decline, defer to a quarter, start, finish with its
    actual cost, cancel, propose again), by a planner; a client's decision recorded by staff
    says so in the audit trail."""
    now = now or utcnow()
    check_text(comment, "the comment (--comment)")
    if move is Move.DEFER and defer_to is None:
        raise InvalidInput("deferring needs the quarter it comes back in, e.g. --defer FY2028-Q1")
    if move is Move.CANCEL and not comment.strip():
        raise InvalidInput("cancelling an initiative needs a reason (--comment)")
    with uow, _one_writer(initiative_id):
        session = uow.session
        initiative = load_initiative(session, initiative_id)
        person = _planner(session, initiative.client, actor)
        said = comment.strip()
        if move in CLIENT_MOVES:
            said = "; ".join(filter(None, ["recorded by staff for the client", said]))
        _step(session, initiative, move, person.email, said, defer_to, actual, now)
        uow.commit()
        return initiative


def _step(
    session: Session,
    initiative: Initiative,
    move: Move,
    actor: str,
    said: str,
    defer_to: FiscalQuarter | None,
    actual: Decimal | None,
    now: datetime,
) -> None:
    """Make the move if the initiative's status allows it, and audit it, in the caller's
    transaction: staff's moves and the client's own decisions take this one path."""
    sources, dest = MOVES[move]
    before = Status(initiative.status)
    if before not in sources:
        allowed = ", ".join(sorted(s.value for s in sources))
        raise IllegalTrigger(
            f"initiative {initiative.id} is {before.value}: "
            f"{move.value.replace('_', ' ')} only when {allowed}"
        )
    if move is Move.DEFER:
        assert defer_to is not None
        initiative.quarter_start = defer_to.start(initiative.client.fiscal_year_start)
        said = "; ".join(filter(None, [f"to {defer_to.label}", said]))
    if move is Move.FINISH and actual is not None:
        initiative.actual_cost = actual
    initiative.status, initiative.updated_at = dest.value, now
    _audit(session, initiative, before, dest, move.value, actor, said, now)
    if dest is Status.APPROVED:  # the work begins: the PSA hears of it, a first ticket
        approved(session, initiative, now)


def load_initiative(session: Session, initiative_id: int) -> Initiative:
    """The initiative, or an error saying where to find the right id."""
    initiative = session.get(Initiative, initiative_id)
    if initiative is None:
        raise NotFound(f"unknown initiative {initiative_id}; see `xbr roadmap CLIENT`")
    return initiative


def _refuse_closed(initiative: Initiative, what: str) -> None:
    if Status(initiative.status) not in OPEN:
        raise IllegalTrigger(
            f"initiative {initiative.id} is {initiative.status}; only an open one can be {what}"
        )


@contextmanager
def _one_writer(initiative_id: int) -> Iterator[None]:
    """Two writers of one initiative: the one that read an older version is refused."""
    try:
        yield
    # an older version, or the row of an event the winner already wrote (the approval's)
    except (StaleDataError, IntegrityError):
        raise AlreadyDecided(
            f"initiative {initiative_id} changed meanwhile; look at it again"
        ) from None


def _audit(
    session: Session,
    initiative: Initiative,
    before: Status | None,
    after: Status,
    trigger: str,
    actor: str,
    comment: str,
    now: datetime,
) -> None:
    status = before.value if before else None
    audit.initiative_step(session, initiative, status, after.value, trigger, actor, comment, now)


def quarter_label(day: date | None, start_month: int) -> str | None:
    """The fiscal quarter a stored first day falls in, as FY2027-Q1."""
    return FiscalQuarter.of(day, start_month).label if day else None


# what a client still has to decide: the statuses its moves start from
TO_DECIDE = MOVES[Move.APPROVE][0]


def _client_contact(session: Session, client: Client, email: str) -> Person:
    person = person_by_email(session, email)
    if not covers(session, client.id, person.email, [Role.CLIENT_CONTACT]):
        raise Refused(
            f"{person.email} is not a contact of {client.name}; only its client contacts decide "
            f"its plan (`xbr client assign {client.name!r} --role client_contact --email ...`)"
        )
    return person


def is_client_contact(uow: UnitOfWork, client_name: str, email: str) -> bool:
    """Whether `email` is one of the client's contacts, who decide its plan."""
    return _covers(uow, client_name, email, [Role.CLIENT_CONTACT])


def _covers(uow: UnitOfWork, client_name: str, email: str, roles: Sequence[str]) -> bool:
    with uow:
        try:
            client = client_by_name(uow.session, client_name)
        except NotFound:
            return False
        return covers(uow.session, client.id, email, roles)


def client_decides(
    uow: UnitOfWork,
    initiative_id: int,
    move: Move,
    contact_email: str,
    comment: str = "",
    defer_to: FiscalQuarter | None = None,
    now: datetime | None = None,
) -> Initiative:
    """The client's own decision on an initiative of its plan (approve, decline, or defer to a
    quarter), by one of its client contacts, audited as theirs and as the unit of work knows
    them; of two decisions on one initiative at once, the second is refused."""
    now = now or utcnow()
    if move not in CLIENT_MOVES:
        raise InvalidInput(
            f"a client approves, declines or defers an initiative, not {move.value!r}: "
            "its vCIO or account manager makes the other moves"
        )
    check_text(comment, "the comment")
    if move is Move.DEFER and defer_to is None:
        raise InvalidInput("deferring needs the quarter it comes back in, e.g. FY2028-Q1")
    with uow, _one_writer(initiative_id):
        session = uow.session
        initiative = load_initiative(session, initiative_id)
        person = _client_contact(session, initiative.client, contact_email)
        _step(session, initiative, move, person.email, comment.strip(), defer_to, None, now)
        uow.commit()
        return initiative


def is_planner(uow: UnitOfWork, client_name: str, email: str) -> bool:
    """Whether `email` is the client's vCIO or account manager, who shape its plan."""
    return _covers(uow, client_name, email, PLANNERS)
