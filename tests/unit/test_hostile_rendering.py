"""Hostile values in every field a person or a file can set: in messages, run artifacts and
client documents none of them survives as markup (no link, image, HTML, table break or line
of its own), and the email's HTML links only where xbr's templates link."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifications.messages import KINDS, clean_html, markdown_text, render
from reports.run_pages import cell, checklist_markdown, gate_description
from states.read.views import AuditView, GateView, ReviewView, TaskView
from tests.unit.test_messages import APPROVE_URL, RUN_URL, context

LINK = "[clickme](javascript:alert(1))"
IMAGE = "![pixel](https://tracker.example/p.png)"
HTML = "<img src=x onerror=alert(1)><script>alert(2)</script>"
AUTOLINK = "<https://evil.example/>"
CODE = "`rm -rf /` *bold* | cell |"
CRLF = "line one\r\n# a heading of its own\r\n> a quote"
FORMULA = '=HYPERLINK("https://evil.example","x")'
HOSTILE = [LINK, IMAGE, HTML, AUTOLINK, CODE, CRLF, FORMULA]
NOW = datetime(2026, 11, 16, 15, tzinfo=UTC)
# the fields of a message's data that people and files set
PEOPLE_TEXT = {"client", "title", "name", "actor", "comment", "note", "assignee", "approved"}


def poison(data: Any, value: str) -> Any:
    """The data with every field a person sets replaced by `value`."""
    if isinstance(data, dict):
        return {
            k: value if k in PEOPLE_TEXT and isinstance(v, str) else poison(v, value)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [poison(v, value) for v in data]
    return data


def hostile_context(kind: str, value: str) -> dict[str, Any]:
    ctx = poison(context(kind), value)
    if kind == "informed":
        ctx["step"]["comment"] = value
    return ctx


def assert_inert_markdown(text: str) -> None:
    """No link, image, raw HTML, autolink, code span or line of its own from the data."""
    assert "[clickme](" not in text
    assert "![pixel](" not in text
    assert not re.search(r"(?<!\\)<(img|script|https://evil)", text)
    assert "`rm -rf /`" not in text
    assert "\n# a heading" not in text
    assert "\n> a quote" not in text


def assert_inert_html(html: str) -> None:
    assert not re.search(r"(href|src)\s*=\s*[\"']?\s*javascript:", html, re.IGNORECASE)
    assert "<img" not in html
    assert "<script" not in html
    assert "onerror" not in html.replace("onerror=alert(1)&gt;", "")  # only as escaped text
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert all(h in (APPROVE_URL, RUN_URL) or h.startswith("mailto:") for h in hrefs), hrefs


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("kind", [k for k in KINDS if k != "test"])
def test_no_hostile_value_survives_as_markup_in_a_message(kind: str, value: str) -> None:
    message = render(kind, hostile_context(kind, value))
    assert "\n" not in message.title
    assert_inert_markdown(message.markdown)
    assert_inert_html(message.html)


def test_a_client_named_as_a_link_is_text_in_the_email() -> None:
    ctx = context("approval")
    ctx["review"]["client"] = LINK
    message = render("approval", ctx)
    assert r"\[clickme\](javascript:alert(1))" in message.markdown
    assert "[clickme](javascript:alert(1))" in message.html  # shown as text
    assert_inert_html(message.html)


def test_a_comment_with_a_link_and_a_remote_image_reaches_the_next_person_as_text() -> None:
    ctx = context("informed")
    ctx["step"] = {
        "from": "prep", "to": "prep", "trigger": "reject", "actor": "vera@msp.example",
        "comment": f"see {LINK} and {IMAGE}",
    }  # fmt: skip
    message = render("informed", ctx)
    assert_inert_markdown(message.markdown)
    assert_inert_html(message.html)


def test_the_html_wall_drops_what_markdown_would_pass_through() -> None:
    html = clean_html('<p>hi <a href="javascript:alert(1)">x</a><img src=y><b onclick=z>b</b></p>')
    assert "javascript" not in html
    assert "<img" not in html
    assert "onclick" not in html


def _review(value: str) -> ReviewView:
    task = TaskView(
        key="finalise-agenda", phase="prep", title=value, role="account_manager", kind="task",
        assignee=value, due=None, required=True, status="open", completed_by=None, note=value,
    )  # fmt: skip
    gate = GateView(
        phase="prep", round=1, trigger="finish_prep", approval=True,
        accountable_role="account_manager", eligible_approvers=(value,),
        open_required_tasks=("finalise-agenda",), open_required_items=(),
    )  # fmt: skip
    return ReviewView(
        id=7, name=value, client=value, client_slug="x", type="qbr", period="2026-q4",
        status="prep", meeting_at=None, version=1, template="qbr", round=1, budget_hours=1.0,
        actual_hours=0.0, created_at=NOW, phase_entered_at=NOW, gate=gate, wake_at=None,
        flow_run_id=None, run_generation=0, progress_artifact_id=None, refusals=1,
        last_refusal=f"{value}: {value}", tasks=(task,),
        audit=(AuditView(NOW, "prep", "prep", "refused", value, value, "xbr"),),
    )  # fmt: skip


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_run_artifacts_escape_every_value(value: str) -> None:
    review = _review(value)
    assert_inert_markdown(checklist_markdown(review))
    assert_inert_markdown(gate_description(review))
    assert "\n" not in str(cell(value))
    assert "\r" not in str(cell(value))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_markdown_text_is_one_line_and_escapes_every_markdown_character(text: str) -> None:
    escaped = markdown_text(text)
    assert "\n" not in escaped
    assert "\r" not in escaped
    unescaped = re.sub(r"\\[\\`*\[\]<>|]", "", escaped)
    assert not set(unescaped) & set("\\`*[]<>|")
