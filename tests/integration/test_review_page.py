"""The web app's review page over real HTTP, as signed-in people: what each sees, ticking
tasks and deciding the gate as themselves, and every refusal leaving the review unchanged."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, select

from notifications import links
from states import directory
from states.calendar.opening import start_review
from states.lifecycle.decisions import complete_task
from states.read import views
from states.store.models import AuditEntry, Base, Person, utcnow
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.integration.conftest import serving
from tests.team import walk
from tests.web_session import signed_in

ANDY, VERA, IVAN, CARL = (
    "andy@msp.example",
    "vera@msp.example",
    "ivan@msp.example",
    "carl@client.example",
)
SCOPE = "confirm-qbr-scope"  # needed's one required task: Andy's (account manager)


@dataclass
class App:
    url: str
    uow: UowFactory
    engine: Engine
    key: bytes
    review_id: int
    other_id: int  # another client's review

    def browser(self, email: str | None) -> httpx.Client:
        """A browser signed in as `email` (a stranger's for None)."""
        return signed_in(self.uow, self.key, self.url, email)

    def post(
        self, browser: httpx.Client, review_id: int | None = None, **form: Any
    ) -> httpx.Response:
        """Send the review page's form as the page shows it, with `form`'s fields."""
        number = review_id or self.review_id
        page = browser.get(f"/reviews/{number}").text
        fields = dict(re.findall(r'type="hidden" name="(csrf|phase|round)" value="([^"]*)"', page))
        return browser.post(f"/reviews/{number}", data=fields | form)

    def snapshot(self) -> dict[str, list[str]]:
        """Every row of every table but the audit log and the sessions."""
        with self.engine.connect() as conn:
            return {
                t.name: sorted(map(repr, conn.execute(select(t)).all()))
                for t in Base.metadata.sorted_tables
                if t.name not in ("audit_log", "web_sessions")
            }


@pytest.fixture
def app(
    engine: Engine, uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> Iterator[App]:
    url = engine.url.render_as_string(hide_password=False)
    directory.assign_role(uow(), "Client qbr", "client_contact", CARL)
    with serving(tmp_path / "home", url, uow) as (settings, _):
        review_id = start_review(uow(), "Client qbr", catalog, actor="cli")
        other_id = start_review(uow(), "Client btr", catalog, actor="cli")
        yield App(
            settings.page_url, uow, engine, links.load_key(settings.home, None), review_id, other_id
        )


def _words(response: httpx.Response) -> str:
    body = re.sub(r"<style.*?</style>", " ", response.text, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_the_page_shows_the_review_and_its_checklist(app: App) -> None:
    with app.browser(VERA) as vera:
        page = vera.get(f"/reviews/{app.review_id}")
    assert page.status_code == 200
    words = _words(page)
    assert "Client qbr" in words
    assert "Needed" in words
    assert "Confirm the QBR is due and check the agreement" in words
    assert "Andy Account" in words  # assignees by name
    assert "Audit trail" in words
    assert f'href="/reviews/{app.review_id}/report"' in page.text


def test_an_assignee_ticks_a_task_as_themselves(app: App) -> None:
    with app.browser(ANDY) as andy:
        done = app.post(andy, task=SCOPE)
        assert done.status_code == 303
        assert done.headers["location"].startswith(f"/reviews/{app.review_id}?done=")
        assert "1 task done" in _words(andy.get(done.headers["location"]))
    review = views.review_view(app.uow(), app.review_id)
    task = review.task(SCOPE)
    assert task is not None
    assert (task.status, task.completed_by) == ("done", ANDY)
    with app.uow() as work:
        row = work.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.review_id == app.review_id)
            .order_by(AuditEntry.id.desc())
        ).first()
        assert row is not None
        assert row.actor == ANDY
        assert row.via == "web app, signed in by email link"


def test_the_accountable_person_decides_the_gate(app: App) -> None:
    walk(app.uow, app.review_id, "scheduling")
    review = views.review_view(app.uow(), app.review_id)
    assert review.gate is not None
    decider = review.gate.eligible_approvers[0]
    for task in review.tasks:
        if task.phase == "scheduling" and task.status == "open":
            complete_task(app.uow(), app.review_id, task.key, task.assignee)
    with app.browser(decider) as person:
        page = person.get(f"/reviews/{app.review_id}")
        assert "Your decision on the scheduling gate" in _words(page)
        with app.uow() as work:
            name = work.session.scalar(select(Person.name).where(Person.email == decider))
        assert f"{name} (you)" in _words(page)  # beside their own name among the deciders
        day = (utcnow() + timedelta(days=60)).date()
        done = app.post(person, decision="approve", meeting=f"{day}T10:00")
        assert done.status_code == 303, _words(done)
    after = views.review_view(app.uow(), app.review_id)
    assert after.status == "scheduled"
    assert after.meeting_at is not None
    local = after.meeting_at.astimezone(ZoneInfo("America/New_York"))
    assert (local.date(), local.hour, local.minute) == (day, 10, 0)  # the client's time


def test_someone_without_the_role_cannot_decide(app: App) -> None:
    before = app.snapshot()
    with app.browser(IVAN) as ivan:
        seen = _words(ivan.get(f"/reviews/{app.review_id}"))
        assert "Your decision" not in seen
        assert "(you)" not in seen
        refused = app.post(ivan, decision="approve")
    assert refused.status_code == 403
    assert "Nothing was changed" in _words(refused)
    assert app.snapshot() == before


def test_a_decision_on_a_gate_that_moved_on_is_refused(app: App) -> None:
    with app.browser(ANDY) as andy:
        page = andy.get(f"/reviews/{app.review_id}").text
        fields = dict(re.findall(r'type="hidden" name="(csrf|phase|round)" value="([^"]*)"', page))
        walk(app.uow, app.review_id, "scheduling")  # someone else moved it meanwhile
        before = app.snapshot()
        late = andy.post(
            f"/reviews/{app.review_id}", data=fields | {"decision": "cancel", "comment": "x"}
        )
    assert late.status_code == 409
    assert "already decided" in _words(late)
    assert app.snapshot() == before


def test_a_forged_form_is_refused(app: App) -> None:
    before = app.snapshot()
    with app.browser(ANDY) as andy:
        forged = andy.post(
            f"/reviews/{app.review_id}",
            data={"csrf": "x", "phase": "needed", "round": "0", "task": SCOPE},
        )
        cross = andy.post(
            f"/reviews/{app.review_id}",
            data={"phase": "needed", "round": "0", "task": SCOPE},
            headers={"Origin": "https://evil.example"},
        )
    assert forged.status_code == 403
    assert cross.status_code == 403
    assert app.snapshot() == before


def test_a_form_without_its_gate_is_refused(app: App) -> None:
    before = app.snapshot()
    with app.browser(ANDY) as andy:
        refused = app.post(andy, task=SCOPE, phase="elsewhere")
    assert refused.status_code == 400
    assert app.snapshot() == before


def test_a_client_contact_sees_their_own_clients_report_only(app: App) -> None:
    with app.browser(CARL) as carl:
        own = carl.get(f"/reviews/{app.review_id}")
        assert own.status_code == 303
        assert own.headers["location"] == f"/reviews/{app.review_id}/report"
        assert carl.get(own.headers["location"]).status_code == 200
        other = carl.get(f"/reviews/{app.other_id}")
        assert other.status_code == 403
        assert "another client's" in _words(other)
        assert carl.get(f"/reviews/{app.other_id}/report").status_code == 403
        before = app.snapshot()
        assert app.post(carl, task=SCOPE).status_code == 403
        assert app.snapshot() == before


@pytest.mark.parametrize("number", ["999999", "abc", "0", "99999999999999999999"])
def test_an_unknown_review_is_404(app: App, number: str) -> None:
    with app.browser(VERA) as vera:
        assert vera.get(f"/reviews/{number}").status_code == 404


def test_a_stranger_is_sent_to_sign_in_and_back(app: App) -> None:
    with httpx.Client(base_url=app.url) as stranger:
        response = stranger.get(f"/reviews/{app.review_id}")
        assert response.status_code == 303
        assert response.headers["location"] == f"/?next=%2Freviews%2F{app.review_id}"
        assert stranger.post(f"/reviews/{app.review_id}", data={"task": SCOPE}).status_code == 303
