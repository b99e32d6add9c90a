"""The review lifecycle: every (phase, trigger) pair, every guard, and `fire` under threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from states.errors import IllegalTrigger, Refused
from states.lifecycle.machine import (
    MACHINE,
    Gate,
    Phase,
    Trigger,
    destination,
    fire,
    triggers_from,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
APPROVER = "olga"

# The lifecycle, written out by hand: phase -> trigger -> the phase it leads to.
LIFECYCLE: dict[str, dict[str, str]] = {
    "needed": {
        "begin_scheduling": "scheduling",
        "reject": "needed",
        "cancel": "cancelled",
    },
    "scheduling": {
        "confirm_meeting": "scheduled",
        "reject": "scheduling",
        "cancel": "cancelled",
    },
    "scheduled": {
        "begin_staging": "staging",
        "reject": "scheduled",
        "reschedule": "scheduling",
        "cancel": "cancelled",
    },
    "staging": {
        "finish_staging": "prep",
        "reject": "staging",
        "reschedule": "scheduling",
        "cancel": "cancelled",
    },
    "prep": {
        "finish_prep": "delivery",
        "reject": "prep",
        "reschedule": "scheduling",
        "cancel": "cancelled",
    },
    "delivery": {
        "finish_delivery": "follow_up",
        "reject": "delivery",
        "cancel": "cancelled",
    },
    "follow_up": {
        "finish_follow_up": "qa_review",
        "reject": "follow_up",
        "cancel": "cancelled",
    },
    "qa_review": {
        "close": "closed",
        "reject": "qa_review",
        "reopen": "follow_up",
        "cancel": "cancelled",
    },
    "closed": {},
    "cancelled": {},
}

# The one way forward, by hand: start -> the phases the forward triggers pass through.
FORWARD_PATH = [
    ("needed", "begin_scheduling"),
    ("scheduling", "confirm_meeting"),
    ("scheduled", "begin_staging"),
    ("staging", "finish_staging"),
    ("prep", "finish_prep"),
    ("delivery", "finish_delivery"),
    ("follow_up", "finish_follow_up"),
    ("qa_review", "close"),
]

ALL_PAIRS = [(state.value, trigger.value) for state in Phase for trigger in Trigger]


def happy_gate(state: str, **changes: Any) -> Gate:
    """A gate on which every guard passes, with `changes` applied."""
    gate = Gate(
        state=state,
        now=NOW,
        actor=APPROVER,
        eligible_approvers=frozenset({APPROVER, "vera"}),
        verified_by={"upload-patch-report": "ivan"},
        wip={phase.value: (1, 2) for phase in Phase},
        # ahead until delivery; from delivery on, the meeting has started
        meeting_at=NOW + (timedelta(days=30) if state in BEFORE_MEETING else -timedelta(hours=1)),
        comment="client asked for it",
    )
    return replace(gate, **changes)


BEFORE_MEETING = {"needed", "scheduling", "scheduled", "staging", "prep"}


def test_the_table_covers_every_phase_and_trigger() -> None:
    """The hand-written table names all 10 phases and only real triggers; 120 pairs in all."""
    assert set(LIFECYCLE) == {p.value for p in Phase}
    assert {t for legal in LIFECYCLE.values() for t in legal} <= {t.value for t in Trigger}
    assert len(ALL_PAIRS) == 120


@pytest.mark.parametrize(("state", "trigger"), ALL_PAIRS, ids=[f"{s}-{t}" for s, t in ALL_PAIRS])
def test_every_pair_moves_or_is_illegal(state: str, trigger: str) -> None:
    """Legal pairs reach the table's phase when all guards pass; others raise, state unchanged."""
    gate = happy_gate(state)
    expected = LIFECYCLE[state].get(trigger)
    if expected is None:
        with pytest.raises(IllegalTrigger) as raised:
            fire(gate, Trigger(trigger))
        assert f"{trigger} is not possible in {state}" in str(raised.value)
        assert gate.state == state
    else:
        assert fire(gate, Trigger(trigger)) == Phase(expected)
        assert gate.state == expected


@pytest.mark.parametrize("state", list(LIFECYCLE))
def test_triggers_from_lists_the_legal_ones(state: str) -> None:
    """The machine offers exactly the table's triggers in each phase."""
    assert set(triggers_from(state)) == set(LIFECYCLE[state])


@pytest.mark.parametrize(
    ("state", "trigger", "listed"),
    [
        ("needed", "close", "begin_scheduling, reject, cancel"),
        ("delivery", "reschedule", "finish_delivery, reject, cancel"),
        ("closed", "reopen", "none"),
        ("cancelled", "cancel", "none"),
    ],
)
def test_illegal_trigger_says_what_is_possible(state: str, trigger: str, listed: str) -> None:
    """The error lists the triggers the phase does accept."""
    with pytest.raises(IllegalTrigger, match=f"possible there: {listed}"):
        fire(happy_gate(state), Trigger(trigger))


# (id, state, trigger, changed facts, fragments the refusal must contain)
REFUSALS: list[tuple[str, str, str, dict[str, Any], list[str]]] = [
    (
        "not-accountable-forward",
        "prep",
        "finish_prep",
        {"actor": "ivan"},
        ["ivan is not accountable for the prep gate", "eligible: olga, vera"],
    ),
    (
        "not-accountable-nobody-eligible",
        "needed",
        "begin_scheduling",
        {"eligible_approvers": frozenset()},
        ["olga is not accountable for the needed gate", "nobody yet"],
    ),
    (
        "not-accountable-reject",
        "staging",
        "reject",
        {"actor": "ivan"},
        ["ivan is not accountable for the staging gate"],
    ),
    (
        "not-accountable-reschedule",
        "scheduled",
        "reschedule",
        {"actor": "ivan"},
        ["ivan is not accountable for the scheduled gate"],
    ),
    (
        "not-accountable-reopen",
        "qa_review",
        "reopen",
        {"actor": "ivan"},
        ["ivan is not accountable for the qa_review gate"],
    ),
    (
        "not-accountable-cancel",
        "delivery",
        "cancel",
        {"actor": "ivan"},
        ["ivan is not accountable for the delivery gate"],
    ),
    (
        "four-eyes",
        "prep",
        "finish_prep",
        {"verified_by": {"upload-av-report": APPROVER, "upload-patch-report": APPROVER}},
        ["olga completed upload-av-report, upload-patch-report", "a second person must approve"],
    ),
    (
        "open-required-tasks",
        "staging",
        "finish_staging",
        {"open_required_tasks": ("check-av-report", "review-bsn-report")},
        ["required tasks still open in staging: check-av-report, review-bsn-report"],
    ),
    (
        "wip-limit-reached",
        "staging",
        "finish_staging",
        {"wip": {"prep": (2, 2)}},
        ["prep is at its WIP limit (2/2)"],
    ),
    (
        "wip-limit-exceeded",
        "needed",
        "begin_scheduling",
        {"wip": {"scheduling": (11, 10)}},
        ["scheduling is at its WIP limit (11/10)"],
    ),
    (
        "meeting-missing",
        "scheduling",
        "confirm_meeting",
        {"meeting_at": None},
        ["no meeting date is set", "--meeting"],
    ),
    (
        "meeting-in-past",
        "scheduling",
        "confirm_meeting",
        {"meeting_at": NOW - timedelta(days=1)},
        ["the meeting date 2026-05-31T12:00:00+00:00 is in the past"],
    ),
    (
        "meeting-right-now",
        "scheduling",
        "confirm_meeting",
        {"meeting_at": NOW},
        ["the meeting date 2026-06-01T12:00:00+00:00 is in the past"],
    ),
    (
        "proposed-meeting-in-past-on-confirm",
        "scheduling",
        "confirm_meeting",
        {"proposed_meeting_at": NOW - timedelta(hours=1)},
        ["the meeting date 2026-06-01T11:00:00+00:00 is in the past"],
    ),
    (
        "reschedule-to-past",
        "staging",
        "reschedule",
        {"proposed_meeting_at": NOW - timedelta(days=2)},
        ["the new meeting date 2026-05-30T12:00:00+00:00 is in the past"],
    ),
    (
        "delivery-before-the-meeting",
        "delivery",
        "finish_delivery",
        {"meeting_at": NOW + timedelta(hours=2), "tz": ZoneInfo("America/New_York")},
        [
            "delivery cannot be approved before the client meeting starts "
            "(Mon 01 Jun 2026, 10:00 EDT); approve it once the meeting has started"
        ],
    ),
    (
        "delivery-a-second-before-the-meeting",
        "delivery",
        "finish_delivery",
        {"meeting_at": NOW + timedelta(seconds=1)},
        ["before the client meeting starts (Mon 01 Jun 2026, 12:00 UTC)"],
    ),
    (
        "delivery-without-a-meeting",
        "delivery",
        "finish_delivery",
        {"meeting_at": None},
        ["delivery cannot be approved before the client meeting starts; approve it once"],
    ),
    ("reject-no-reason", "prep", "reject", {"comment": ""}, ["reject needs a reason", "--comment"]),
    ("reject-blank-reason", "needed", "reject", {"comment": "  \n"}, ["reject needs a reason"]),
    ("cancel-no-reason", "scheduled", "cancel", {"comment": ""}, ["cancel needs a reason"]),
    ("reopen-no-reason", "qa_review", "reopen", {"comment": " "}, ["reopen needs a reason"]),
]


@pytest.mark.parametrize(
    ("state", "trigger", "changes", "fragments"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_guard_refuses_and_names_the_problem(
    state: str, trigger: str, changes: dict[str, Any], fragments: list[str]
) -> None:
    """A failing guard raises Refused naming the problem, and the phase stays."""
    gate = happy_gate(state, **changes)
    with pytest.raises(Refused) as raised:
        fire(gate, Trigger(trigger))
    for fragment in fragments:
        assert fragment in str(raised.value)
    assert gate.state == state


# (id, state, trigger, changed facts, where it leads): the guards' boundaries that pass.
PASSES: list[tuple[str, str, str, dict[str, Any], str]] = [
    ("wip-one-below-limit", "staging", "finish_staging", {"wip": {"prep": (1, 2)}}, "prep"),
    ("wip-unlimited", "scheduled", "begin_staging", {"wip": {"staging": (99, None)}}, "staging"),
    ("wip-other-phase-full", "prep", "finish_prep", {"wip": {"prep": (2, 2)}}, "delivery"),
    (
        "wip-scheduling-one-below",
        "needed",
        "begin_scheduling",
        {"wip": {"scheduling": (9, 10)}},
        "scheduling",
    ),
    (
        "meeting-a-minute-ahead",
        "scheduling",
        "confirm_meeting",
        {"meeting_at": NOW + timedelta(minutes=1)},
        "scheduled",
    ),
    (
        "proposed-meeting-suffices",
        "scheduling",
        "confirm_meeting",
        {"meeting_at": None, "proposed_meeting_at": NOW + timedelta(days=3)},
        "scheduled",
    ),
    (
        "reschedule-to-future",
        "prep",
        "reschedule",
        {"proposed_meeting_at": NOW + timedelta(days=40)},
        "scheduling",
    ),
    ("reschedule-without-new-date", "scheduled", "reschedule", {}, "scheduling"),
    (
        "delivery-as-the-meeting-starts",
        "delivery",
        "finish_delivery",
        {"meeting_at": NOW},
        "follow_up",
    ),
    (
        "cancel-delivery-before-the-meeting",
        "delivery",
        "cancel",
        {"meeting_at": NOW + timedelta(days=1)},
        "cancelled",
    ),  # fmt: skip
    (
        "four-eyes-others-did-the-work",
        "prep",
        "finish_prep",
        {"verified_by": {"upload-av-report": "ivan", "verify-reports": "tina"}},
        "delivery",
    ),
    (
        "reject-ignores-open-tasks",
        "staging",
        "reject",
        {"open_required_tasks": ("check-av-report",)},
        "staging",
    ),
    ("cancel-ignores-wip", "needed", "cancel", {"wip": {"cancelled": (5, 5)}}, "cancelled"),
]


@pytest.mark.parametrize(
    ("state", "trigger", "changes", "expected"),
    [case[1:] for case in PASSES],
    ids=[case[0] for case in PASSES],
)
def test_guard_boundary_passes(
    state: str, trigger: str, changes: dict[str, Any], expected: str
) -> None:
    """Just inside each guard's limit, the trigger goes through."""
    gate = happy_gate(state, **changes)
    assert fire(gate, Trigger(trigger)) == Phase(expected)
    assert gate.state == expected


SYSTEM = {"system": True, "actor": "system", "eligible_approvers": frozenset()}

# (id, state, trigger, changed facts): the system actor gets through where a person would not.
SYSTEM_BYPASSES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("accountability", "needed", "begin_scheduling", {}),
    ("accountability-cancel", "staging", "cancel", {}),
    ("four-eyes", "prep", "finish_prep", {"verified_by": {"upload-patch-report": "system"}}),
    ("four-eyes-qa", "qa_review", "close", {"verified_by": {"schedule-future-xbrs": "system"}}),
]


@pytest.mark.parametrize(
    ("state", "trigger", "changes"),
    [case[1:] for case in SYSTEM_BYPASSES],
    ids=[case[0] for case in SYSTEM_BYPASSES],
)
def test_system_bypasses_accountability_and_four_eyes(
    state: str, trigger: str, changes: dict[str, Any]
) -> None:
    """Gate(system=True) needs no eligible approver and may verify its own work."""
    gate = happy_gate(state, **SYSTEM, **changes)
    assert fire(gate, Trigger(trigger)) == Phase(LIFECYCLE[state][trigger])


# (id, state, trigger, changed facts, fragment): guards that hold even for the system actor.
SYSTEM_BLOCKED: list[tuple[str, str, str, dict[str, Any], str]] = [
    (
        "open-tasks",
        "staging",
        "finish_staging",
        {"open_required_tasks": ("upload-av-report",)},
        "required tasks still open in staging: upload-av-report",
    ),
    (
        "open-tasks-qa",
        "qa_review",
        "close",
        {"open_required_tasks": ("completed-ticket-review",)},
        "required tasks still open in qa_review: completed-ticket-review",
    ),
    ("wip", "prep", "finish_prep", {"wip": {"delivery": (2, 2)}}, "delivery is at its WIP limit"),
    ("reason", "delivery", "cancel", {"comment": ""}, "cancel needs a reason"),
]


@pytest.mark.parametrize(
    ("state", "trigger", "changes", "fragment"),
    [case[1:] for case in SYSTEM_BLOCKED],
    ids=[case[0] for case in SYSTEM_BLOCKED],
)
def test_system_does_not_bypass_open_tasks(
    state: str, trigger: str, changes: dict[str, Any], fragment: str
) -> None:
    """The system actor is still stopped by open required tasks (and WIP, and reasons)."""
    gate = happy_gate(state, **SYSTEM, **changes)
    with pytest.raises(Refused, match=fragment.replace("(", r"\(")):
        fire(gate, Trigger(trigger))
    assert gate.state == state


def test_system_does_not_approve_delivery_before_the_meeting() -> None:
    """Not even a delivery phase without approval moves on before the meeting starts."""
    gate = happy_gate("delivery", **SYSTEM, meeting_at=NOW + timedelta(minutes=5))
    with pytest.raises(Refused, match="before the client meeting starts"):
        fire(gate, Trigger.FINISH_DELIVERY)
    assert gate.state == "delivery"


def test_first_failing_guard_is_reported() -> None:
    """With several problems, the refusal names the first guard in order: accountability."""
    gate = happy_gate("staging", actor="ivan", open_required_tasks=("check-av-report",))
    with pytest.raises(Refused, match="ivan is not accountable"):
        fire(gate, Trigger.FINISH_STAGING)


def test_refused_gate_goes_through_once_fixed() -> None:
    """The same gate can be fired again after the missing fact is supplied."""
    gate = happy_gate("scheduling", meeting_at=None)
    with pytest.raises(Refused):
        fire(gate, Trigger.CONFIRM_MEETING)
    gate.meeting_at = NOW + timedelta(days=14)
    assert fire(gate, Trigger.CONFIRM_MEETING) is Phase.SCHEDULED
    assert fire(gate, Trigger.BEGIN_STAGING) is Phase.STAGING


def _walk_to_closed(start: str, rounds: int, barrier: threading.Barrier) -> list[list[str]]:
    """From `start`, fire forward until closed, `rounds` times; a refused reject on each step."""
    barrier.wait()
    walks = []
    for _ in range(rounds):
        gate = happy_gate(start)
        walk = [start]
        for state, trigger in FORWARD_PATH[[s for s, _ in FORWARD_PATH].index(start) :]:
            assert gate.state == state
            with pytest.raises(Refused):
                fire(replace(gate, comment=""), Trigger.REJECT)
            if state == "delivery":  # the meeting takes place
                gate.now = NOW + timedelta(days=31)
            walk.append(fire(gate, Trigger(trigger)).value)
        walks.append(walk)
    return walks


def test_fire_is_safe_from_eight_threads() -> None:
    """Eight threads firing on their own gates at once each walk the right path to closed."""
    starts = [state for state, _ in FORWARD_PATH]
    order = [state for state, _ in FORWARD_PATH] + ["closed"]
    barrier = threading.Barrier(len(starts))
    with ThreadPoolExecutor(max_workers=len(starts)) as pool:
        futures = {s: pool.submit(_walk_to_closed, s, 25, barrier) for s in starts}
        results = {s: f.result(timeout=60) for s, f in futures.items()}
    for start, walks in results.items():
        expected = order[order.index(start) :]
        assert walks == [expected] * 25
    assert MACHINE.models == []


def test_destination_agrees_with_the_lifecycle_for_every_pair() -> None:
    # a gate counts the reviews of the phase its trigger leads to (its WIP limit) and no other
    for source, moves in LIFECYCLE.items():
        for trigger, dest in moves.items():
            assert destination(source, Trigger(trigger)) == dest, (source, trigger)
