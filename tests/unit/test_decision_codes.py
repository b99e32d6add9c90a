"""Decision codes: the proof of identity the Prefect UI's Resume form takes instead of a typed
email; one person's, for one gate (review and round), until it expires."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from notifications.links import CODE_DAYS, code_owner, decision_code

KEY = b"k" * 32
TODAY = date(2026, 12, 6)
PEOPLE = ["olga@msp.example", "vera@msp.example"]


def code(email: str = "olga@msp.example", round_: int = 2, expires: date | None = None) -> str:
    return decision_code(KEY, 7, round_, email, expires or TODAY + timedelta(days=CODE_DAYS))


def test_a_code_names_its_person_for_its_gate() -> None:
    assert code() == code()  # the same for the email and the approval page
    assert code_owner(KEY, 7, 2, PEOPLE, code(), TODAY) == "olga@msp.example"
    assert code_owner(KEY, 7, 2, PEOPLE, code("vera@msp.example"), TODAY) == "vera@msp.example"


def test_a_code_is_typed_forgivingly() -> None:
    typed = code().lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert code_owner(KEY, 7, 2, PEOPLE, typed, TODAY) == "olga@msp.example"


def test_a_code_works_for_no_other_gate_person_key_or_day() -> None:
    assert code_owner(KEY, 7, 3, PEOPLE, code(), TODAY) is None  # the next round
    assert code_owner(KEY, 8, 2, PEOPLE, code(), TODAY) is None  # another review
    assert code_owner(KEY, 7, 2, ["vera@msp.example"], code(), TODAY) is None  # not an approver
    assert code_owner(b"x" * 32, 7, 2, PEOPLE, code(), TODAY) is None  # another installation
    expired = code(expires=TODAY - timedelta(days=1))
    assert code_owner(KEY, 7, 2, PEOPLE, expired, TODAY) is None
    assert code_owner(KEY, 7, 2, PEOPLE, "", TODAY) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_no_typed_text_but_the_code_is_anyones(typed: str) -> None:
    assert code_owner(KEY, 7, 2, PEOPLE, typed, TODAY) is None
