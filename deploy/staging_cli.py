"""Staging's commands: evidence, findings, tickets, scorecard, feedback and the report."""

from __future__ import annotations

import re
from contextlib import suppress
from pathlib import Path
from typing import Annotated, Any

import typer

from deploy import render, scorecard_view
from deploy.context import MAX_ID, AsOpt, JsonOpt, catalog, settings, uow
from states import directory
from states.errors import InvalidInput, NotFound
from states.read.scorecards import client_tickets, report_data, score_history
from states.staging.doubts import evidence_held
from states.staging.evidence import Source
from states.staging.feedback import Feedback, record_feedback
from states.staging.intake import import_files
from states.staging.record import assess
from states.staging.tickets import close_ticket

evidence_app = typer.Typer(no_args_is_help=True, help="A review's evidence: the tools' exports.")
ticket_app = typer.Typer(no_args_is_help=True, help="Follow-up tickets raised by staging.")


@evidence_app.command("import")
def evidence_import(
    review_id: int,
    files: Annotated[
        list[Path], typer.Argument(help="CSV or JSON exports (see docs/evidence.md).")
    ],
    actor: AsOpt,
    source: Annotated[
        Source | None, typer.Option(help="What the files hold, when their names do not say.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import exports into a review (all or none), then check them and show the findings."""
    with uow() as work:
        directory.person_by_email(work.session, actor)  # an unknown actor changes nothing
    stored = import_files(uow(), review_id, files, actor, source, settings())
    result = assess(uow(), review_id, settings=settings())
    for note in result.notes:  # exports in doubt, sets left out: one line each
        render.warn(note)
    data = {"imported": stored, "assessment": result.__dict__}
    render.out(as_json, data, lambda: _show_assessment(review_id, stored))


def _show_assessment(review_id: int, stored: list[dict[str, Any]]) -> None:
    render.rows(f"Evidence imported into review {review_id}", ["source", "file", "rows"], stored)
    findings_command(review_id)


@evidence_app.command("list")
def evidence_list(review_id: int, as_json: JsonOpt = False) -> None:
    """The evidence a review holds, by source, and what is doubtful about each export
    (suspect, stale, unreadable)."""
    rows = evidence_held(uow(), review_id, settings().evidence_stale_days)
    shown = [{**row, "doubts": "; ".join(row["doubts"]) or "-"} for row in rows]
    columns = ["source", "file", "rows", "imported_at", "doubts"]
    render.out(
        as_json,
        rows,
        lambda: render.rows(f"Evidence of review {review_id}", columns, shown),
    )


def findings_command(review_id: int, as_json: JsonOpt = False) -> None:
    """A review's findings, red first: new or recurring, and what happens to each."""
    data = report_data(uow(), review_id)
    rows = [
        {
            **f,
            "category": f["category_label"],
            "new": "recurring" if f["recurring"] else "new",
            "disposition": f"ticket #{f['ticket']['id']}" if f["ticket"] else f["disposition"],
        }
        for f in data["findings"]
    ]
    render.out(
        as_json,
        data["findings"],
        lambda: render.rows(
            f"Findings of {data['review']['name']}",
            ["severity", "category", "title", "new", "disposition"],
            rows,
        ),
    )


def scorecard_command(
    target: Annotated[
        str,
        typer.Argument(
            metavar="REVIEW|CLIENT", help="The review's number; with --history, a client's name."
        ),
    ],
    history: Annotated[
        bool, typer.Option("--history", help="The client's scores at every assessed review.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """The review's scorecard by category (score, risk, items met) against the baseline and the
    previous review, its frameworks and why scores moved; --history: a client's every review."""
    if history:
        _history(target, as_json)
        return
    if not _NUMBER.fullmatch(target):
        raise InvalidInput(
            f"{target!r} is not a review number; give one (see `xbr review list`), or a "
            "client's name with --history"
        )
    review_id = int(target)
    if not 0 < review_id <= MAX_ID:
        raise NotFound(f"unknown review {target}; see `xbr review list`")
    data = report_data(uow(), review_id)
    keys = ("review", "baseline", "previous", "scorecard", "frameworks", "questionnaire")
    render.out(as_json, {k: data[k] for k in keys}, lambda: scorecard_view.scorecard(data))


_NUMBER = re.compile(r"[0-9]+")


def _history(client: str, as_json: bool) -> None:
    try:
        data = score_history(uow(), client)
    except NotFound:
        if _NUMBER.fullmatch(client):
            raise InvalidInput(
                f"--history takes a client's name, not a review number ({client}); "
                f"e.g. `xbr scorecard 'Acme Dental' --history`, or `xbr scorecard {client}`"
            ) from None
        raise
    render.out(as_json, data, lambda: scorecard_view.history(data))


@ticket_app.command("list")
def tickets_command(
    client: Annotated[str | None, typer.Option(help="Only this client's tickets.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Follow-up tickets raised by staging, newest first."""
    client_id = None
    if client is not None:
        with uow() as work:
            client_id = directory.client_by_name(work.session, client).id
    rows = client_tickets(uow(), client_id)
    render.out(
        as_json,
        rows,
        lambda: render.rows(
            "Follow-up tickets", ["id", "client", "title", "owner_role", "due", "status"], rows
        ),
    )


@ticket_app.command("close")
def ticket_close_command(
    ticket_id: int,
    actor: AsOpt,
    as_json: JsonOpt = False,
) -> None:
    """Close a follow-up ticket whose work is done; the PSA is told through the outbox."""
    closed = close_ticket(uow(), ticket_id, actor)
    render.out(
        as_json,
        {"id": closed.id, "status": closed.status},
        f"ticket {closed.id} closed: {closed.title}",
    )


def feedback_command(
    review_id: int,
    actor: AsOpt,
    better: Annotated[str, typer.Option(help="What can we do better or different?")] = "",
    next_meeting: Annotated[str, typer.Option(help="When should we meet again?")] = "",
    referrals: Annotated[str, typer.Option(help="Who else would benefit from this?")] = "",
    review_request: Annotated[
        str, typer.Option(help="Would they give us a review: yes, no or later.")
    ] = "",
    as_json: JsonOpt = False,
) -> None:
    """Record the client's answers to the follow-up questions (at delivery)."""
    answers = Feedback(better, next_meeting, referrals, review_request.strip().lower())
    stored = record_feedback(uow(), review_id, answers, actor)
    render.out(as_json, stored, f"feedback recorded on review {review_id}")


def report_command(
    review_id: int,
    format_: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="html|pdf|pptx|docx",
            help="html: the self-contained page; pdf: the report; pptx: the meeting's deck; "
            "docx: the client summary to edit.",
        ),
    ] = "html",
    out: Annotated[
        Path | None,
        typer.Option(help="Where to write the file (default: exports/reports/<review>.<ext>)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the review's report for the client: the self-contained HTML page (scorecard,
    findings, tickets, charts), the PDF, the PowerPoint deck or the Word summary, in the MSP's
    brand (XBR_BRAND_*)."""
    from reports.deliverables.brand import brand_of
    from reports.deliverables.formats import format_named

    kind = format_named(format_)
    brand = brand_of(settings())  # a bad logo is refused before anything is read or written
    data = report_data(uow(), review_id, currency=settings().currency)
    path = out or settings().exports / "reports" / kind.file_name(data["review"]["name"])
    document = kind.write(data, brand)
    _write_whole(path, document)
    shown = {"review_id": review_id, "format": kind.name, "path": str(path), "bytes": len(document)}
    render.out(as_json, shown, f"{kind.label} report written: {path}")


def _write_whole(path: Path, document: bytes) -> None:
    """The file whole or not at all: written beside its place, then moved there."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(document)
        partial.replace(path)
    except OSError as error:
        with suppress(OSError):  # nothing half-written stays behind
            partial.unlink(missing_ok=True)
        raise InvalidInput(
            f"--out {path}: {error.strerror or error}; give a file path you can write"
        ) from None


def thresholds_command(
    name: str,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="name=value, e.g. secure_score_target=80.")
    ] = None,
    reset: Annotated[bool, typer.Option(help="Drop the client's overrides first.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a client's check thresholds; --set overrides one for this client only."""
    changes = dict(_pair(item) for item in set_ or [])
    overrides, effective = directory.set_thresholds(uow(), catalog(), name, changes, reset)
    rows = [
        {"threshold": k, "value": v, "source": "client" if k in overrides else "template"}
        for k, v in effective.items()
    ]
    render.out(
        as_json,
        {"client": name, "overrides": overrides, "thresholds": effective},
        lambda: render.rows(f"Thresholds of {name}", ["threshold", "value", "source"], rows),
    )


def _pair(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise InvalidInput(f"--set {item!r}: write name=value, e.g. secure_score_target=80")
    return name.strip(), value.strip()
