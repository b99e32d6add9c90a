"""The plan's commands: `xbr initiative add|edit|merge|drop|decide|start|done` and
`xbr client fiscal-year` (`xbr roadmap` and `xbr budget` are in budget_cli.py)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from deploy import render
from deploy.context import AsOpt, JsonOpt, uow
from states import directory
from states.errors import InvalidInput
from states.plans.fiscal import FiscalQuarter
from states.plans.initiatives import (
    Draft,
    Move,
    add_initiative,
    edit_initiative,
    load_initiative,
    merge_initiatives,
    move_initiative,
    parse_cost,
)
from states.plans.money import parse_amount
from states.read.plans import (
    InitiativeView,
    initiative_view,
)

initiative_app = typer.Typer(
    no_args_is_help=True, help="A client's roadmap: add, edit, merge, drop and decide initiatives."
)

IdArg = Annotated[int, typer.Argument(min=1, max=2**31 - 1, help="The initiative's number.")]
Title = Annotated[str | None, typer.Option("--title", help="What it is, in a line.")]
Why = Annotated[str | None, typer.Option("--why", help="Why the client should do it.")]
CategoryOpt = Annotated[str | None, typer.Option("--category", help="A scorecard category.")]
PriorityOpt = Annotated[str | None, typer.Option("--priority", help="high, medium or low.")]
OwnerOpt = Annotated[str | None, typer.Option("--owner-role", help="Who leads it, e.g. vcio.")]
QuarterOpt = Annotated[str | None, typer.Option("--quarter", help="Target quarter: FY2027-Q3.")]
OneTime = Annotated[
    list[str] | None, typer.Option("--one-time", help="AMOUNT@QUARTER, e.g. 4800@FY2027-Q2.")
]
Monthly = Annotated[
    list[str] | None,
    typer.Option("--monthly", help="AMOUNT@FROM[..UNTIL] a month, e.g. 150@FY2027-Q2."),
]
Findings = Annotated[list[str] | None, typer.Option("--finding", help="A finding it addresses.")]
Items = Annotated[list[str] | None, typer.Option("--item", help="A standard item it addresses.")]
Assets = Annotated[list[str] | None, typer.Option("--asset", help="An asset it replaces.")]


def _quarter(text: str | None) -> FiscalQuarter | None:
    return FiscalQuarter.parse(text) if text else None


def _costs(one_time: list[str] | None, monthly: list[str] | None) -> tuple[Any, ...]:
    return (
        *(parse_cost(t, "one_time", "--one-time") for t in one_time or []),
        *(parse_cost(t, "recurring", "--monthly") for t in monthly or []),
    )


def _shown(view: InitiativeView, as_json: bool, what: str) -> None:
    render.out(
        as_json,
        view,
        f"initiative {view.id} {what}: {view.title} "
        f"({view.status}, {view.quarter or 'no quarter'})",
    )


# the fields an edit keeps from the initiative unless it changes them
EDITABLE = ("title", "why", "category", "priority", "owner_role")


def _given(**options: str | None) -> dict[str, str]:
    """The options given on the command line (the rest keep their defaults or values)."""
    return {name: value for name, value in options.items() if value is not None}


def _view(initiative_id: int) -> InitiativeView:
    with uow() as work:
        return initiative_view(load_initiative(work.session, initiative_id))


@initiative_app.command("add")
def initiative_add(
    client: str,
    title: Annotated[str, typer.Option("--title", help="What it is, in a line.")],
    actor: AsOpt,
    why: Why = None,
    category: CategoryOpt = None,
    priority: PriorityOpt = None,
    owner_role: OwnerOpt = None,
    quarter: QuarterOpt = None,
    one_time: OneTime = None,
    monthly: Monthly = None,
    finding: Findings = None,
    item: Items = None,
    asset: Assets = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an initiative to a client's roadmap (proposed until the client decides)."""
    draft = Draft(
        title,
        quarter=_quarter(quarter),
        costs=_costs(one_time, monthly),
        findings=tuple(finding or []),
        items=tuple(item or []),
        assets=tuple(asset or []),
        **_given(why=why, category=category, priority=priority, owner_role=owner_role),
    )
    initiative_id = add_initiative(uow(), client, draft, actor)
    _shown(_view(initiative_id), as_json, "added")


@initiative_app.command("edit")
def initiative_edit(
    initiative_id: IdArg,
    actor: AsOpt,
    title: Title = None,
    why: Why = None,
    category: CategoryOpt = None,
    priority: PriorityOpt = None,
    owner_role: OwnerOpt = None,
    quarter: QuarterOpt = None,
    one_time: OneTime = None,
    monthly: Monthly = None,
    as_json: JsonOpt = False,
) -> None:
    """Change an open initiative; --one-time and --monthly replace all its cost lines."""
    before = _view(initiative_id)
    given = _given(
        title=title, why=why, category=category, priority=priority, owner_role=owner_role
    )
    changed = [*given, *(["quarter"] if quarter is not None else [])]
    if one_time is not None or monthly is not None:
        changed.append("costs")
    if not changed:
        raise InvalidInput("nothing to change; give e.g. --title, --quarter or --one-time")
    kept = {name: getattr(before, name) for name in EDITABLE}
    draft = Draft(**{**kept, **given}, quarter=_quarter(quarter), costs=_costs(one_time, monthly))
    edit_initiative(uow(), initiative_id, actor, draft, changed)
    _shown(_view(initiative_id), as_json, f"edited ({', '.join(changed)})")


@initiative_app.command("merge")
def initiative_merge(
    initiative_id: IdArg,
    others: Annotated[list[int], typer.Option("--with", help="An initiative to fold in.")],
    actor: AsOpt,
    as_json: JsonOpt = False,
) -> None:
    """Fold other initiatives into this one (they are cancelled, "merged into" it)."""
    merge_initiatives(uow(), initiative_id, others, actor)
    _shown(_view(initiative_id), as_json, "took in " + ", ".join(map(str, others)))


@initiative_app.command("drop")
def initiative_drop(
    initiative_id: IdArg,
    actor: AsOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why it is dropped.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Drop an initiative from the plan (cancelled, with the reason)."""
    move_initiative(uow(), initiative_id, Move.CANCEL, actor, reason)
    _shown(_view(initiative_id), as_json, "dropped")


@initiative_app.command("decide")
def initiative_decide(
    initiative_id: IdArg,
    actor: AsOpt,
    approve: Annotated[bool, typer.Option("--approve", help="The client approves it.")] = False,
    decline: Annotated[bool, typer.Option("--decline", help="The client declines it.")] = False,
    defer: Annotated[
        str | None, typer.Option("--defer", help="The client defers it to a quarter.")
    ] = None,
    comment: Annotated[str, typer.Option("--comment", help="What the client said.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Record the client's decision made in the meeting (noted as recorded by staff)."""
    chosen = [m for m, on in ((Move.APPROVE, approve), (Move.DECLINE, decline),
                              (Move.DEFER, defer is not None)) if on]  # fmt: skip
    if len(chosen) != 1:
        raise InvalidInput("give one of --approve, --decline or --defer QUARTER")
    move_initiative(uow(), initiative_id, chosen[0], actor, comment, _quarter(defer))
    _shown(_view(initiative_id), as_json, DECIDED[chosen[0]])


DECIDED = {Move.APPROVE: "approved", Move.DECLINE: "declined", Move.DEFER: "deferred"}


@initiative_app.command("start")
def initiative_start(initiative_id: IdArg, actor: AsOpt, as_json: JsonOpt = False) -> None:
    """Work on an approved initiative has begun."""
    move_initiative(uow(), initiative_id, Move.START, actor)
    _shown(_view(initiative_id), as_json, "started")


@initiative_app.command("done")
def initiative_done(
    initiative_id: IdArg,
    actor: AsOpt,
    actual: Annotated[str | None, typer.Option("--actual", help="What it cost in the end.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """An initiative is done; --actual records what it cost (the budget shows it)."""
    cost = parse_amount(actual, "--actual") if actual is not None else None
    move_initiative(uow(), initiative_id, Move.FINISH, actor, actual=cost)
    _shown(_view(initiative_id), as_json, "done")


def fiscal_year_command(
    client: str,
    start: Annotated[
        int | None, typer.Option("--start", help="The month it starts, 1 (January) to 12.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The month a client's fiscal year starts (--start changes it): the plan's quarters."""
    month = directory.set_fiscal_year_start(uow(), client, start)
    render.out(
        as_json,
        {"client": client, "fiscal_year_start": month},
        f"{client}'s fiscal year starts in month {month}",
    )
