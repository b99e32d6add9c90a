"""Staging on real databases: evidence in, findings and tickets out, once, however often it runs.

New versus recurring over two consecutive reviews of one client, no duplicate ticket under
replay and concurrent assessments (threads and processes on PostgreSQL), the PSA export through
the outbox (CSV file and a real HTTP receiver), feedback at delivery, the scorecard baseline.
"""

from __future__ import annotations

import csv
import multiprocessing
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from notifications.outbox import deliver_due
from states.calendar.opening import start_review
from states.errors import AlreadyDecided, IllegalTrigger, InvalidInput, XbrError
from states.lifecycle.decisions import DecisionKind, DecisionRequest, decide
from states.read.scorecards import client_tickets, evidence_of, report_data
from states.read.views import review_view
from states.settings import Settings
from states.staging.feedback import Feedback, record_feedback
from states.staging.intake import import_files, stage
from states.staging.record import assess
from states.store import db
from states.store.models import EvidenceSet, FollowUpTicket, OutboxMessage, ReviewFinding
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.receivers import JsonReceiver
from tests.team import walk

CLIENT = "Client xbr-sop"
NOW = datetime(2026, 11, 16, 15, tzinfo=UTC)
ACTOR = "sam@msp.example"


def write(folder: Path, name: str, header: str, rows: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def quarter(
    folder: Path, unpatched: int, failed_backups: int, admins: list[str], day: str = "2026-11-15"
) -> list[Path]:
    """A client's exports on `day`: 20 devices, `unpatched` of them missing critical patches."""
    devices = [f"WS{i:02d}" for i in range(20)]
    return [
        write(folder, "patches.csv", "device,missing_critical,missing_total,last_scan",
              [f"{d},{1 if i < unpatched else 0},3,{day}" for i, d in enumerate(devices)]),
        write(folder, "antivirus.csv", "device,agent_present,definitions_date,detections",
              [f"{d},yes,{day},0" for d in devices]),
        write(folder, "backups.csv", "job,device,last_run,last_result",
              [f"job{i},SRV01,{day},{'failed' if i < failed_backups else 'success'}"
               for i in range(4)]),
        write(folder, "privileged.csv", "group,account",
              [f"Domain Admins,{a}" for a in admins]),
    ]  # fmt: skip


def in_staging(uow: UowFactory, catalog: dict[str, Template], now: datetime = NOW) -> int:
    meeting = (now + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    review_id = start_review(uow(), CLIENT, catalog, "xbr-sop", meeting, now=now)
    walk(uow, review_id, "staging")
    return review_id


def findings(uow: UowFactory, review_id: int) -> dict[str, ReviewFinding]:
    with uow() as work:
        rows = work.session.scalars(
            select(ReviewFinding).where(ReviewFinding.review_id == review_id)
        )
        return {f.key: f for f in rows}


def count(uow: UowFactory, model: Any) -> int:
    with uow() as work:
        return int(work.session.scalar(select(func.count()).select_from(model)) or 0)


def test_import_assess_records_findings_tickets_and_closes_check_tasks(
    uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    review_id = in_staging(uow, catalog)
    import_files(uow(), review_id, quarter(tmp_path, 5, 1, ["alice", "bob"]), ACTOR)
    result = assess(uow(), review_id, NOW)

    assert result.changed
    found = findings(uow, review_id)
    assert set(found) == {"patch-compliance", "backup-failed"}
    assert found["patch-compliance"].severity == "red"  # 75% < 80%
    assert not found["patch-compliance"].recurring
    tickets = {f.key: f.ticket for f in found.values()}
    assert tickets["patch-compliance"].title.startswith("Follow-up - Patch compliance 75%")
    assert tickets["patch-compliance"].owner_role == "support_engineer"
    assert result.tickets_opened == 2
    # each new ticket goes to the PSA twice: the CSV file and the webhook
    with uow() as work:
        kinds = sorted(work.session.scalars(select(OutboxMessage.kind).where(
            OutboxMessage.kind.startswith("ticket."))))  # fmt: skip
    assert kinds == ["ticket.csv", "ticket.csv", "ticket.webhook", "ticket.webhook"]
    review = review_view(uow(), review_id).to_json()
    closed = {
        t["key"] for t in review["tasks"] if t["status"] == "done" and t["phase"] == "staging"
    }
    assert {"check-patch-status", "check-av-report", "check-key-security-groups"} <= closed
    assert "check-warranty-report" not in closed  # no warranty export: people still do it
    assert result.scores["patching"] == 50
    assert result.scores["network"] is None


def test_assessing_again_or_reimporting_the_same_files_changes_nothing(
    uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    review_id = in_staging(uow, catalog)
    files = quarter(tmp_path, 5, 1, ["alice"])
    import_files(uow(), review_id, files, ACTOR)
    assert assess(uow(), review_id, NOW).changed
    before = (count(uow, FollowUpTicket), count(uow, OutboxMessage), count(uow, ReviewFinding))

    import_files(uow(), review_id, files, ACTOR)  # the same files again
    assert not assess(uow(), review_id, NOW).changed
    assert not assess(uow(), review_id, NOW).changed
    assert (
        count(uow, FollowUpTicket),
        count(uow, OutboxMessage),
        count(uow, ReviewFinding),
    ) == before


def test_new_then_recurring_over_two_consecutive_reviews(
    uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    first = in_staging(uow, catalog)
    import_files(uow(), first, quarter(tmp_path / "q1", 5, 1, ["alice", "bob"]), ACTOR)
    assess(uow(), first, NOW)
    decide(uow(), DecisionRequest(first, DecisionKind.CANCEL, "olga@msp.example", "next quarter"))

    later = NOW + timedelta(days=91)
    second = in_staging(uow, catalog, later)
    # still unpatched devices, backups fixed, one admin added: recurring, gone, new
    import_files(
        uow(),
        second,
        quarter(tmp_path / "q2", 2, 0, ["alice", "bob", "eve"], f"{later:%Y-%m-%d}"),
        ACTOR,
    )
    assess(uow(), second, later)

    found = findings(uow, second)
    assert set(found) == {"patch-compliance", "privileged-change"}
    assert found["patch-compliance"].recurring
    assert found["patch-compliance"].severity == "amber"  # 90%
    assert not found["privileged-change"].recurring
    assert found["privileged-change"].severity == "red"  # an account was added
    # the recurring anomaly links to the ticket the first review opened; no second ticket
    first_ticket = findings(uow, first)["patch-compliance"].ticket_id
    assert found["patch-compliance"].ticket_id == first_ticket
    assert count(uow, FollowUpTicket) == 2

    data = report_data(uow(), second)
    assert data["baseline"]["review_id"] == first
    patching = next(r for r in data["scorecard"] if r["category"] == "patching")
    assert (patching["baseline"], patching["score"], patching["change"]) == (50, 80, 30)
    backup = next(r for r in data["scorecard"] if r["category"] == "backup_recovery")
    assert (backup["baseline"], backup["score"], backup["color"]) == (50, 100, "green")


def test_client_thresholds_override_the_template(
    uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    from states.directory import set_thresholds

    review_id = in_staging(uow, catalog)
    overrides, effective = set_thresholds(uow(), catalog, CLIENT, {"patch_red_below": "70"})
    assert overrides == {"patch_red_below": 70.0}
    assert effective["patch_amber_below"] == 95
    import_files(uow(), review_id, quarter(tmp_path, 5, 0, ["alice"]), ACTOR)
    assess(uow(), review_id, NOW)
    assert findings(uow, review_id)["patch-compliance"].severity == "amber"  # 75% >= 70%
    with pytest.raises(InvalidInput, match="threshold patch_red_belw"):
        set_thresholds(uow(), catalog, CLIENT, {"patch_red_belw": "70"})


def test_a_bad_file_among_good_ones_writes_nothing(
    uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    review_id = in_staging(uow, catalog)
    files = quarter(tmp_path, 5, 1, ["alice"])
    write(tmp_path, "warranty.csv", "asset,model,purchase_date,warranty_end",
          ["PC1,Dell,2024-13-01,2027-01-01"])  # fmt: skip
    with pytest.raises(XbrError, match=r"warranty.csv row 2, column purchase_date"):
        import_files(uow(), review_id, [*files, tmp_path / "warranty.csv"], ACTOR)
    assert count(uow, EvidenceSet) == 0


def assess_in_thread(url: str, review_id: int, results: list[Any]) -> None:
    engine = db.make_engine(url)
    try:
        results.append(assess(db.UnitOfWork(engine), review_id, NOW).changed)
    except Exception as error:  # kept for the assertion
        results.append(error)
    finally:
        engine.dispose()


def _assess_in_process(url: str, review_id: int) -> bool:
    engine = db.make_engine(url)
    try:
        return assess(db.UnitOfWork(engine), review_id, NOW).changed
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_concurrent_assessments_open_each_ticket_once(
    postgres_url: str, catalog: dict[str, Template], tmp_path: Path
) -> None:
    from tests.conftest import staffed

    engine = db.make_engine(postgres_url)
    db.upgrade(engine)
    uow = staffed(engine, catalog)
    review_id = in_staging(uow, catalog)
    import_files(uow(), review_id, quarter(tmp_path, 5, 1, ["alice"]), ACTOR)

    results: list[Any] = []
    threads = [
        threading.Thread(target=assess_in_thread, args=(postgres_url, review_id, results))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results += pool.starmap(_assess_in_process, [(postgres_url, review_id)] * 4)

    assert sorted(results) == [False] * 11 + [True], results
    assert count(uow, FollowUpTicket) == 2
    assert count(uow, ReviewFinding) == 2
    with uow() as work:
        exports = work.session.scalar(select(func.count()).where(
            OutboxMessage.kind.startswith("ticket.")))  # fmt: skip
    assert exports == 4
    engine.dispose()


def test_tickets_reach_the_psa_as_csv_and_webhook_once(
    uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    with JsonReceiver() as receiver:
        settings = Settings(
            home=tmp_path / "home",
            psa_webhook_url=f"http://127.0.0.1:{receiver.port}/psa/tickets",
        )
        review_id = in_staging(uow, catalog)
        import_files(uow(), review_id, quarter(tmp_path, 5, 1, ["alice"]), ACTOR)
        assess(uow(), review_id, NOW)
        done = [d for d in deliver_due(uow(), settings) if d.kind.startswith("ticket.")]
        assert sorted(d.status for d in done) == ["sent"] * 4
        # a second pass finds nothing left to export: each ticket went once
        assert not [d for d in deliver_due(uow(), settings) if d.kind.startswith("ticket.")]

    hooks = [body for path, body in receiver.posts if path == "/psa/tickets"]
    assert len(hooks) == 2
    assert {h["ticket"]["key"] for h in hooks} == {"patch-compliance", "backup-failed"}
    assert all(h["ticket"]["client"] == CLIENT for h in hooks)
    keys = [h["Idempotency-Key"] for h in receiver.headers]
    assert len(set(keys)) == 2
    assert all(k.startswith("ticket:") for k in keys)
    with (tmp_path / "home" / "exports" / "tickets.csv").open(encoding="utf-8") as exported:
        rows = list(csv.DictReader(exported))
    assert [r["title"][:11] for r in rows] == ["Follow-up -"] * 2
    assert {r["owner_role"] for r in rows} == {"support_engineer"}


def test_without_a_webhook_the_csv_still_goes_and_the_hook_waits_for_a_channel(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home")
    review_id = in_staging(sqlite_uow, catalog)
    import_files(sqlite_uow(), review_id, quarter(tmp_path, 5, 0, ["alice"]), ACTOR)
    assess(sqlite_uow(), review_id, NOW)
    statuses = {d.recipient: d.status for d in deliver_due(sqlite_uow(), settings)
                if d.kind.startswith("ticket.")}  # fmt: skip
    assert statuses == {"psa:csv": "sent", "psa:webhook": "no-channel"}


def test_stage_reads_the_clients_folder_once(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home")
    review_id = in_staging(sqlite_uow, catalog)
    quarter(settings.evidence_root / "client-xbr-sop", 5, 1, ["alice"])
    (settings.evidence_root / "client-xbr-sop" / "notes.txt").write_text("not evidence")
    assert stage(sqlite_uow(), settings, review_id).changed
    assert not stage(sqlite_uow(), settings, review_id).changed
    assert count(sqlite_uow, EvidenceSet) == 4


def test_feedback_is_taken_at_delivery_and_closes_the_questions_task(
    sqlite_uow: UowFactory, catalog: dict[str, Template]
) -> None:
    review_id = in_staging(sqlite_uow, catalog)
    answers = Feedback("faster onboarding", "in three months", "Dr. Smith", "yes")
    with pytest.raises(IllegalTrigger, match="feedback is asked at delivery"):
        record_feedback(sqlite_uow(), review_id, answers, "vera@msp.example")
    walk(sqlite_uow, review_id, "delivery")
    with pytest.raises(InvalidInput, match="--review-request 'maybe'"):
        record_feedback(
            sqlite_uow(), review_id, Feedback(review_request="maybe"), "vera@msp.example"
        )
    stored = record_feedback(sqlite_uow(), review_id, answers, "vera@msp.example")
    assert stored["referrals"] == "Dr. Smith"
    assert stored["by"] == "vera@msp.example"
    review = review_view(sqlite_uow(), review_id).to_json()
    task = next(t for t in review["tasks"] if t["key"] == "ask-follow-up-questions")
    assert task["status"] == "done"
    assert report_data(sqlite_uow(), review_id)["feedback"]["better"] == "faster onboarding"


def test_a_closed_ticket_is_told_to_the_psa_and_a_recurrence_opens_a_new_one(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    from states.staging.tickets import close_ticket

    settings = Settings(home=tmp_path / "home")
    review_id = in_staging(sqlite_uow, catalog)
    import_files(sqlite_uow(), review_id, quarter(tmp_path / "a", 5, 0, ["alice"]), ACTOR)
    assess(sqlite_uow(), review_id, NOW)
    ticket_id = findings(sqlite_uow, review_id)["patch-compliance"].ticket_id
    assert ticket_id is not None
    deliver_due(sqlite_uow(), settings)
    close_ticket(sqlite_uow(), ticket_id, "sam@msp.example")
    with pytest.raises(AlreadyDecided, match="already closed"):
        close_ticket(sqlite_uow(), ticket_id, "sam@msp.example")
    done = [d for d in deliver_due(sqlite_uow(), settings) if d.kind.startswith("ticket.")]
    assert sorted(d.status for d in done) == ["no-channel", "sent"]
    with (settings.exports / "tickets.csv").open(encoding="utf-8") as exported:
        assert [r["status"] for r in csv.DictReader(exported)] == ["closed"]

    # the anomaly back at the next review: the closed ticket stays closed, a new one opens
    decide(sqlite_uow(), DecisionRequest(review_id, DecisionKind.CANCEL, "olga@msp.example", "x"))
    later = NOW + timedelta(days=91)
    second = in_staging(sqlite_uow, catalog, later)
    exports = quarter(tmp_path / "b", 6, 0, ["alice"], f"{later:%Y-%m-%d}")
    import_files(sqlite_uow(), second, exports, ACTOR)
    assess(sqlite_uow(), second, later)
    assert findings(sqlite_uow, second)["patch-compliance"].ticket_id not in (None, ticket_id)


def test_last_quarters_files_left_in_the_folder_are_not_this_quarters(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home")
    folder = settings.evidence_root / "client-xbr-sop"
    first = in_staging(sqlite_uow, catalog)
    quarter(folder, 5, 1, ["alice"])
    assert stage(sqlite_uow(), settings, first).changed
    decide(sqlite_uow(), DecisionRequest(first, DecisionKind.CANCEL, "olga@msp.example", "moved"))

    later = NOW + timedelta(days=91)
    second = in_staging(sqlite_uow, catalog, later)
    assert not stage(sqlite_uow(), settings, second).changed  # nobody dropped new exports
    assert findings(sqlite_uow, second) == {}
    review = review_view(sqlite_uow(), second).to_json()
    assert {t["status"] for t in review["tasks"] if t["key"] == "check-patch-status"} == {"open"}

    fresh = ["job0,SRV01,2027-02-14,success"]
    write(folder, "backups.csv", "job,device,last_run,last_result", fresh)
    assert stage(sqlite_uow(), settings, second).changed  # a fresh export is taken
    assert {e["source"] for e in evidence_of(sqlite_uow(), second)} == {"backups"}


def test_a_persons_import_wins_over_an_older_file_in_the_folder(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home")
    review_id = in_staging(sqlite_uow, catalog)
    old = quarter(settings.evidence_root / "client-xbr-sop", 5, 1, ["alice"])
    newer = quarter(tmp_path / "newer", 0, 0, ["alice"])
    import_files(sqlite_uow(), review_id, newer, ACTOR)
    assert all(path.exists() for path in old)
    stage(sqlite_uow(), settings, review_id)
    assert {e["imported_by"] for e in evidence_of(sqlite_uow(), review_id)} == {ACTOR}
    assert not {"patch-compliance", "backup-failed"} & set(findings(sqlite_uow, review_id))


def test_assessing_again_never_raises_a_second_ticket_and_a_fixed_export_closes_it(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    from states.staging.tickets import close_ticket

    review_id = in_staging(sqlite_uow, catalog)
    import_files(sqlite_uow(), review_id, quarter(tmp_path / "a", 5, 1, ["alice"]), ACTOR)
    assess(sqlite_uow(), review_id, NOW)
    patch_ticket = findings(sqlite_uow, review_id)["patch-compliance"].ticket_id
    backup_ticket = findings(sqlite_uow, review_id)["backup-failed"].ticket_id
    assert patch_ticket is not None
    assert backup_ticket is not None
    close_ticket(sqlite_uow(), patch_ticket, "sam@msp.example")

    # a new export of another source: the same unpatched devices, backups fixed
    import_files(sqlite_uow(), review_id, quarter(tmp_path / "b", 5, 0, ["alice"])[2:3], ACTOR)
    assess(sqlite_uow(), review_id, NOW)
    assert findings(sqlite_uow, review_id)["patch-compliance"].ticket_id == patch_ticket
    assert "backup-failed" not in findings(sqlite_uow, review_id)
    statuses = {t["id"]: t["status"] for t in client_tickets(sqlite_uow())}
    assert statuses == {patch_ticket: "closed", backup_ticket: "closed"}


def test_thresholds_refuse_red_above_amber(catalog: dict[str, Template]) -> None:
    from states.staging.assessment import Thresholds

    with pytest.raises(InvalidInput, match=r"patch_red_below \(97\) must not be above"):
        Thresholds().merged({"patch_red_below": 97})


def test_a_report_names_only_this_clients_contacts(
    sqlite_uow: UowFactory, catalog: dict[str, Template]
) -> None:
    review_id = start_review(sqlite_uow(), CLIENT, catalog, "xbr-sop", now=NOW)
    assert report_data(sqlite_uow(), review_id)["contacts"] == []  # none assigned to it


def test_two_clients_never_share_an_evidence_folder(
    sqlite_uow: UowFactory, catalog: dict[str, Template]
) -> None:
    from states.directory import add_client

    with pytest.raises(InvalidInput, match="would share the folder and tag 'client-xbr-sop'"):
        add_client(sqlite_uow(), "Client XBR-SOP", "quarterly", "qbr", "UTC", catalog)
    with pytest.raises(InvalidInput, match="has no letters or digits"):
        add_client(sqlite_uow(), "---", "quarterly", "qbr", "UTC", catalog)


def test_a_ticket_export_that_fails_never_stops_the_notices(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the export folder should be")
    settings = Settings(home=tmp_path / "home", export_dir=blocked)
    review_id = in_staging(sqlite_uow, catalog)
    import_files(sqlite_uow(), review_id, quarter(tmp_path, 5, 0, ["alice"]), ACTOR)
    assess(sqlite_uow(), review_id, NOW)
    done = deliver_due(sqlite_uow(), settings)
    exports = {d.recipient: d.status for d in done if d.kind.startswith("ticket.")}
    assert exports == {"psa:csv": "failed", "psa:webhook": "no-channel"}
    assert any(d.kind not in ("ticket.csv", "ticket.webhook") for d in done)  # notices went on
