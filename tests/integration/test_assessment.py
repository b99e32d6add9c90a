"""Assessing a client against standards, on real databases: answers by people, by the evidence
and carried from the last review; the staging gate held for required items and barred to whoever
answered; one scorecard with risk levels and frameworks, against a hand-computed fixture; every
change between reviews explained; the JSON contract of `xbr assess`."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from states import directory
from states.calendar.opening import start_review
from states.errors import IllegalTrigger, InvalidInput, NotFound, Refused, XbrError
from states.lifecycle.decisions import DecisionKind, DecisionRequest, decide
from states.read.scorecards import report_data
from states.staging.intake import import_files
from states.staging.record import assess
from states.standards.answering import answer_item, answer_items, confirm_carried
from states.standards.answers import AnswerSource, review_questionnaire
from states.standards.catalog import parse_standard
from states.standards.pinning import shipped_standards
from states.standards.schema import Answer
from states.store.models import AuditEntry, ItemAnswer, Review, StandardVersion
from states.templates.catalog import load_catalog
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.integration.conftest import Xbr
from tests.integration.test_staging import quarter
from tests.team import walk

CLIENT = "Client xbr-sop"
SAM, TINA, OLGA = "sam@msp.example", "tina@msp.example", "olga@msp.example"
NOW = datetime(2026, 11, 16, 15, tzinfo=UTC)

# A small standard whose scores can be worked out by hand (see test_scores_...).
MINI = parse_standard(
    {
        "name": "mini",
        "title": "Mini standard",
        "framework": "none",
        "groups": [{"id": "GOV", "title": "Governance"}, {"id": "OPS", "title": "Operations"}],
        "items": [
            {"id": "G-1", "group": "GOV", "question": "Written policy?", "category": "governance",
             "weight": 3, "severity": "red", "references": {"nist-csf-2": ["GV.PO-01"]}},
            {"id": "G-2", "group": "GOV", "question": "Roles named?", "category": "governance",
             "weight": 2, "references": {"nist-csf-2": ["GV.RR-02"]}},
            {"id": "G-3", "group": "GOV", "question": "Asset list?", "category": "governance",
             "weight": 1, "references": {"nist-csf-2": ["ID.AM-01"]}},
            {"id": "P-1", "group": "OPS", "question": "Patch policy?", "category": "patching",
             "weight": 2, "severity": "red", "references": {"nist-csf-2": ["PR.PS-02"]}},
            {"id": "P-2", "group": "OPS", "question": "Devices patched?", "category": "patching",
             "weight": 1, "evidence_check": "patch-compliance",
             "references": {"nist-csf-2": ["PR.PS-02"]}},
            {"id": "O-1", "group": "OPS", "question": "Nice to have?", "category": "network",
             "required": False},
        ],
    },
    "mini.yaml",
)  # fmt: skip
KNOWN = {**shipped_standards(), "mini": MINI}


def open_review(uow: UowFactory, catalog: dict[str, Template], now: datetime) -> int:
    """A review of the client assessing `mini`, walked into staging."""
    meeting = (now + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    review_id = start_review(uow(), CLIENT, catalog, "xbr-sop", meeting, now=now, standards=KNOWN)
    walk(uow, review_id, "staging")
    return review_id


@pytest.fixture
def mini(uow: UowFactory, catalog: dict[str, Template]) -> UowFactory:
    directory.set_standards(uow(), catalog, KNOWN, CLIENT, add=["mini"])
    return uow


def stage(uow: UowFactory, review_id: int, folder: Path, unpatched: int, now: datetime) -> None:
    day = now.date().isoformat()
    import_files(uow(), review_id, quarter(folder, unpatched, 0, ["alice"], day), SAM)
    assess(uow(), review_id, now)


def states_of(uow: UowFactory, review_id: int) -> dict[str, Any]:
    return {s.key: s for s in review_questionnaire(uow(), review_id).items}


def row(data: dict[str, Any], category: str) -> dict[str, Any]:
    return next(r for r in data["scorecard"] if r["category"] == category)


def test_scores_and_risk_levels_match_the_hand_computed_fixture(
    mini: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    uow = mini
    review_id = open_review(uow, catalog, NOW)
    stage(uow, review_id, tmp_path / "q1", unpatched=5, now=NOW)  # 75% patched: red finding
    answers = {
        "G-1": (Answer.MET, ""),
        "G-2": (Answer.PARTIAL, "named, not written"),
        "G-3": (Answer.NOT_MET, "no asset list"),
        "P-1": (Answer.PARTIAL, ""),
    }
    answer_items(uow(), review_id, answers, SAM)

    items = states_of(uow, review_id)
    assert items["mini:P-2"].source is AnswerSource.EVIDENCE
    assert items["mini:P-2"].answer is Answer.NOT_MET  # its check's finding is red
    data = report_data(uow(), review_id)
    governance, patching = row(data, "governance"), row(data, "patching")
    # answers: (3 x 1 + 2 x 0.5 + 1 x 0) / 6 = 66.7; no evidence for governance
    assert (governance["score"], governance["risk"]) == (67, "at_risk")
    assert (governance["items_met"], governance["items_total"]) == (1, 3)
    # evidence: 100 - 50 (red) = 50; answers: P-1 partial = 50 (P-2 counts in the evidence)
    assert (patching["evidence_score"], patching["answers_score"]) == (50, 50)
    assert (patching["score"], patching["risk"]) == (50, "at_risk")
    assert (patching["items_met"], patching["items_total"]) == (0, 2)
    assert row(data, "endpoint_protection")["risk"] == "satisfactory"
    assert data["frameworks"]["nist-csf-2"] == {
        "GV": {"met": 1, "total": 2, "score": 50, "baseline": None, "previous": None},
        "ID": {"met": 0, "total": 1, "score": 0, "baseline": None, "previous": None},
        "PR": {"met": 0, "total": 2, "score": 0, "baseline": None, "previous": None},
    }
    by_key = {f["key"]: f for f in data["findings"]}
    assert by_key["mini:G-3"]["disposition"] == "recommendation"
    assert by_key["mini:G-2"]["disposition"] == "discussion"
    assert by_key["mini:P-1"]["severity"] == "amber"
    assert "mini:G-1" not in by_key
    assert "mini:P-2" not in by_key
    assert "patch-compliance" in by_key

    # the client's own thresholds move the risk levels
    directory.set_thresholds(uow(), catalog, CLIENT, {"critical_below": "55"})
    assert row(report_data(uow(), review_id), "patching")["risk"] == "critical"


def test_required_items_keep_the_gate_closed_and_who_answered_cannot_approve(
    mini: UowFactory, catalog: dict[str, Template]
) -> None:
    uow = mini
    review_id = open_review(uow, catalog, NOW)
    with pytest.raises(Refused, match=r"items still unanswered in staging \(5\): mini:G-1"):
        _close_tasks_and_approve(uow, review_id)
    answer_items(uow(), review_id, {k: (Answer.MET, "") for k in ("G-1", "G-2", "G-3")}, SAM)
    answer_item(uow(), review_id, "P-1", Answer.MET, SAM)
    with pytest.raises(Refused, match=r"unanswered in staging \(1\): mini:P-2;"):
        decide(uow(), DecisionRequest(review_id, DecisionKind.APPROVE, OLGA))
    # Olga holds staging's accountable role: she may answer, and then may not approve
    answer_item(uow(), review_id, "P-2", Answer.MET, OLGA, "checked in the RMM")
    with pytest.raises(Refused, match="answered items of this review's assessment"):
        decide(uow(), DecisionRequest(review_id, DecisionKind.APPROVE, OLGA))
    assert review_questionnaire(uow(), review_id).status == "staging"
    # Sam answers her item again: the answers are all his, and she reviews them
    answer_item(uow(), review_id, "P-2", Answer.MET, SAM, "checked in the RMM")
    decide(uow(), DecisionRequest(review_id, DecisionKind.APPROVE, OLGA))
    assert review_questionnaire(uow(), review_id).status == "prep"


def _close_tasks_and_approve(uow: UowFactory, review_id: int) -> None:
    from states.lifecycle.decisions import complete_task
    from states.read.views import review_view

    review = review_view(uow(), review_id)
    for task in review.tasks:
        if task.phase == "staging" and task.status == "open":
            complete_task(uow(), review_id, task.key, task.assignee)
    decide(uow(), DecisionRequest(review_id, DecisionKind.APPROVE, OLGA))


def test_answers_carry_over_three_reviews_and_each_change_is_explained(
    mini: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    uow = mini
    first = open_review(uow, catalog, NOW)
    stage(uow, first, tmp_path / "q1", unpatched=5, now=NOW)
    answer_items(
        uow(), first,
        {"G-1": (Answer.MET, "signed"), "G-2": (Answer.PARTIAL, ""),
         "G-3": (Answer.NOT_MET, "none"), "P-1": (Answer.PARTIAL, "")},
        SAM,
    )  # fmt: skip
    walk(uow, first, "closed")

    later = NOW + timedelta(days=100)
    second = open_review(uow, catalog, later)
    items = states_of(uow, second)
    assert items["mini:G-1"].source is AnswerSource.CARRIED
    assert (items["mini:G-1"].answer, items["mini:G-1"].note) == (Answer.MET, "signed")
    assert items["mini:G-1"].carried_from == review_name(uow, first)
    assert items["mini:G-1"].open_required  # a proposal until someone confirms it
    assert items["mini:P-2"].source is None  # evidence answers are not carried: staged anew
    stage(uow, second, tmp_path / "q2", unpatched=0, now=later)
    assert confirm_carried(uow(), second, TINA) == 4
    answer_item(uow(), second, "G-3", Answer.MET, TINA, "asset list kept in the RMM")
    items = states_of(uow, second)
    assert items["mini:G-1"].source is AnswerSource.PERSON
    assert items["mini:G-1"].answered_by == TINA
    assert items["mini:G-1"].carried_from == review_name(uow, first)
    assert items["mini:P-2"].answer is Answer.MET  # the new export shows every device patched
    data = report_data(uow(), second)
    governance, patching = row(data, "governance"), row(data, "patching")
    assert (governance["previous"], governance["score"], governance["change_previous"]) == (
        67,
        83,  # (3 + 1 + 1) / 6
        16,
    )
    assert governance["why"]["previous"] == ["mini:G-3: not_met -> met"]
    assert any(
        line.startswith("resolved: Patch compliance") for line in patching["why"]["previous"]
    )
    assert "mini:P-2: not_met -> met" in patching["why"]["previous"]
    assert data["baseline"]["review_id"] == first
    walk(uow, second, "closed")

    third = open_review(uow, catalog, NOW + timedelta(days=200))
    items = states_of(uow, third)
    assert items["mini:G-3"].source is AnswerSource.CARRIED
    assert items["mini:G-3"].answer is Answer.MET  # the second review's answer, not the first's
    assert items["mini:G-3"].carried_from == review_name(uow, second)
    assert confirm_carried(uow(), third, SAM) == 4
    data = report_data(uow(), third)
    assert data["baseline"]["review_id"] == first
    assert data["previous"]["review_id"] == second
    assert row(data, "governance")["change"] == 16
    assert row(data, "governance")["why"]["previous"] == []


def review_name(uow: UowFactory, review_id: int) -> str:
    return review_questionnaire(uow(), review_id).name


def test_answers_are_checked_at_the_edge(mini: UowFactory, catalog: dict[str, Template]) -> None:
    uow = mini
    review_id = open_review(uow, catalog, NOW)
    with pytest.raises(InvalidInput, match="not_applicable needs a note"):
        answer_item(uow(), review_id, "G-1", Answer.NOT_APPLICABLE, SAM)
    answer_item(uow(), review_id, "O-1", Answer.NOT_APPLICABLE, SAM)  # optional: no reason needed
    with pytest.raises(Refused, match="holds none of staging's roles"):
        answer_item(uow(), review_id, "G-1", Answer.MET, "andy@msp.example")
    with pytest.raises(NotFound, match="has no item 'X-9'"):
        answer_item(uow(), review_id, "X-9", Answer.MET, SAM)
    with pytest.raises(InvalidInput, match="the note of mini:G-1"):
        answer_item(uow(), review_id, "G-1", Answer.MET, SAM, "x" * 2001)
    with pytest.raises(InvalidInput, match="no carried answers"):
        confirm_carried(uow(), review_id, SAM)
    walk(uow, review_id, "delivery")
    with pytest.raises(IllegalTrigger, match="assessment closed"):
        answer_item(uow(), review_id, "G-1", Answer.NOT_MET, SAM)
    with uow() as work:
        notes = list(work.session.scalars(select(ItemAnswer.item)))
    assert "X-9" not in notes
    assert notes.count("G-1") == 1


def test_a_review_keeps_the_standards_it_opened_with(
    mini: UowFactory, catalog: dict[str, Template]
) -> None:
    uow = mini
    review_id = open_review(uow, catalog, NOW)
    edited = MINI.model_copy(update={"title": "Mini standard, edited"})
    walk(uow, review_id, "closed")
    start_review(uow(), CLIENT, catalog, "xbr-sop", now=NOW, standards={"mini": edited})
    with uow() as work:
        versions = list(work.session.scalars(select(StandardVersion.name)))
    assert versions.count("mini") == 2  # both versions kept, each review with its own
    assert review_questionnaire(uow(), review_id).items[0].standard.title == "Mini standard"


def test_assess_on_the_command_line(xbr: Xbr) -> None:
    meeting = (datetime.now(UTC) + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    review = xbr.json("review", "start", "Client qbr", "--meeting", meeting, "--no-flow")
    rid = str(review["id"])
    data = xbr.json("assess", rid)
    assert data["review_id"] == int(rid)
    assert data["standards"] == ["policy-procedure"]
    first = data["items"][0]
    assert list(first) == [
        "standard", "id", "question", "category", "answer", "note", "answered_by", "source",
        "required", "carried_from",
]  # fmt: skip
    assert first["source"] is None
    assert len(data["items"]) == 21
    answered = xbr.json("assess", rid, "POL-01", "--answer", "partial", "--note", "draft only",
                        "--as", SAM)  # fmt: skip
    assert answered["open_required"] == 20
    item = xbr.json("assess", rid)["items"][0]
    assert (item["answer"], item["note"], item["answered_by"], item["source"]) == (
        "partial", "draft only", SAM, "person",
    )  # fmt: skip
    for argv, said in [
        (("POL-01", "--answer", "maybe", "--as", SAM), "maybe"),
        (("POL-01", "--answer", "met"), "--as EMAIL"),
        (("POL-01", "--as", SAM), "needs --answer"),
        (("NOPE-1", "--answer", "met", "--as", SAM), "has no item 'NOPE-1'"),
        (("--confirm-carried", "--as", SAM), "no carried answers"),
    ]:
        code, _, err = xbr("assess", rid, *argv, ok=False)
        assert (code, said in err, len(err.strip().splitlines())) == (2, True, 1), err


def test_a_standard_added_to_the_client_reaches_its_review_until_staging_is_approved(
    mini: UowFactory, catalog: dict[str, Template]
) -> None:
    uow = mini
    review_id = open_review(uow, catalog, NOW)
    answer_item(uow(), review_id, "G-1", Answer.MET, SAM)
    directory.set_standards(uow(), catalog, KNOWN, CLIENT, add=["hipaa-security"])
    shown = review_questionnaire(uow(), review_id)
    assert shown.standards == ["mini", "hipaa-security"]
    assert len(shown.items) == len(MINI.items) + len(KNOWN["hipaa-security"].items)
    assert shown.items[0].answer is Answer.MET  # answers given stay with their items
    walk(uow, review_id, "prep")
    directory.set_standards(uow(), catalog, KNOWN, CLIENT, remove=["hipaa-security"])
    assert review_questionnaire(uow(), review_id).standards == ["mini", "hipaa-security"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(max_size=300), note=st.text(max_size=2100))
def test_any_item_name_and_note_is_answered_or_refused_in_one_line(
    sqlite_uow: UowFactory, name: str, note: str
) -> None:
    uow, catalog = sqlite_uow, load_catalog()  # a fixture's long repr would hide a failure
    if not review_ids(uow):
        directory.set_standards(uow(), catalog, KNOWN, CLIENT, add=["mini"])
        open_review(uow, catalog, NOW)
    review_id = review_ids(uow)[0]
    try:
        done = answer_item(uow(), review_id, name, Answer.PARTIAL, SAM, note)
    except XbrError as refused:
        said = str(refused)
        assert "\n" not in said
        assert len(said) < 400
        return
    assert done.item == f"mini:{name.strip().rpartition(':')[2]}"


def review_ids(uow: UowFactory) -> list[int]:
    with uow() as work:
        return list(work.session.scalars(select(Review.id)))


def test_concurrent_answers_to_one_item_keep_one_row_and_audit_each(
    mini: UowFactory, catalog: dict[str, Template]
) -> None:
    uow = mini
    review_id = open_review(uow, catalog, NOW)
    answers = [Answer.MET, Answer.PARTIAL, Answer.NOT_MET, Answer.MET]
    errors: list[BaseException] = []

    def answer(given: Answer) -> None:
        try:
            answer_item(uow(), review_id, "G-1", given, SAM)
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=answer, args=(a,)) for a in answers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with uow() as work:
        rows = list(work.session.scalars(select(ItemAnswer).where(ItemAnswer.item == "G-1")))
        audited = work.session.scalar(
            select(func.count()).where(AuditEntry.trigger == "item_answered")
        )
    assert len(rows) == 1
    assert audited == len(answers)
