"""The review lifecycle: phases, triggers and guards as data, one machine for every review."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from typing import Any

from transitions import EventData, Machine, MachineError

from states.errors import IllegalTrigger, Refused


class Phase(StrEnum):
    """Where a review stands; the open ones are the columns of the board."""

    NEEDED = "needed"
    SCHEDULING = "scheduling"
    SCHEDULED = "scheduled"
    STAGING = "staging"
    PREP = "prep"
    DELIVERY = "delivery"
    FOLLOW_UP = "follow_up"
    QA_REVIEW = "qa_review"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Trigger(StrEnum):
    """Everything that can happen to a review."""

    BEGIN_SCHEDULING = "begin_scheduling"
    CONFIRM_MEETING = "confirm_meeting"
    BEGIN_STAGING = "begin_staging"
    FINISH_STAGING = "finish_staging"
    FINISH_PREP = "finish_prep"
    FINISH_DELIVERY = "finish_delivery"
    FINISH_FOLLOW_UP = "finish_follow_up"
    CLOSE = "close"
    REJECT = "reject"
    RESCHEDULE = "reschedule"
    REOPEN = "reopen"
    CANCEL = "cancel"


STATES: list[str] = [p.value for p in Phase]
OPEN_PHASES: tuple[Phase, ...] = tuple(p for p in Phase if p not in (Phase.CLOSED, Phase.CANCELLED))
# The phases that hold a client's slot for its type: once met, the next review may start.
SLOT_PHASES: tuple[Phase, ...] = tuple(
    p for p in OPEN_PHASES if p not in (Phase.FOLLOW_UP, Phase.QA_REVIEW)
)

# The one way forward out of each open phase: approving a phase's gate fires its trigger.
FORWARD: dict[Phase, tuple[Trigger, Phase]] = {
    Phase.NEEDED: (Trigger.BEGIN_SCHEDULING, Phase.SCHEDULING),
    Phase.SCHEDULING: (Trigger.CONFIRM_MEETING, Phase.SCHEDULED),
    Phase.SCHEDULED: (Trigger.BEGIN_STAGING, Phase.STAGING),
    Phase.STAGING: (Trigger.FINISH_STAGING, Phase.PREP),
    Phase.PREP: (Trigger.FINISH_PREP, Phase.DELIVERY),
    Phase.DELIVERY: (Trigger.FINISH_DELIVERY, Phase.FOLLOW_UP),
    Phase.FOLLOW_UP: (Trigger.FINISH_FOLLOW_UP, Phase.QA_REVIEW),
    Phase.QA_REVIEW: (Trigger.CLOSE, Phase.CLOSED),
}

_GATE = [
    "actor_is_accountable",
    "four_eyes_kept",
    "required_tasks_closed",
    "required_items_answered",
    "target_has_capacity",
]

# the dates a forward step waits for: a meeting ahead to schedule, its start to approve delivery
_WHEN = {Phase.SCHEDULED: ["meeting_in_future"], Phase.FOLLOW_UP: ["meeting_has_started"]}

TRANSITIONS: list[dict[str, Any]] = [
    *(
        {
            "trigger": trigger,
            "source": source,
            "dest": dest,
            "conditions": _GATE + _WHEN.get(dest, []),
        }
        for source, (trigger, dest) in FORWARD.items()
    ),
    {
        "trigger": Trigger.REJECT,
        "source": list(OPEN_PHASES),
        "dest": None,
        "conditions": ["actor_is_accountable", "reason_given"],
    },
    {
        "trigger": Trigger.RESCHEDULE,
        "source": [Phase.SCHEDULED, Phase.STAGING, Phase.PREP],
        "dest": Phase.SCHEDULING,
        "conditions": ["actor_is_accountable", "proposed_meeting_valid"],
    },
    {
        "trigger": Trigger.REOPEN,
        "source": Phase.QA_REVIEW,
        "dest": Phase.FOLLOW_UP,
        "conditions": ["actor_is_accountable", "reason_given"],
    },
    {
        "trigger": Trigger.CANCEL,
        "source": list(OPEN_PHASES),
        "dest": Phase.CANCELLED,
        "conditions": ["actor_is_accountable", "reason_given"],
    },
]


def destination(source: str, trigger: Trigger) -> str:
    """The phase `trigger` leads to from `source` (`source` itself for a step that stays,
    such as sending back for rework), as the machine below has it."""
    found = MACHINE.get_transitions(trigger=str(trigger), source=str(source))
    dest = found[0].dest if found else None
    return source if dest is None else str(dest)


@dataclass
class Gate:
    """The facts a decision on one review is judged on; the machine's model for one call.

    Guards are pure predicates over these facts. Each refusing guard leaves its reason in
    `refusal`, because `transitions` only reports that a condition failed, not which.
    """

    state: str
    now: datetime
    actor: str
    eligible_approvers: frozenset[str] = frozenset()
    system: bool = False
    open_required_tasks: tuple[str, ...] = ()
    verified_by: dict[str, str] = field(default_factory=dict)  # task key -> who completed it
    # staging's assessment: required items without an answer (standard:item), and who answered
    open_required_items: tuple[str, ...] = ()
    answered_by: frozenset[str] = frozenset()
    wip: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # phase -> (in it, limit)
    meeting_at: datetime | None = None
    tz: tzinfo = UTC  # the client's: how a refusal shows the meeting
    proposed_meeting_at: datetime | None = None
    comment: str = ""
    refusal: str = ""

    def _refuse(self, reason: str) -> bool:
        self.refusal = reason
        return False

    def actor_is_accountable(self, event: EventData) -> bool:
        if self.system or self.actor in self.eligible_approvers:
            return True
        holders = ", ".join(sorted(self.eligible_approvers)) or "nobody yet"
        return self._refuse(
            f"{self.actor} is not accountable for the {self.state} gate "
            f"(eligible: {holders}); ask one of them or assign the role"
        )

    def four_eyes_kept(self, event: EventData) -> bool:
        own = sorted(key for key, who in self.verified_by.items() if who == self.actor)
        if self.system:
            return True
        if own:
            return self._refuse(
                f"{self.actor} completed {', '.join(own)}, which this gate verifies; "
                "a second person must approve it"
            )
        if self.actor in self.answered_by:
            return self._refuse(
                f"{self.actor} answered items of this review's assessment; "
                "a second person must review the answers and approve the gate"
            )
        return True

    def required_tasks_closed(self, event: EventData) -> bool:
        if not self.open_required_tasks:
            return True
        return self._refuse(
            f"required tasks still open in {self.state}: {', '.join(self.open_required_tasks)}; "
            "mark them done, or skip them with a reason"
        )

    def required_items_answered(self, event: EventData) -> bool:
        missing = self.open_required_items
        if not missing:
            return True
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        return self._refuse(
            f"required assessment items still unanswered in {self.state} ({len(missing)}): "
            f"{shown}; answer them (`xbr assess`), or confirm the carried answers"
        )

    def target_has_capacity(self, event: EventData) -> bool:
        dest = str(event.transition.dest) if event.transition else ""
        count, limit = self.wip.get(dest, (0, None))
        if limit is None or count < limit:
            return True
        return self._refuse(
            f"{dest} is at its WIP limit ({count}/{limit}); finish a review there first"
        )

    def meeting_in_future(self, event: EventData) -> bool:
        meeting = self.proposed_meeting_at or self.meeting_at
        if meeting is None:
            return self._refuse("no meeting date is set; give one with {meeting}")
        if meeting <= self.now:
            return self._refuse(
                f"the meeting date {meeting.isoformat()} is in the past; give a future {{meeting}}"
            )
        return True

    def meeting_has_started(self, event: EventData) -> bool:
        if self.meeting_at is not None and self.meeting_at <= self.now:
            return True
        when = (
            f" ({self.meeting_at.astimezone(self.tz):%a %d %b %Y, %H:%M %Z})"
            if self.meeting_at is not None
            else ""
        )
        return self._refuse(
            f"delivery cannot be approved before the client meeting starts{when}; "
            "approve it once the meeting has started"
        )

    def proposed_meeting_valid(self, event: EventData) -> bool:
        if self.proposed_meeting_at is None or self.proposed_meeting_at > self.now:
            return True
        return self._refuse(
            f"the new meeting date {self.proposed_meeting_at.isoformat()} is in the past; "
            "give a future {meeting}"
        )

    def reason_given(self, event: EventData) -> bool:
        if self.comment.strip():
            return True
        return self._refuse(f"{event.event.name} needs a reason; give one with {{comment}}")


def _plain(value: object) -> object:
    """transitions names Enum states by member name; the machine speaks the values."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.value if isinstance(value, StrEnum) else value


MACHINE = Machine(
    model=None,
    states=STATES,
    transitions=[{k: _plain(v) for k, v in t.items()} for t in TRANSITIONS],
    initial=Phase.NEEDED.value,
    auto_transitions=False,
    send_event=True,
)
# transitions keeps the models in a list on the machine: one call at a time.
_machine_lock = threading.Lock()


def triggers_from(state: str) -> list[str]:
    """The triggers the machine accepts in a state, in lifecycle order."""
    return [t for t in Trigger if any(tr.source == state for tr in _transitions_of(t))]


def _transitions_of(trigger: Trigger) -> list[Any]:
    event = MACHINE.events[trigger]
    return [tr for trs in event.transitions.values() for tr in trs]


def fire(gate: Gate, trigger: Trigger) -> Phase:
    """Run one trigger on the facts in `gate` and return the phase it leads to.

    Raises IllegalTrigger when the trigger does not apply in the gate's state, and Refused
    with the first failing guard's reason; the gate's state is unchanged in both cases.
    """
    start = Phase(gate.state).value
    with _machine_lock:
        MACHINE.add_model(gate, initial=start)
        try:
            moved = gate.trigger(trigger.value)  # type: ignore[attr-defined]
        except MachineError:
            allowed = ", ".join(triggers_from(start)) or "none"
            raise IllegalTrigger(
                f"{trigger} is not possible in {start} (possible there: {allowed})"
            ) from None
        finally:
            MACHINE.remove_model(gate)
    if not moved:
        gate.state = start
        raise Refused(gate.refusal or f"{trigger} refused in {start}")
    return Phase(gate.state)
