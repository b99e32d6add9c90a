"""Messages people read: every kind renders for realistic reviews, in the client's time zone."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jinja2 import UndefinedError

from notifications.messages import KINDS, Message, local_time, render
from states.errors import InvalidInput

ZONE = "America/New_York"
APPROVE_URL = "https://xbr.msp.example/a/eyJyIjo0Mn0.c2ln"
RUN_URL = "http://127.0.0.1:4200/runs/flow-run/0f6c3a52-6d7e-4b8e-9a57-1c1f0b8e1f11"

# Acme Law's QBR for 2026-Q4 (catalog qbr.yaml): meeting Mon 30 Nov 2026, 14:00 in New York;
# the prep meeting two business days before (Thu 26 Nov), staging done by Thu 19 Nov.
STAGING_DUE = "2026-11-19T22:00:00+00:00"
PREP_DUE = "2026-11-26T22:00:00+00:00"
MEETING = "2026-11-30T19:00:00+00:00"


def _task(
    key: str, phase: str, title: str, role: str, assignee: str | None, due: str, **more: Any
) -> dict[str, Any]:
    return {
        "key": key,
        "phase": phase,
        "title": title,
        "role": role,
        "kind": more.get("kind", "manual"),
        "assignee": assignee,
        "due": due,
        "required": more.get("required", True),
        "status": more.get("status", "open"),
        "completed_by": more.get("completed_by"),
        "note": None,
    }


TASKS = [
    _task(
        "ticket-sla-csat-report",
        "staging",
        "Upload the quarter's ticket, SLA and CSAT report",
        "support_engineer",
        "tina@msp.example",
        STAGING_DUE,
        kind="upload",
        status="done",
        completed_by="tina@msp.example",
    ),
    _task(
        "security-report",
        "staging",
        "Upload the security report and note phishing spikes",
        "support_engineer",
        "sam@msp.example",
        STAGING_DUE,
        kind="upload",
        status="done",
        completed_by="sam@msp.example",
    ),
    _task(
        "review-quarter-metrics",
        "prep",
        "Review the quarter's metrics and draft recommendations",
        "account_manager",
        "andy@msp.example",
        PREP_DUE,
    ),
    _task(
        "finalise-agenda",
        "prep",
        "Finalise the agenda and send it to the client",
        "account_manager",
        "andy@msp.example",
        PREP_DUE,
    ),
    _task(
        "deliver-qbr",
        "delivery",
        "Deliver the QBR",
        "account_manager",
        "andy@msp.example",
        "2026-11-30T22:00:00+00:00",
    ),
    _task(
        "add-qbr-notes",
        "delivery",
        "Add the meeting notes to the ticket",
        "account_manager",
        None,
        "2026-11-30T22:00:00+00:00",
    ),
]


def review_dict() -> dict[str, Any]:
    """The shape of states.read.views.review_view for Acme Law's QBR, now in prep."""
    return {
        "id": 42,
        "name": "acme-law-qbr-2026-q4",
        "client": "Acme Law",
        "client_slug": "acme-law",
        "type": "qbr",
        "period": "2026-q4",
        "status": "prep",
        "meeting_at": MEETING,
        "version": 9,
        "template": "qbr",
        "round": 1,
        "budget_hours": 6.0,
        "actual_hours": 2.5,
        "created_at": "2026-10-12T12:00:00+00:00",
        "phase_entered_at": "2026-11-20T14:00:00+00:00",
        "gate": {
            "phase": "prep",
            "round": 1,
            "trigger": "finish_prep",
            "approval": True,
            "accountable_role": "account_manager",
            "eligible_approvers": ["andy@msp.example"],
            "open_required_tasks": ["review-quarter-metrics", "finalise-agenda"],
        },
        "wake_at": None,
        "flow_run_id": "0f6c3a52-6d7e-4b8e-9a57-1c1f0b8e1f11",
        "run_generation": 1,
        "progress_artifact_id": None,
        "refusals": 0,
        "last_refusal": None,
        "tasks": copy.deepcopy(TASKS),
        "audit": [],
    }


ANDY = {"name": "Andy Account", "email": "andy@msp.example"}
VERA = {"name": "Vera Vcio", "email": "vera@msp.example"}
OLGA = {"name": "Olga Ops", "email": "olga@msp.example"}
CARL = {"name": "Carl Client", "email": "carl@client.example"}


def context(kind: str) -> dict[str, Any]:
    """A realistic context for `kind`: who gets it, about which phase, with which extras."""
    review = review_dict()
    own = [t for t in review["tasks"] if t["phase"] == "prep"]
    ctx: dict[str, Any] = {
        "recipient": ANDY,
        "review": review,
        "tasks": own,
        "phase": "prep",
        "links": {"action": APPROVE_URL, "run": RUN_URL},
        "zone": ZONE,
    }
    if kind == "consult":
        ctx.update(recipient=VERA, tasks=[], phase="prep")
    elif kind == "informed":
        ctx.update(recipient=OLGA, tasks=[], step=_step("finish_staging", "staging", "prep"))
    elif kind == "escalation":
        ctx.update(recipient=OLGA, tasks=[], age_days=9.4, threshold_days=5)
    elif kind == "pulled":
        ctx.update(approved="approved by olga@msp.example at 2026-11-20 14:00 UTC", role="ceo")
    elif kind == "psa":
        ctx.update(recipient=OLGA, tasks=[], psa="ConnectWise", psa_status="Scheduled",
                   by="Dana Dispatcher", role="ops_manager")  # fmt: skip
    elif kind == "invite":
        ctx.update(recipient=CARL, tasks=[], links={"action": None, "run": None}, sequence=0)
    elif kind == "overdue":
        ctx.update(tasks=own[:1])
    elif kind == "plan":
        ctx.update(
            recipient=CARL, tasks=[], phase="delivery", role="client_contact", to_decide=3,
            links={"action": APPROVE_URL, "run": None},
        )  # fmt: skip
    elif kind == "assess":
        ctx.update(
            tasks=[], phase="staging", items=21, open_required=19, carried=2,
            standards=["policy-procedure"],
        )  # fmt: skip
    elif kind == "digest":
        ctx.update(
            tasks=[], links={"action": None, "run": None, "code": None},
            items=[
                {"title": "Acme Law · QBR 2026-Q4 · prep: your input is wanted",
                 "line": "Your input is wanted on the prep phase of the Acme Law QBR 2026-Q4.",
                 "links": [{"label": "Open the review", "url": APPROVE_URL}]},
                {"title": "Acme Law · QBR 2026-Q4 · prep: 2 tasks for you",
                 "line": "The Acme Law QBR 2026-Q4 is in prep. Your tasks:",
                 "links": [{"label": "Open your tasks", "url": APPROVE_URL},
                           {"label": "Progress and history", "url": RUN_URL}]},
            ],
        )  # fmt: skip
    elif kind == "signin":
        ctx.update(tasks=[], links={"action": APPROVE_URL, "run": None}, minutes=15)
    # A fresh copy: tests delete and change keys, and the people above are shared.
    return copy.deepcopy(ctx)


def _step(trigger: str, source: str, dest: str, comment: str | None = None) -> dict[str, Any]:
    return {
        "from": source,
        "to": dest,
        "trigger": trigger,
        "actor": "andy@msp.example",
        "comment": comment,
    }


# What each kind says, in its title and somewhere in its body.
EXPECTED = {
    "tasks": (
        "Acme Law · QBR 2026-Q4 · prep: 2 tasks for you",
        "- **Finalise the agenda and send it to the client** — due Thu 26 Nov 2026, 17:00 EST",
    ),
    "approval": (
        "Acme Law · QBR 2026-Q4 · prep: your approval is needed",
        "The **prep** phase of the Acme Law QBR 2026-Q4 is waiting for your decision"
        " as account manager.",
    ),
    "consult": (
        "Acme Law · QBR 2026-Q4 · prep: your input is wanted",
        "Your input is wanted on the **prep** phase of the Acme Law QBR 2026-Q4,"
        " before andy@msp.example approves it.",
    ),
    "assess": (
        "Acme Law · QBR 2026-Q4 · staging: the assessment wants your answers",
        "**19** required items are still unanswered; the staging gate stays closed until each"
        " has an answer.",
    ),
    "informed": (
        "Acme Law · QBR 2026-Q4 · staging → prep",
        "andy@msp.example approved staging: the Acme Law QBR 2026-Q4 is now in **prep**.",
    ),
    "invite": (
        "Acme Law · QBR 2026-Q4 · meeting Mon 30 Nov 2026, 14:00 EST",
        "You are invited to the Acme Law QBR 2026-Q4 meeting on **Mon 30 Nov 2026, 14:00 EST**.",
    ),
    "reminder": (
        "Acme Law · QBR 2026-Q4 · reminder: 2 tasks due soon",
        "These 2 tasks for the Acme Law QBR 2026-Q4 are due within a business day:",
    ),
    "overdue": (
        "Acme Law · QBR 2026-Q4 · overdue: 1 task",
        "- **Review the quarter's metrics and draft recommendations** — was due"
        " Thu 26 Nov 2026, 17:00 EST",
    ),
    "escalation": (
        "Acme Law · QBR 2026-Q4 · prep stuck for 9 days",
        "has been open for **9 days**; it should take at most 5 days.",
    ),
    "pulled": (
        "Acme Law · QBR 2026-Q4 · a place freed: now in prep",
        "the Acme Law QBR 2026-Q4 left the queue and is now in **prep**. It was approved by"
        " olga@msp.example at 2026-11-20 14:00 UTC, and waited because prep was at its WIP limit.",
    ),
    "psa": (
        "Acme Law · QBR 2026-Q4 · moved to Scheduled in ConnectWise",
        "In ConnectWise, the ticket of the Acme Law QBR 2026-Q4 was moved to **Scheduled** by"
        " Dana Dispatcher. xbr keeps the review's lifecycle: it stays in **prep**",
    ),
    "plan": (
        "Acme Law · QBR 2026-Q4 · your plan: 3 initiatives to decide",
        "Your plan from the Acme Law QBR 2026-Q4 has **3 initiatives** waiting for your decision.",
    ),
    "signin": ("Your sign-in link for xbr", "it works once"),
    "digest": (
        "Your xbr digest: 2 updates",
        "### Acme Law · QBR 2026-Q4 · prep: your input is wanted",
    ),
    "test": (
        "Acme Law · QBR 2026-Q4 · xbr test message: xbr can reach you",
        "If you can read it, xbr can reach you here",
    ),
}


def test_every_kind_has_expectations() -> None:
    """The table below covers every kind there is."""
    assert set(EXPECTED) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders(kind: str) -> None:
    """A one-line title that starts with the client, a greeting, tidy Markdown and an HTML email."""
    ctx = context(kind)
    message = render(kind, ctx)
    title, phrase = EXPECTED[kind]
    assert isinstance(message, Message)
    assert message.title == title
    assert "\n" not in message.title
    assert message.markdown.startswith(f"Hi {ctx['recipient']['name'].split()[0]},\n\n")
    assert phrase in message.markdown
    assert message.markdown.endswith("\n")
    assert not message.markdown.endswith("\n\n")
    assert "\n\n\n" not in message.markdown
    assert message.html.startswith("<!DOCTYPE html>")
    assert f"<title>{title}</title>" in message.html
    assert "<p>Hi " in message.html
    assert f"Sent by xbr to {ctx['recipient']['email']}." in message.html


@pytest.mark.parametrize("kind", ["tasks", "approval", "reminder", "overdue", "escalation"])
def test_the_action_link_comes_before_the_details(kind: str) -> None:
    """The link to act on is bold, on its own line, and comes before the meeting and run links."""
    text = render(kind, context(kind)).markdown
    link_line = next(line for line in text.splitlines() if APPROVE_URL in line)
    assert link_line.startswith("**[")
    assert link_line.endswith(f"→]({APPROVE_URL})**")
    details = [text.find(part) for part in ("Client meeting:", RUN_URL) if part in text]
    assert details
    assert all(text.index(APPROVE_URL) < position for position in details)
    message = render(kind, context(kind))
    assert f'<a href="{APPROVE_URL}" style="display:inline-block;' in message.html  # a button
    assert f": {APPROVE_URL}\n" in message.text  # the plain text carries the address


def test_approval_without_a_link_names_the_commands() -> None:
    """Without a signed link, the approver is told the exact command."""
    ctx = context("approval")
    ctx["links"] = {"action": None, "run": None}
    message = render("approval", ctx)
    assert "`xbr approve 42 --phase prep --as andy@msp.example`" in message.markdown
    assert "xbr reject 42 --phase prep" in message.markdown
    assert "Prefect run" not in message.markdown


def test_approval_lists_what_is_still_open() -> None:
    """The approver sees which required tasks still block the gate, and who has them."""
    ctx = context("approval")
    ctx["review"]["tasks"][3]["assignee"] = "olga@msp.example"
    message = render("approval", ctx)
    assert "Still open, and required before it can be approved:" in message.markdown
    assert (
        "- **Review the quarter's metrics and draft recommendations** — you,"
        " due Thu 26 Nov 2026, 17:00 EST\n"
        "- **Finalise the agenda and send it to the client** — olga@msp.example,"
        " due Thu 26 Nov 2026, 17:00 EST\n"
    ) in message.markdown
    assert "Upload the security report" not in message.markdown  # staging, done


def test_overdue_names_whom_to_tell_but_not_yourself() -> None:
    """A blocked technician is told who approves the phase; the approver is not told himself."""
    ctx = context("overdue")
    ctx["recipient"] = {"name": "Tina Tech", "email": "tina@msp.example"}
    assert "skip it with a reason. Blocked? Tell andy@msp.example." in (
        render("overdue", ctx).markdown
    )
    andy = render("overdue", context("overdue")).markdown
    assert "skip it with a reason.\n" in andy
    assert "Blocked?" not in andy


def test_approval_when_everything_is_done() -> None:
    """With the required tasks closed, the message says so instead of an empty list."""
    ctx = context("approval")
    for task in ctx["review"]["tasks"]:
        task["status"] = "done"
    assert "All required tasks of prep are done or skipped." in render("approval", ctx).markdown


def test_tasks_without_a_link_show_keys_and_the_command() -> None:
    """A technician without a link learns the task keys and the command to close them."""
    ctx = context("tasks")
    ctx["links"] = {"action": None, "run": None}
    message = render("tasks", ctx)
    assert "· `finalise-agenda`" in message.markdown
    assert "`xbr task done 42 <task> --as andy@msp.example`" in message.markdown


def test_one_task_is_singular() -> None:
    """One task reads as one task."""
    ctx = context("tasks")
    ctx["tasks"] = ctx["tasks"][:1]
    message = render("tasks", ctx)
    assert message.title.endswith("prep: 1 task for you")
    assert "Your task:" in message.markdown


def test_optional_task_is_marked() -> None:
    """An optional task says so."""
    ctx = context("tasks")
    ctx["tasks"][1]["required"] = False
    assert "17:00 EST (optional)" in render("tasks", ctx).markdown


def test_unassigned_task_names_the_role() -> None:
    """A task nobody holds yet shows the role that should."""
    ctx = context("consult")
    ctx["phase"] = "delivery"
    message = render("consult", ctx)
    assert "- **Add the meeting notes to the ticket** — unassigned (account manager)," in (
        message.markdown
    )
    # The gate is prep's: nobody approves delivery yet, so nobody is named.
    assert "Your input is wanted on the **delivery** phase of the Acme Law QBR 2026-Q4." in (
        message.markdown
    )


STEPS = [
    (
        "forward",
        _step("finish_prep", "prep", "delivery"),
        "prep → delivery",
        "approved prep: the Acme Law QBR 2026-Q4 is now in **delivery**.",
    ),
    (
        "reject",
        _step("reject", "prep", "prep", "Agenda misses the backup findings"),
        "prep sent back",
        "sent the prep phase of the Acme Law QBR 2026-Q4 back for rework.",
    ),
    (
        "reschedule",
        _step("reschedule", "staging", "scheduling"),
        "meeting rescheduled",
        "rescheduled the client meeting of the Acme Law QBR 2026-Q4; it is back in scheduling.",
    ),
    (
        "cancel",
        _step("cancel", "prep", "cancelled", "Client paused the contract"),
        "cancelled",
        "cancelled the Acme Law QBR 2026-Q4.",
    ),
    (
        "reopen",
        _step("reopen", "qa_review", "follow_up", "Summary not sent"),
        "reopened",
        "reopened the Acme Law QBR 2026-Q4: follow-up is open again.",
    ),
    (
        "close",
        _step("close", "qa_review", "closed"),
        "closed",
        "approved QA review: the Acme Law QBR 2026-Q4 is closed.",
    ),
]


@pytest.mark.parametrize(
    ("step", "suffix", "sentence"), [s[1:] for s in STEPS], ids=[s[0] for s in STEPS]
)
def test_informed_says_what_happened(step: dict[str, Any], suffix: str, sentence: str) -> None:
    """One line on what happened, by whom, and the reason given."""
    ctx = context("informed")
    ctx["step"] = step
    ctx["review"]["status"] = step["to"]
    message = render("informed", ctx)
    assert message.title == f"Acme Law · QBR 2026-Q4 · {suffix}"
    assert f"\nandy@msp.example {sentence}\n" in message.markdown
    if step["comment"]:
        assert f"\n> {step['comment']}\n" in message.markdown
        assert f"<blockquote>\n<p>{step['comment']}</p>\n</blockquote>" in message.html


@pytest.mark.parametrize(
    ("sequence", "status", "meeting", "title", "sentence"),
    [
        (
            0,
            "scheduled",
            MEETING,
            "meeting Mon 30 Nov 2026, 14:00 EST",
            "You are invited to the Acme Law QBR 2026-Q4 meeting on **Mon 30 Nov 2026, 14:00 EST**."
            " Accept the attached invitation to add it to your calendar.",
        ),
        (
            2,
            "scheduled",
            "2026-12-07T15:30:00+00:00",
            "meeting moved to Mon 7 Dec 2026, 10:30 EST",
            "The Acme Law QBR 2026-Q4 meeting has moved to **Mon 7 Dec 2026, 10:30 EST**."
            " Accept the attached update to move it in your calendar.",
        ),
        (
            3,
            "cancelled",
            MEETING,
            "meeting cancelled",
            "The Acme Law QBR 2026-Q4 meeting is cancelled."
            " The attached cancellation removes it from your calendar.",
        ),
    ],
    ids=["first", "moved", "cancelled"],
)
def test_invite(sequence: int, status: str, meeting: str, title: str, sentence: str) -> None:
    """First invitation, a moved meeting and a cancelled one read differently."""
    ctx = context("invite")
    ctx.update(sequence=sequence)
    ctx["review"].update(status=status, meeting_at=meeting)
    message = render("invite", ctx)
    assert message.title == f"Acme Law · QBR 2026-Q4 · {title}"
    assert message.markdown == f"Hi Carl,\n\n{sentence}\n"


def test_invite_follows_its_own_cancelled_flag() -> None:
    """An invitation marked cancelled says so even while the review still shows the meeting."""
    ctx = context("invite")
    ctx.update(sequence=4, cancelled=True)
    assert render("invite", ctx).title == "Acme Law · QBR 2026-Q4 · meeting cancelled"
    ctx.update(cancelled=False)
    assert render("invite", ctx).title.endswith("meeting moved to Mon 30 Nov 2026, 14:00 EST")


def test_a_comment_over_several_lines_is_one_quote() -> None:
    """Each line of a reason is quoted, so chat and email show one quote."""
    ctx = context("informed")
    ctx["step"] = _step("reject", "prep", "prep", "Agenda misses the backup findings.\nAdd them.")
    message = render("informed", ctx)
    assert "\n> Agenda misses the backup findings.\n> Add them.\n" in message.markdown
    assert "<blockquote>\n<p>Agenda misses the backup findings.\nAdd them.</p>" in message.html


def test_escalation_without_open_tasks_names_the_approver() -> None:
    """A phase whose tasks are done but stays put waits for a decision: say whose."""
    ctx = context("escalation")
    for task in ctx["review"]["tasks"]:
        task["status"] = "done"
    message = render("escalation", ctx)
    assert "it is waiting for a decision by andy@msp.example." in message.markdown
    assert "Holding it up" not in message.markdown


def test_test_message_needs_no_review() -> None:
    """`xbr notify test` can reach a person before any review exists."""
    message = render("test", {"recipient": VERA})
    assert message.title == "xbr test message: xbr can reach you"
    assert message.markdown.startswith("Hi Vera,")


@pytest.mark.parametrize(
    ("zone", "due", "meeting"),
    [
        ("America/New_York", "Thu 26 Nov 2026, 17:00 EST", "Mon 30 Nov 2026, 14:00 EST"),
        ("Europe/Berlin", "Thu 26 Nov 2026, 23:00 CET", "Mon 30 Nov 2026, 20:00 CET"),
        ("Asia/Tokyo", "Fri 27 Nov 2026, 07:00 JST", "Tue 1 Dec 2026, 04:00 JST"),
        ("UTC", "Thu 26 Nov 2026, 22:00 UTC", "Mon 30 Nov 2026, 19:00 UTC"),
    ],
)
def test_due_dates_and_meeting_in_the_clients_zone(zone: str, due: str, meeting: str) -> None:
    """Times are shown where the client is, with the zone's abbreviation, never as raw UTC."""
    ctx = context("tasks")
    ctx["zone"] = zone
    message = render("tasks", ctx)
    assert f"— due {due}" in message.markdown
    assert f"Client meeting: {meeting}." in message.markdown
    assert "+00:00" not in message.markdown


def test_summer_time_is_shown_as_such() -> None:
    """A due date in July reads EDT, in November EST."""
    assert local_time("2026-07-14T21:00:00+00:00", ZONE) == "Tue 14 Jul 2026, 17:00 EDT"
    assert local_time("2026-11-24T22:00:00+00:00", ZONE) == "Tue 24 Nov 2026, 17:00 EST"


def test_missing_dates_read_as_such() -> None:
    """A task with no due date yet, and a review with no meeting yet, say so."""
    ctx = context("tasks")
    ctx["review"]["meeting_at"] = None
    ctx["tasks"][0]["due"] = None
    message = render("tasks", ctx)
    assert "— due no date set" in message.markdown
    assert "Client meeting: not scheduled yet." in message.markdown


def test_html_escapes_data() -> None:
    """A <script> in a task title or markup in a client's name reaches the HTML only escaped."""
    ctx = context("tasks")
    ctx["tasks"][0]["title"] = "<script>alert('x')</script> the report"
    ctx["review"]["client"] = "Smith & Jones <b>LLP</b>"
    message = render("tasks", ctx)
    assert "<script>" not in message.html
    assert "<b>" not in message.html
    assert "&lt;script&gt;" in message.html
    assert "Smith &amp; Jones &lt;b&gt;LLP&lt;/b&gt; · QBR 2026-Q4" in message.html
    # Markdown carries the data escaped: chat shows it as text, never as HTML.
    assert r"\<script\>alert('x')\</script\> the report" in message.markdown
    assert message.title.startswith(r"Smith & Jones \<b\>LLP\</b\> · QBR")


def test_links_with_query_strings_survive_escaping() -> None:
    """An ampersand in a URL is escaped once in the href, not twice."""
    ctx = context("tasks")
    ctx["links"]["action"] = "https://xbr.msp.example/a?t=abc&csrf=def"
    message = render("tasks", ctx)
    assert 'href="https://xbr.msp.example/a?t=abc&amp;csrf=def"' in message.html
    assert "(https://xbr.msp.example/a?t=abc&csrf=def)" in message.markdown


def _drop(path: str) -> dict[str, Any]:
    ctx = context("approval")
    *parents, last = path.split(".")
    target: Any = ctx
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    del target[last]
    return ctx


@pytest.mark.parametrize(
    "path",
    [
        "zone",
        "recipient",
        "recipient.name",
        "links",
        "links.run",
        "phase",
        "review.client",
        "review.meeting_at",
        "review.gate",
        "review.tasks.3.due",
        "review.tasks.3.required",
    ],
)
def test_a_missing_key_fails_loudly(path: str) -> None:
    """StrictUndefined: a key the caller forgot is an error, never a blank in a sent message."""
    with pytest.raises(UndefinedError, match=f"'{path.split('.')[-1]}'"):
        render("approval", _drop(path))


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("test", "digest", "signin")])
def test_every_kind_needs_the_review(kind: str) -> None:
    """No kind but `test`, `digest` (of many reviews) and `signin` renders without its review."""
    ctx = context(kind)
    del ctx["review"]
    with pytest.raises(UndefinedError, match="'review' is undefined"):
        render(kind, ctx)


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("informed", "step"),
        ("escalation", "age_days"),
        ("escalation", "threshold_days"),
        ("invite", "sequence"),
        ("tasks", "tasks"),
        ("tasks", "zone"),
    ],
)
def test_kind_specific_keys_are_required(kind: str, key: str) -> None:
    """The extras a kind needs are checked like the common keys."""
    ctx = context(kind)
    del ctx[key]
    with pytest.raises(UndefinedError, match=f"'{key}'"):
        render(kind, ctx)


def test_unknown_kind_is_refused() -> None:
    """A kind that does not exist names the ones that do."""
    with pytest.raises(
        InvalidInput, match="unknown message kind 'nag'; use one of tasks, approval"
    ):
        render("nag", context("tasks"))


def test_the_approval_gives_the_approver_their_decision_code_for_the_resume_form() -> None:
    ctx = context("approval")
    ctx["links"]["code"] = "7KQ2M-XH4PB"
    message = render("approval", ctx)
    assert "Resume form asks for your decision code for this gate: **7KQ2M-XH4PB**" in (
        message.markdown
    )
    assert "<strong>7KQ2M-XH4PB</strong>" in message.html
    ctx["links"]["code"] = None  # not an approver of this gate: no code
    assert "decision code" not in render("approval", ctx).markdown


@pytest.mark.parametrize("kind", ["tasks", "consult", "assess", "approval", "invite", "plan"])
def test_a_step_folded_into_another_message_reads_after_its_first_paragraph(kind: str) -> None:
    """Someone informed of a step who gets another message from the same change reads the
    step there, with its comment quoted, below what that message is for."""
    ctx = context(kind)
    plain = render(kind, ctx).markdown
    ctx["step"] = _step("reject", "prep", "prep", "Agenda misses the backup findings.\nAdd them.")
    folded = render(kind, ctx).markdown
    said = "andy@msp.example sent the prep phase of the Acme Law QBR 2026-Q4 back for rework."
    assert said in folded
    assert said not in plain
    assert "\n> Agenda misses the backup findings.\n> Add them.\n" in folded
    first = plain.split("\n\n")[1]  # after the greeting: what the message is for
    assert folded.index(first) < folded.index(said)


def test_staging_tasks_carry_the_assessments_request() -> None:
    ctx = context("tasks")
    ctx.update(
        phase="staging",
        assess={"standards": ["nist-csf-2"], "items": 21, "open_required": 3, "carried": 0},
    )
    message = render("tasks", ctx)
    assert "assesses the client against nist-csf-2: 21 items." in message.markdown
    assert "**3** required items are still unanswered" in message.markdown
    assert "answers were carried" not in message.markdown


def test_what_the_psa_says_is_data_in_the_message() -> None:
    """A status and a member's name from the PSA reach the message escaped, never as markup."""
    ctx = context("psa")
    ctx["psa_status"] = "<img src=x onerror=alert(1)> **Done**"
    ctx["by"] = "[click](https://evil.example)"
    message = render("psa", ctx)
    assert "<img" not in message.html
    assert 'href="https://evil.example"' not in message.html
    assert r"\<img src=x onerror=alert(1)\> \*\*Done\*\*" in message.markdown
