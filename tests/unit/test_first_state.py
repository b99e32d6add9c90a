"""The state a review's new flow run is made in: Scheduled, or with XBR_START_SUSPENDED
suspended at the review's gate, except where the flow has work on arrival."""

from __future__ import annotations

import pytest

from states.read.views import GatePosition, RunFacts
from states.settings import Settings
from tasks.flow_runs import first_state


def review(status: str, round_: int = 0, refusals: int = 0) -> RunFacts:
    gate = None if status in ("closed", "cancelled") else GatePosition(status, round_)
    return RunFacts(
        id=7, name="acme-law-qbr-2026-q4", client="Acme Law", client_slug="acme-law",
        type="qbr", period="2026-q4", status=status, meeting_at=None, version=1,
        gate=gate, refusals=refusals, installation="inst",
    )  # fmt: skip


@pytest.mark.parametrize("status", ["needed", "scheduling", "scheduled", "prep", "delivery",
                                    "follow_up"])  # fmt: skip
def test_suspended_at_the_gate_when_asked(monkeypatch: pytest.MonkeyPatch, status: str) -> None:
    monkeypatch.setenv("XBR_START_SUSPENDED", "true")
    state = first_state(review(status, round_=2, refusals=1), Settings())
    assert state.is_paused()
    assert state.name == "Suspended"
    assert state.state_details.pause_reschedule  # suspended: no process waits
    assert state.state_details.pause_timeout is None
    assert state.state_details.pause_key == f"review-7-{status.replace('_', '-')}-r2-a1-new"
    assert state.state_details.run_input_keyset is None  # the form comes when it runs


@pytest.mark.parametrize("status", ["staging", "qa_review", "closed", "cancelled"])
def test_runs_at_once_where_the_flow_has_work_or_the_review_ended(
    monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    monkeypatch.setenv("XBR_START_SUSPENDED", "true")
    assert first_state(review(status), Settings()).is_scheduled()


def test_runs_at_once_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XBR_START_SUSPENDED", raising=False)
    assert first_state(review("needed"), Settings()).is_scheduled()
