"""The approval page's plan section: in prep, the client's vCIO or account manager edits, merges,
drops and adds initiatives of its roadmap. The whole form is checked before anything is saved;
then only what changed goes through states.plans.initiatives, as the link's person."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from states.errors import InvalidInput, Refused
from states.plans.fiscal import FiscalQuarter
from states.plans.initiatives import (
    Cost,
    Draft,
    Move,
    Priority,
    add_initiative,
    edit_initiative,
    merge_initiatives,
    move_initiative,
    parse_cost,
)
from states.plans.money import format_amount
from states.read.client_plan import OpenPlan, plan_to_edit
from states.read.plans import InitiativeView
from states.store.db import UnitOfWork
from states.text import check_text

PREFIX = "plan-"  # every field of the section: plan-title:ID ... plan-new-title
PRIORITIES = [p.value for p in Priority]
KINDS = {"once": "one_time", "monthly": "recurring"}
Form = Mapping[str, list[str]]
UowFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True)
class Editable:
    """An open initiative as the section shows it, its cost lines as the text fields hold them."""

    view: InitiativeView
    once: str  # 4800.00@FY2027-Q2, 300.00@FY2027-Q4
    monthly: str  # 150.00@FY2027-Q2..FY2028-Q1
    costs: tuple[Cost, ...]


@dataclass(frozen=True)
class PlanSection:
    """The client's open initiatives, for its planner to change."""

    client: str
    initiatives: list[Editable]
    PRIORITIES: list[str] = field(default_factory=lambda: PRIORITIES)


@dataclass
class PlanChanges:
    """What the form changes, all checked: applied in this order."""

    client: str
    review_id: int
    titles: dict[int, str]  # of the open initiatives, as they were
    edits: list[tuple[int, str, Draft, list[str]]] = field(default_factory=list)
    merges: dict[int, list[int]] = field(default_factory=dict)  # kept -> folded into it
    drops: list[tuple[int, str, str]] = field(default_factory=list)  # id, title, reason
    added: Draft | None = None


def section(uow: UnitOfWork, review_id: int, email: str) -> PlanSection | None:
    """The plan section for `email`, or None when the review is not in prep or they are not the
    client's vCIO or account manager."""
    return section_of(plan_to_edit(uow, review_id, email))


def section_of(plan: OpenPlan | None) -> PlanSection | None:
    """The plan section of the open plan its person may change (`section`, from what the
    caller has read)."""
    if plan is None:
        return None
    return PlanSection(plan.client, [_editable(v, costs) for v, costs in plan.initiatives])


def _editable(view: InitiativeView, costs: tuple[Cost, ...]) -> Editable:
    return Editable(view, _text(costs, "one_time"), _text(costs, "recurring"), costs)


def _text(costs: tuple[Cost, ...], kind: str) -> str:
    def one(cost: Cost) -> str:
        until = f"..{cost.last.label}" if cost.last else ""
        return f"{format_amount(cost.amount)}@{cost.first.label}{until}"

    return ", ".join(one(c) for c in costs if c.kind == kind)


def changes(uow: UnitOfWork, review_id: int, email: str, form: Form) -> PlanChanges | None:
    """What the form changes in the plan, every field checked; None when it names no plan
    field. Refused unless the review is in prep and `email` is a planner of its client."""
    if not any(name.startswith(PREFIX) for name in form):
        return None
    shown = section(uow, review_id, email)
    if shown is None:
        raise Refused(
            f"{email} may not change this client's plan here: only its vCIO or account manager, "
            "while the review is in prep; ask them, or use `xbr initiative`"
        )
    known = {e.view.id: e for e in shown.initiatives}
    named = {name.partition(":")[2] for name in form if name.startswith(PREFIX) and ":" in name}
    plan = PlanChanges(shown.client, review_id, {k: e.view.title for k, e in known.items()})
    for key in sorted(named):
        editable = known.get(int(key)) if key.isdigit() else None
        if editable is None:
            raise InvalidInput(
                f"initiative {key[:20]!r} is not open on {shown.client}'s plan; open the link "
                "again and change the initiatives it shows"
            )
        _edit(plan, editable, form)
        _drop_or_merge(plan, editable, form, known)
    folded = {i for others in plan.merges.values() for i in others}
    dropped = {d[0] for d in plan.drops}
    for kept in plan.merges:
        if kept in folded | dropped:
            raise InvalidInput(
                f"{known[kept].view.title!r} is merged into or dropped while others merge into "
                "it; merge them all into one that stays"
            )
    plan.added = _added(form)
    return plan


def _value(form: Form, name: str) -> str:
    # browsers send a textarea's line breaks as CRLF; the why keeps plain ones
    return (form.get(f"{PREFIX}{name}") or [""])[0].replace("\r\n", "\n").strip()


def _edit(plan: PlanChanges, editable: Editable, form: Form) -> None:
    """The fields of one initiative that the form changes, as a checked draft."""
    view, key = editable.view, editable.view.id
    given: list[str] = []
    title = _value(form, f"title:{key}") or view.title
    why = _value(form, f"why:{key}") if f"{PREFIX}why:{key}" in form else view.why
    priority = _value(form, f"priority:{key}") or view.priority
    quarter_text = _value(form, f"quarter:{key}") if f"{PREFIX}quarter:{key}" in form else None
    quarter = _quarter(quarter_text) if quarter_text is not None else None
    for name, new, old in (("title", title, view.title), ("why", why, view.why),
                           ("priority", priority, view.priority)):  # fmt: skip
        if new != old:
            given.append(name)
    if quarter_text is not None and (quarter.label if quarter else None) != view.quarter:
        given.append("quarter")
    costs = _costs(editable, form, title)
    if costs != editable.costs:
        given.append("costs")
    if given:
        draft = Draft(title, why, priority=priority, quarter=quarter, costs=costs).checked()
        plan.edits.append((key, view.title, draft, given))


def _quarter(text: str) -> FiscalQuarter | None:
    return FiscalQuarter.parse(text) if text else None


def _costs(editable: Editable, form: Form, title: str) -> tuple[Cost, ...]:
    """The cost lines the two fields give (the stored ones when the text is unchanged); a line
    given as it stands keeps its hardware mark and label."""
    costs: list[Cost] = []
    for name, kind in KINDS.items():
        field_name = f"{name}:{editable.view.id}"
        text = _value(form, field_name)
        if f"{PREFIX}{field_name}" not in form or text == _text(editable.costs, kind):
            costs += [c for c in editable.costs if c.kind == kind]
            continue
        what = f"the {'one-time' if kind == 'one_time' else 'monthly'} cost of {title!r}"
        stored = [c for c in editable.costs if c.kind == kind]
        for piece in filter(None, (p.strip() for p in text.split(","))):
            cost = parse_cost(piece, kind, what)
            same = next((c for c in stored if replace(c, hardware=False, label="") == cost), None)
            costs.append(same or cost)
    return tuple(costs)


def _drop_or_merge(
    plan: PlanChanges, editable: Editable, form: Form, known: dict[int, Editable]
) -> None:
    view, key = editable.view, editable.view.id
    reason = _value(form, f"reason:{key}")
    check_text(reason, f"the reason for dropping {view.title!r}")
    into = _value(form, f"merge:{key}")
    if _value(form, f"drop:{key}"):
        if into:
            raise InvalidInput(f"{view.title!r} is both dropped and merged; choose one")
        if not reason:
            raise InvalidInput(f"dropping {view.title!r} needs a reason; write it in its field")
        plan.drops.append((key, view.title, reason))
    elif into:
        if not into.isdigit() or int(into) not in known or int(into) == key:
            raise InvalidInput(
                f"{view.title!r} can merge only into another open initiative; choose one in "
                "its list"
            )
        plan.merges.setdefault(int(into), []).append(key)


def _added(form: Form) -> Draft | None:
    """The new initiative the mini form gives, checked; None when it is left empty."""
    title = _value(form, "new-title")
    rest = [_value(form, f"new-{name}") for name in ("why", "quarter", "once")]
    if not title:
        if any(rest):
            raise InvalidInput("the new initiative needs a title; write one or clear its fields")
        return None
    why, quarter, once = rest
    costs = tuple(
        parse_cost(p.strip(), "one_time", f"the one-time cost of {title!r}")
        for p in once.split(",")
        if p.strip()
    )
    priority = _value(form, "new-priority") or Priority.MEDIUM.value
    return Draft(title, why, priority=priority, quarter=_quarter(quarter), costs=costs).checked()


def save(uow: UowFactory, email: str, plan: PlanChanges, done: list[str]) -> None:
    """Apply checked changes as `email`: edits, merges, drops, then the new initiative,
    each appended to `done` in words for the page once saved."""
    for initiative_id, title, draft, given in plan.edits:
        edit_initiative(uow(), initiative_id, email, draft, given)
        done.append(f"Edited {title!r}: {', '.join(given)}")
    for kept, others in plan.merges.items():
        merge_initiatives(uow(), kept, others, email)
        folded = ", ".join(repr(plan.titles[i]) for i in others)
        done.append(f"Merged {folded} into {plan.titles[kept]!r}")
    for initiative_id, title, reason in plan.drops:
        move_initiative(uow(), initiative_id, Move.CANCEL, email, reason)
        done.append(f"Dropped {title!r}: {reason}")
    if plan.added is not None:
        add_initiative(uow(), plan.client, plan.added, email, review_id=plan.review_id)
        done.append(f"Added {plan.added.title!r}")
