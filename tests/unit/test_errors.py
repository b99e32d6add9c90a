"""A refusal names the fix in the words of the entry point that shows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from states.errors import RESUME_FORM, WEB_PAGE, Refused
from states.lifecycle.machine import Gate, Trigger, fire

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _refusal(**facts: object) -> Refused:
    olga = "olga@msp.example"
    gate = Gate(state="scheduling", now=NOW, actor=olga, eligible_approvers=frozenset({olga}))
    for name, value in facts.items():
        setattr(gate, name, value)
    with pytest.raises(Refused) as raised:
        fire(gate, Trigger.CONFIRM_MEETING)
    return raised.value


def test_the_command_line_names_its_option() -> None:
    refusal = _refusal(meeting_at=NOW - timedelta(days=1))
    assert str(refusal).endswith("is in the past; give a future --meeting")


def test_the_approval_page_and_the_resume_form_name_their_fields() -> None:
    refusal = _refusal(meeting_at=None)
    on_the_page = "no meeting date is set; give one with meeting date on the page"
    assert refusal.worded(WEB_PAGE) == on_the_page
    assert "--" not in refusal.worded(RESUME_FORM)
    assert refusal.worded(RESUME_FORM).endswith("give one with new_meeting_date in the form")


def test_a_value_in_the_message_is_shown_as_given() -> None:
    assert str(Refused("client {not-a-field} refused")) == "client {not-a-field} refused"
