"""The `xbr` command line: Rich output for people, `--json` for scripts, exit 2 on bad input."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

import bootstrap
from bootstrap import prefect_env
from deploy import (
    assess_cli,
    budget_cli,
    directory_cli,
    faults,
    metrics_cli,
    new_run,
    plan_cli,
    psa_cli,
    render,
    session_cli,
    stack,
    staging_cli,
    standards_cli,
)
from deploy.context import (
    AsOpt,
    JsonOpt,
    MessageId,
    ReviewId,
    catalog,
    engine,
    os_user,
    settings,
    standards,
    uow,
)
from flows.wake import follow_up
from states import directory
from states.calendar.opening import start_review
from states.errors import XbrError
from states.lifecycle.decisions import (
    DecisionKind,
    DecisionRequest,
    complete_task,
    decide,
    skip_task,
)
from states.notices import digests
from states.read import board as board_view
from states.read import views
from states.store import db
from states.store.models import Client, Person, utcnow
from states.templates.catalog import load_template_file, pick

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="xbr: durable business reviews for MSPs. Add --json to any command for scripts.",
    pretty_exceptions_show_locals=False,
)
person_app = typer.Typer(no_args_is_help=True, help="People and their roles.")
client_app = typer.Typer(no_args_is_help=True, help="Clients, their cadence and template.")
template_app = typer.Typer(no_args_is_help=True, help="Review templates.")
review_app = typer.Typer(no_args_is_help=True, help="Start, list and show reviews.")
task_app = typer.Typer(no_args_is_help=True, help="Close the tasks of a review.")
notify_app = typer.Typer(no_args_is_help=True, help="Check the notification channels.")
calendar_app = typer.Typer(no_args_is_help=True, help="The account calendar: next reviews.")
outbox_app = typer.Typer(no_args_is_help=True, help="Notices waiting, failed, and sent again.")
for sub, name in [
    (person_app, "person"),
    (client_app, "client"),
    (template_app, "template"),
    (review_app, "review"),
    (task_app, "task"),
    (notify_app, "notify"),
    (outbox_app, "outbox"),
    (calendar_app, "calendar"),
]:
    app.add_typer(sub, name=name)

app.add_typer(staging_cli.evidence_app, name="evidence")
app.add_typer(standards_cli.standard_app, name="standard")
app.command("findings")(staging_cli.findings_command)
app.command("scorecard")(staging_cli.scorecard_command)
app.command("assess")(assess_cli.assess_command)
app.add_typer(plan_cli.initiative_app, name="initiative")
app.command("roadmap")(budget_cli.roadmap_command)
app.command("budget")(budget_cli.budget_command)
client_app.command("fiscal-year")(plan_cli.fiscal_year_command)
app.add_typer(staging_cli.ticket_app, name="ticket")
app.command("feedback")(staging_cli.feedback_command)
app.command("report")(staging_cli.report_command)
client_app.command("thresholds")(staging_cli.thresholds_command)
app.command("metrics")(metrics_cli.metrics_command)
app.add_typer(session_cli.session_app, name="session")
app.add_typer(directory_cli.directory_app, name="directory")
app.add_typer(psa_cli.psa_app, name="psa")
client_app.command("psa")(psa_cli.client_psa_command)


@app.command()
def init(as_json: JsonOpt = False) -> None:
    """Create XBR_HOME and bring the database schema up to date."""
    bootstrap.private_home(settings())
    db.upgrade(engine())
    result = {"home": str(settings().home), "database": engine().url.render_as_string()}
    render.out(as_json, result, f"xbr is ready: {result['database']}")


NotifyOpt = Annotated[
    str | None,
    typer.Option(
        "--notify",
        help="immediate: each message as it happens (the default); digest: one email a day at "
        "08:00 in their time zone (approvals, overdue tasks and escalations still at once).",
    ),
]
PersonZoneOpt = Annotated[
    str | None,
    typer.Option("--timezone", help="IANA time zone of their digest; default XBR_TIMEZONE."),
]


def _person_data(person: Person) -> dict[str, object]:
    return {
        "id": person.id, "name": person.name, "email": person.email, "roles": person.roles,
        "notify": person.notify, "timezone": person.timezone,
    }  # fmt: skip


@person_app.command("add")
def person_add(
    name: str,
    email: Annotated[str, typer.Option("--email")],
    role: Annotated[list[str], typer.Option("--role", help="Repeat for several roles.")],
    notify: NotifyOpt = None,
    timezone: PersonZoneOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a person (or more roles to an existing one)."""
    digests.check_rhythm(notify, timezone)  # before anything is written
    person = directory.add_person(uow(), name, email, role)
    if notify is not None or timezone is not None:
        person = digests.set_rhythm(uow(), person.email, notify, timezone)
    data = _person_data(person)
    render.out(as_json, data, f"{person.name} <{person.email}>: {', '.join(person.roles)}")


@person_app.command("edit")
def person_edit(
    email: str, notify: NotifyOpt = None, timezone: PersonZoneOpt = None, as_json: JsonOpt = False
) -> None:
    """How a person gets their messages: each at once, or a daily digest at 08:00."""
    person = digests.set_rhythm(uow(), email, notify, timezone)
    zone = person.timezone or f"{settings().timezone} (XBR_TIMEZONE)"
    render.out(
        as_json, _person_data(person), f"{person.name} <{person.email}>: {person.notify}, {zone}"
    )


@person_app.command("list")
def person_list(as_json: JsonOpt = False) -> None:
    """Everyone and their roles."""
    people = [
        {"id": p.id, "name": p.name, "email": p.email, "roles": p.roles}
        for p in directory.list_people(uow())
    ]
    render.out(
        as_json, people, lambda: render.rows("People", ["id", "name", "email", "roles"], people)
    )


CountryOpt = Annotated[
    str | None,
    typer.Option(
        help="ISO 3166 country whose public holidays are not business days, e.g. US or DE "
        "(default: the MSP's, XBR_COUNTRY; '' in edit: back to it)."
    ),
]
SubdivisionOpt = Annotated[
    str | None,
    typer.Option(help="The country's state or province whose holidays count too, e.g. NY, BY."),
]


def _client_data(client: Client) -> dict[str, object]:
    return {
        "id": client.id,
        "name": client.name,
        "cadence": client.cadence,
        "template": client.template,
        "timezone": client.timezone,
        "country": client.country,
        "subdivision": client.subdivision,
        "active": client.active,
        "standards": client.standards or [],
        "fiscal_year_start": client.fiscal_year_start,
        "psa_company": client.psa_company,  # its company in the PSA: mirrored there when set
    }


@client_app.command("add")
def client_add(
    name: str,
    cadence: Annotated[str, typer.Option(help="monthly|quarterly|semiannual|annual|none")],
    template: Annotated[str, typer.Option(help="Default review template, e.g. qbr.")],
    timezone: Annotated[str, typer.Option(help="IANA time zone of the client.")] = "UTC",
    country: CountryOpt = None,
    subdivision: SubdivisionOpt = None,
    first_review: Annotated[
        bool,
        typer.Option(
            "--first-review/--no-first-review",
            help="Open the client's first review now, as the account calendar would "
            "(--no-first-review: you start it yourself, e.g. with its meeting date).",
        ),
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Add a client; with a cadence, its first review opens at once."""
    from states.calendar.recurrence import ensure_next_review

    client = directory.add_client(
        uow(), name, cadence, template, timezone, catalog(), country, subdivision
    )
    plan = (
        ensure_next_review(uow(), catalog(), client.name, standards=standards())
        if first_review
        else None
    )
    review_id = plan.review_id if plan else None
    run_url = _attach_run_if_up(review_id) if review_id else None
    data = {**_client_data(client), "first_review": review_id, "run_url": run_url}
    text = f"client {client.name} added ({cadence}, {template}, {timezone}, {_holidays(client)})"
    if review_id:
        name = views.review_view(uow(), review_id).name
        text += f"\nfirst review {review_id} opened: {name}; " + (
            f"flow run: {run_url}" if run_url else "its flow run starts with the next sweep"
        )
    render.out(as_json, data, text)


def _holidays(client: Client) -> str:
    place = "/".join(p for p in (client.country, client.subdivision) if p)
    if place:
        return f"holidays of {place}"
    msp = "/".join(p for p in settings().holiday_place if p)
    return f"the MSP's holidays ({msp})" if msp else "no public holidays (XBR_COUNTRY is not set)"


@client_app.command("edit")
def client_edit(
    name: str,
    country: CountryOpt = None,
    subdivision: SubdivisionOpt = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone of the client.")] = None,
    cadence: Annotated[
        str | None, typer.Option(help="monthly|quarterly|semiannual|annual|none")
    ] = None,
    template: Annotated[str | None, typer.Option(help="Default review template.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a client's country, subdivision, time zone, cadence or template; its open
    reviews' due dates follow. Nothing changes if any value is unknown."""
    from states.calendar.client_edit import ClientEdit, edit_client

    wanted = ClientEdit(country, subdivision, timezone, cadence, template)
    client, moved = edit_client(uow(), catalog(), name, wanted)
    data = {**_client_data(client), "reviews_redated": moved}
    text = (
        f"client {client.name}: {client.cadence}, {client.template}, {client.timezone}, "
        f"{_holidays(client)}"
        + (f"; due dates of {moved} open review(s) set again" if moved else "")
    )
    render.out(as_json, data, text)


@client_app.command("list")
def client_list(as_json: JsonOpt = False) -> None:
    """All clients."""
    rows = [_client_data(c) for c in directory.list_clients(uow())]
    render.out(
        as_json,
        rows,
        lambda: render.rows("Clients", ["id", "name", "cadence", "template", "timezone"], rows),
    )


@client_app.command("show")
def client_show(name: str, as_json: JsonOpt = False) -> None:
    """One client, who covers which role for it, and its reviews."""
    with uow() as work:
        client = directory.client_by_name(work.session, name)
        roles = [{"role": a.role, "person": a.person.email} for a in client.assignments]
    reviews = [r.to_json() for r in views.list_reviews(uow(), client_id=client.id)]
    if as_json:
        render.emit_json({**_client_data(client), "roles": roles, "reviews": reviews})
        return
    render.rows(f"Client {client.name}", list(_client_data(client)), [_client_data(client)])
    render.rows("Roles", ["role", "person"], roles)
    render.rows("Reviews", ["id", "name", "status", "meeting_at"], reviews)


@client_app.command("standards")
def client_standards(
    name: str,
    add: Annotated[
        list[str] | None, typer.Option("--add", help="A standard to assess too (repeat).")
    ] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", help="One of the client's own to drop.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The standards a client's reviews assess: its template's, and its own (--add, --remove)."""
    own, assessed = directory.set_standards(
        uow(), catalog(), standards(), name, add or [], remove or []
    )
    data = {"client": name, "own": own, "assessed": assessed}
    render.out(
        as_json,
        data,
        f"{name}: its reviews assess {', '.join(assessed) or 'no standard'}"
        + (f" (its own: {', '.join(own)})" if own else ""),
    )


@client_app.command("assign")
def client_assign(
    name: str,
    role: Annotated[str, typer.Option("--role")],
    email: Annotated[str, typer.Option("--email")],
) -> None:
    """Make a person cover a role for this client (its vCIO, account manager, contact...)."""
    directory.assign_role(uow(), name, role, email)
    render.say(f"{email} covers {role} for {name}")


@template_app.command("list")
def template_list(as_json: JsonOpt = False) -> None:
    """The templates you can start reviews from."""
    rows = [
        {
            "name": t.name,
            "title": t.title,
            "type": t.review_type,
            "cadence": t.cadence.value,
            "tasks": sum(1 for _ in t.tasks()),
            "budget_hours": t.budget_hours,
        }
        for t in catalog().values()
    ]
    if as_json:
        render.emit_json(rows)
    else:
        columns = ["name", "title", "type", "cadence", "tasks", "budget_hours"]
        render.rows("Templates", columns, rows)


@template_app.command("show")
def template_show(name: str, as_json: JsonOpt = False) -> None:
    """Phases, RACI, limits and tasks of a template."""
    template = pick(catalog(), name)
    render.out(as_json, template.model_dump(mode="json"), lambda: render.template(template))


@template_app.command("validate")
def template_validate(file: Path, as_json: JsonOpt = False) -> None:
    """Check a template file; errors name the file, the field and the reason."""
    template = load_template_file(file)
    known = bootstrap.root().standards()
    unknown = [name for name in template.standards if name not in known]
    if unknown:
        raise XbrError(
            f"{file}: standards: unknown standard {unknown[0]!r}; use one of: "
            f"{', '.join(sorted(known))} (or add it to $XBR_HOME/standards)"
        )
    count = sum(1 for _ in template.tasks())
    render.out(
        as_json,
        {"file": str(file), "name": template.name, "tasks": count, "valid": True},
        f"{file}: valid template {template.name} with {count} tasks",
    )


@review_app.command("start")
def review_start(
    client: str,
    review_type: Annotated[str | None, typer.Option("--type", help="Template name.")] = None,
    meeting: Annotated[str | None, typer.Option(help="ISO date-time, client's zone.")] = None,
    no_flow: Annotated[
        bool, typer.Option("--no-flow", help="Track the review in the database only.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Start a review of a client from its template (or --type), with its flow run."""
    if not no_flow:
        prefect_env.use_prefect(settings())  # refuse before anything is written
    review_id = start_review(
        uow(), client, catalog(), review_type, meeting, actor="cli", standards=standards(),
        held=no_flow,
    )  # fmt: skip
    run_url = None if no_flow else _attach_new_run(review_id)
    # without a run, nobody else sends the first notices now
    note = _follow_up(review_id, 0, {}) if no_flow else ""
    data = views.review_view(uow(), review_id)
    render.out(
        as_json,
        {"id": review_id, "name": data.name, "status": data.status, "run_url": run_url},
        f"review {review_id} started: {data.name} ({len(data.tasks)} tasks), "
        f"now in {data.status}{note}" + (f"\nflow run: {run_url}" if run_url else ""),
    )


@review_app.command("run")
def review_run(review_id: ReviewId, as_json: JsonOpt = False) -> None:
    """Give a review its flow run: one started with --no-flow, or one whose run ended."""
    from reports.run_pages import run_url
    from states.lifecycle.run_records import release_run
    from tasks.flow_runs import LIVE, read_states

    prefect_env.use_prefect(settings())  # refuse before anything is written
    current = views.review_view(uow(), review_id).flow_run_id
    if current is not None:
        state = read_states([current]).get(current)
        if state is not None and state.type in LIVE:
            raise XbrError(
                f"review {review_id} already has a live run ({state.name}): {run_url(current)}"
            )
    flow_run_id, generation = release_run(uow(), review_id)
    url = _attach_new_run(review_id, generation + 1 if flow_run_id else 0)
    render.out(
        as_json,
        {"id": review_id, "run_url": url},
        f"review {review_id} has its flow run: {url}" if url else f"review {review_id} kept",
    )


def _attach_new_run(review_id: int, generation: int = 0) -> str | None:
    """The review's new flow run; None, said in one line, when Prefect refuses to make it now
    (the review is kept: the next sweep gives it its run)."""
    url, refused = new_run.attach(uow, review_id, generation)
    if refused:
        render.warn(
            f"review {review_id} is kept, but Prefect did not make its flow run now ({refused});"
            " the next sweep makes it (or run `xbr sweep`)"
        )
    return url


def _attach_run_if_up(review_id: int) -> str | None:
    """The review's flow run now if xbr's Prefect answers; else the sweeper attaches one."""
    try:
        prefect_env.use_prefect(settings())
    except XbrError:
        return None
    return _attach_new_run(review_id)


def _follow_up(review_id: int, round_before: int, run_input: dict[str, object]) -> str:
    return follow_up(uow(), settings(), review_id, round_before, run_input)


@review_app.command("list")
def review_list(
    status: Annotated[str | None, typer.Option(help="Only reviews in this status.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Reviews, newest first."""
    rows = views.list_reviews(uow(), status)
    render.out(
        as_json,
        rows,
        lambda: render.rows(
            "Reviews",
            ["id", "name", "client", "type", "status", "meeting"],
            [{**r.to_json(), "meeting": render.when(r.meeting_at)} for r in rows],
        ),
    )


@review_app.command("show")
def review_show(review_id: ReviewId, as_json: JsonOpt = False) -> None:
    """A review with its gate, tasks and audit trail."""
    from states.lifecycle.run_records import run_held

    data = views.review_view(uow(), review_id)
    render.out(as_json, data, lambda: render.review(data))
    if not as_json and data.flow_run_id is None and run_held(uow(), review_id):
        render.say(
            f"no flow run: started with --no-flow; give it one with `xbr review run {review_id}`"
        )


@task_app.command("done")
def task_done(
    review_id: ReviewId,
    task_key: str,
    actor: AsOpt,
    note: Annotated[str | None, typer.Option()] = None,
    hours: Annotated[float | None, typer.Option(help="Hours worked on it.")] = None,
) -> None:
    """Mark a task done."""
    before = views.review_view(uow(), review_id).round
    complete_task(uow(), review_id, task_key, actor, note, hours)
    _after(review_id, f"task {task_key} done", before, actor)


@task_app.command("skip")
def task_skip(
    review_id: ReviewId,
    task_key: str,
    actor: AsOpt,
    reason: Annotated[str, typer.Option(help="Why this review does not need it.")] = "",
) -> None:
    """Skip a task this review does not need."""
    before = views.review_view(uow(), review_id).round
    skip_task(uow(), review_id, task_key, actor, reason)
    _after(review_id, f"task {task_key} skipped", before, actor)


def _after(review_id: int, what: str, round_before: int, actor: str) -> None:
    note = _follow_up(review_id, round_before, {})
    data = views.review_view(uow(), review_id)
    gate = data.gate
    items = (
        f"{len(gate.open_required_items)} assessment items"
        if gate and gate.open_required_items
        else ""
    )
    waiting = ", ".join(filter(None, [*(gate.open_required_tasks if gate else ()), items]))
    tail = f"; still open in {data.status}: {waiting}" if waiting else ""
    render.say(f"{what}; review {review_id} is in {data.status}{tail}{note}")


def _decide(
    kind: DecisionKind,
    review_id: ReviewId,
    actor: str,
    phase: str | None,
    comment: str,
    meeting: str | None,
    as_json: bool,
) -> None:
    result = decide(uow(), DecisionRequest(review_id, kind, actor, comment, meeting, phase))
    note = _follow_up(
        review_id,
        result.round,
        {"decision": kind.value, "comment": comment},
    )
    render.out(
        as_json,
        result.__dict__,
        f"review {review_id}: {kind} by {actor}: {result.describe()}{note}",
    )


PhaseOpt = Annotated[
    str | None, typer.Option(help="The phase you decide on; refused once the review left it.")
]
CommentOpt = Annotated[str, typer.Option(help="Comment or reason.")]
MeetingOpt = Annotated[str | None, typer.Option(help="Meeting date, ISO, client's zone.")]


def _decision_command(kind: DecisionKind, help_text: str) -> None:
    def command(
        review_id: ReviewId,
        actor: AsOpt,
        phase: PhaseOpt = None,
        comment: CommentOpt = "",
        meeting: MeetingOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        _decide(kind, review_id, actor, phase, comment, meeting, as_json)

    command.__doc__ = help_text
    app.command(kind.value)(command)


_decision_command(DecisionKind.APPROVE, "Approve the review's current gate and move it on.")
_decision_command(DecisionKind.REJECT, "Send the gate back for rework (reason required).")
_decision_command(DecisionKind.RESCHEDULE, "Back to scheduling with a new meeting date.")
_decision_command(DecisionKind.CANCEL, "Cancel the review (reason required).")
_decision_command(DecisionKind.REOPEN, "Reopen follow-up from QA review (reason required).")


@calendar_app.command("run")
def calendar_run(as_json: JsonOpt = False) -> None:
    """One pass of the account calendar: open every client's next review that is due."""
    from states.calendar.recurrence import calendar_pass

    plans = [p.__dict__ for p in calendar_pass(uow(), catalog(), standards=standards())]
    opened = [p for p in plans if p["review_id"]]
    render.out(
        as_json,
        plans,
        lambda: render.rows(
            f"Account calendar: {len(opened)} reviews opened",
            ["client", "review_id", "meeting_due", "reason"],
            plans,
        ),
    )


board_app = typer.Typer(help="The review board, and the key of its page.")
app.add_typer(board_app, name="board")


@board_app.callback(invoke_without_command=True)
def board_command(
    context: typer.Context,
    cards: Annotated[
        int, typer.Option(min=0, help="cards per column, earliest meeting first; 0 for all")
    ] = board_view.CARDS,
    as_json: JsonOpt = False,
) -> None:
    """The review board: columns by phase, count against WIP limit, age warnings, queues."""
    if context.invoked_subcommand is not None:
        return
    columns = board_view.board(uow(), utcnow(), cards or None)
    render.out(as_json, columns, lambda: render.board(columns))


@board_app.command("key")
def board_key(
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Make a new key; the old address stops working.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """The board page's address with its key (whoever has it sees every client's reviews)."""
    from deploy import board_page
    from states.lifecycle import link_uses

    if rotate:
        link_uses.rotate_board_key(uow())
    url = board_page.board_url(settings(), uow)
    note = "; the old address no longer works" if rotate else ""
    render.out(as_json, {"url": url, "rotated": rotate}, f"board page: {url}{note}")


@app.command("up")
def up_command(
    port: Annotated[
        int | None,
        typer.Option(
            help="Port of the Prefect server (default XBR_PREFECT_PORT, 4200).", min=1, max=65535
        ),
    ] = None,
) -> None:
    """Run xbr: a Prefect server under XBR_HOME (unless PREFECT_API_URL is set) and a runner
    serving the business-review and review-sweeper deployments. Ctrl-C stops it."""
    db.upgrade(engine())
    stack.up(bootstrap.root(), port)


@app.command("deploy")
def deploy_command(
    crash_after: Annotated[
        int, typer.Option(min=60, help="seconds without a heartbeat before a run is crashed")
    ] = 300,
    concurrency: Annotated[
        int, typer.Option(min=1, help="runs of the pool executing at once, over all workers")
    ] = 8,
    prefect_file: Annotated[
        Path | None, typer.Option(help="another prefect.yaml, e.g. for a Kubernetes pool")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Deploy xbr to the Prefect server PREFECT_API_URL names, for `xbr worker` processes:
    the `xbr` work pool, the three deployments of deploy/prefect.yaml and the automation that
    crashes a run whose worker died (the sweeper gives its review a new run)."""
    from dataclasses import asdict
    from datetime import timedelta

    from deploy import workers

    chosen = prefect_file.resolve() if prefect_file else workers.PREFECT_FILE
    workers.deployment_names(chosen)  # a bad file is refused before anything changes
    db.upgrade(engine())
    prefect_env.use_prefect(settings())
    deployed = workers.deploy(timedelta(seconds=crash_after), concurrency, chosen)
    render.out(
        as_json,
        asdict(deployed),
        f"deployed {', '.join(deployed.deployments)} from {chosen}; a run without a heartbeat "
        f"for {crash_after} s is crashed and its review gets a new run. Start workers with "
        "`xbr worker`.",
    )


@app.command("worker")
def worker_command(
    pool: Annotated[str, typer.Option(help="the work pool `xbr deploy` made")] = "xbr",
    name: Annotated[str | None, typer.Option(help="the worker's name in the Prefect UI")] = None,
) -> None:
    """Run a Prefect worker for xbr's runs (`prefect worker start`, with heartbeats on so a
    run whose worker dies is noticed). Start as many as you like, on any machine with the
    same XBR_DATABASE_URL; Ctrl-C stops it."""
    from deploy import workers

    db.require_current_schema(engine())
    prefect_env.use_prefect(settings())
    engine().dispose()
    workers.start_worker(settings(), pool, name)


@app.command("backup")
def backup_command(file: Path, as_json: JsonOpt = False) -> None:
    """Copy the application database to FILE, a new file, while xbr runs (SQLite's online
    backup, or pg_dump for PostgreSQL)."""
    from deploy import backup

    db.require_current_schema(engine())
    engine().dispose()
    data = backup.backup(settings().url, file)
    render.out(as_json, data, f"backed up {data['database']} to {data['file']}")


@app.command("restore")
def restore_command(file: Path, as_json: JsonOpt = False) -> None:
    """Replace the application database with the backup in FILE. Stop `xbr up` and any
    workers first; once they are back, the next sweep has every open review's run catch up
    with its gate."""
    from deploy import backup

    pid = stack.running_pid(settings())
    if pid is not None:
        raise XbrError(f"xbr is up (process {pid}); stop it, and any workers, then restore")
    engine().dispose()
    data = backup.restore(settings().url, file)
    render.out(
        as_json,
        data,
        f"restored {data['database']} from {data['file']}: {data['open_reviews']} open "
        "reviews; start xbr again, and the next sweep resumes their runs",
    )


@app.command("sweep")
def sweep_command(
    wait: Annotated[
        int,
        typer.Option(min=0, max=3600, help="seconds to wait for the run to end; 0 only queues it"),
    ] = 120,
    as_json: JsonOpt = False,
) -> None:
    """Run the review sweeper now: wake reviews whose date came, re-attach lost runs."""
    prefect_env.use_prefect(settings())
    from prefect.deployments import run_deployment

    run = run_deployment("review-sweeper/review-sweeper", timeout=wait, as_subflow=False)
    state = run.state  # type: ignore[union-attr]
    data = {"flow_run_id": str(run.id), "state": state.name if state else None}  # type: ignore[union-attr]
    render.out(as_json, data, f"sweeper run {data['flow_run_id']}: {data['state']}")
    if state is None or not state.is_final():
        if wait == 0:
            return  # only queued, as asked (its state may not even be read back yet)
        raise XbrError(
            f"the sweeper run has not ended in {wait} s (it is {data['state']}: the runner is busy "
            "or down); it goes on by itself, see it in the Prefect UI, or give a longer --wait"
        )
    if not (state and state.is_completed()):
        raise XbrError(f"the sweeper run ended {data['state']}; see its logs in the Prefect UI")


@notify_app.command("test")
def notify_test(
    recipient: Annotated[str, typer.Argument(help="An email, or role:<role>.")],
    as_json: JsonOpt = False,
) -> None:
    """Send a test message to a person or a role and report each channel's result."""
    from notifications.outbox import send_test

    results = send_test(settings(), recipient)
    render.out(as_json, results, lambda: render.channel_results(recipient, results))
    if any(result != "sent" for result in results.values()):
        raise typer.Exit(1)


@outbox_app.command("list")
def outbox_list(
    failed: Annotated[bool, typer.Option("--failed", help="Only the failed ones.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Notices not delivered yet: waiting, failed (with the reason), or without a channel."""
    from notifications.outbox import list_notices

    rows = list_notices(uow(), failed)
    columns = ["id", "review_id", "kind", "recipient", "status", "attempts", "last_error"]
    render.out(as_json, rows, lambda: render.rows("Outbox", columns, rows))


@outbox_app.command("retry")
def outbox_retry(message_id: MessageId, as_json: JsonOpt = False) -> None:
    """Send one notice again now, on the channels that have not had it."""
    from notifications.outbox import deliver_due, retry

    retry(uow(), message_id)
    done = deliver_due(uow(), settings(), ids=[message_id])
    # nothing claimed: another sender holds it right now
    status, results = (done[0].status, done[0].results) if done else ("sending elsewhere", {})
    data = done[0].__dict__ if done else {"id": message_id, "status": status, "results": results}
    title = f"notice {message_id}"
    render.out(as_json, data, lambda: render.channel_results(title, results, status))
    if status != "sent":
        raise typer.Exit(1)


@app.command("web")
def web_command(
    port: Annotated[int | None, typer.Option(help="Port (default XBR_WEB_PORT, 8765).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=32, help="Processes answering (default XBR_WEB_WORKERS, 2)."),
    ] = None,
) -> None:
    """Serve the web app and the approval page that notification links open, and send the
    notices that are due (as `xbr up` does). Ctrl-C stops it."""
    from deploy import board_page, notifier, web
    from notifications.channels import unset_warning

    uow()  # refuse an unmigrated database before listening
    if workers is not None:  # the worker processes read it from the environment
        os.environ["XBR_WEB_WORKERS"] = str(workers)
        via, actor = bootstrap.root().via, bootstrap.root().actor
        bootstrap.reset()
        bootstrap.identify(via, actor)
    render.say(
        f"board at {board_page.board_address(settings(), port)} (signed in, or its key: "
        "`xbr board key`)",
        soft_wrap=True,
    )
    if unset := unset_warning(settings()):
        render.warn(unset)
    stop = notifier.start_in_thread(settings(), bootstrap.root().uow)
    try:
        web.serve(
            settings(), bootstrap.root().uow, settings().web_host, port or settings().web_port
        )
    finally:
        stop.set()


def run(argv: list[str]) -> int:
    """Run one command line and return its exit code: 0 done, 2 refused (bad input, one line
    on stderr naming the thing and the fix), 1 a fault in xbr (one line with the path of a log
    holding the traceback)."""
    bootstrap.reset()  # each command line reads the environment afresh
    try:
        # `--as` is an operator's word: the audit trail also keeps who ran the command
        user = f"os user {os_user()}"
        bootstrap.identify(f"command line, {user}", user)
        code = app(args=argv, prog_name="xbr", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except typer.Abort:
        render.warn("aborted")
        return 130
    except typer.TyperException as exc:  # Click's usage errors: a missing or malformed argument
        return _usage_error(exc)
    except XbrError as exc:
        _fail(str(exc))
    except ValidationError as exc:  # the environment's settings
        _fail(_settings_error(exc))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        _fail(
            f"cannot use the database {make_url(settings().url)!r}: {reason}; "
            "check XBR_DATABASE_URL or run `xbr init`"
        )
    except Exception:  # a fault in xbr: one line here, the whole story in a log
        render.warn(f"error: {faults.record(argv, _home())}")
        return 1
    finally:
        bootstrap.reset()  # and closes its database (tests run many in one process)
    return 2


def _usage_error(exc: typer.TyperException) -> int:
    context = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and context is not None:
        render.say(context.get_help())  # `xbr review` alone: what it can do
        return 2
    command = " ".join(["xbr", *context.command_path.split()[1:]]) if context else "xbr"
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    _fail(f"{message.rstrip('.')}; see `{command} --help`")
    return int(getattr(exc, "exit_code", 2))


def _home() -> Path | None:
    try:
        return settings().home
    except Exception:  # the settings themselves may be what failed
        return None


def _fail(message: str) -> None:
    render.warn(f"error: {message}")


def _settings_error(exc: ValidationError) -> str:
    problem = exc.errors(include_url=False)[0]
    field = "_".join(str(part) for part in problem["loc"]).upper()
    return f"XBR_{field}: {problem['msg'].lower()}; set it to a valid value or unset it"


def main() -> None:
    """The `xbr` console script."""
    exit_at_once(run(sys.argv[1:]))


def exit_at_once(code: int) -> None:
    """End the process without the interpreter tearing down every module and object, which
    takes a tenth of a second or more once SQLAlchemy and pydantic are loaded. Safe once the
    command is done: run() closed its database connections, the output is flushed here and
    the exit handlers (logging's) run. A command that left a thread running exits the usual
    way, which waits for it."""
    if threading.active_count() > 1:
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away (`xbr board | head`): nothing to tell it
        pass
    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":
    main()
