"""My work over real HTTP: each signed-in person's gates, tasks and changes, one click from
the review; a client's contact their own client's reports."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from deploy.webapp import home
from notifications import links
from states import directory
from states.calendar.opening import start_review
from states.lifecycle.decisions import complete_task
from states.read import views
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.e2e.test_prefect_ui import CHROMIUM_ARGS, chromium  # noqa: F401
from tests.integration.conftest import serving
from tests.web_session import signed_in

ANDY, OLGA, CARL = "andy@msp.example", "olga@msp.example", "carl@client.example"
SCOPE = "confirm-qbr-scope"  # needed's one required task: Andy's


@dataclass
class App:
    url: str
    uow: UowFactory
    key: bytes
    review_id: int
    other_id: int

    def browser(self, email: str | None) -> httpx.Client:
        """A browser signed in as `email` (a stranger's for None)."""
        return signed_in(self.uow, self.key, self.url, email)


@pytest.fixture
def app(
    engine: Engine, uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> Iterator[App]:
    url = engine.url.render_as_string(hide_password=False)
    directory.assign_role(uow(), "Client qbr", "client_contact", CARL)
    with serving(tmp_path / "home", url, uow) as (settings, _):
        review_id = start_review(uow(), "Client qbr", catalog, actor="cli")
        other_id = start_review(uow(), "Client btr", catalog, actor="cli")
        key = links.load_key(settings.home, None)
        yield App(settings.page_url, uow, key, review_id, other_id)


def _words(response: httpx.Response) -> str:
    body = re.sub(r"<style.*?</style>", " ", response.text, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_my_work_lists_my_tasks_with_a_link_to_each_review(app: App) -> None:
    with app.browser(ANDY) as andy:
        page = andy.get("/")
    assert page.status_code == 200
    words = _words(page)
    assert "Your open tasks" in words
    assert "Confirm the QBR is due and check the agreement" in words
    assert f'href="/reviews/{app.review_id}#checklist"' in page.text


def test_the_accountable_person_finds_the_gate_ready_once_its_tasks_are_done(app: App) -> None:
    complete_task(app.uow(), app.review_id, SCOPE, ANDY)
    review = views.review_view(app.uow(), app.review_id)
    assert review.gate is not None
    decider = review.gate.eligible_approvers[0]
    with app.browser(decider) as person:
        page = person.get("/")
    assert f'href="/reviews/{app.review_id}#decision"' in page.text
    assert "ready to decide" in _words(page)


def test_what_changed_since_the_last_visit_leaves_out_my_own_steps(app: App) -> None:
    with app.browser(OLGA) as olga:
        first = _words(olga.get("/"))
        assert "Changed since last week" in first
        complete_task(app.uow(), app.review_id, SCOPE, ANDY)
        second = _words(olga.get("/"))
    assert "Changed since your last visit" in second
    assert "Andy Account: task done" in second
    assert "cli:" not in second  # the review's start came before Olga's last visit
    with app.browser(ANDY) as andy:
        assert "Andy Account: task done" not in _words(andy.get("/"))


def _seen_at(app: App, email: str) -> datetime | None:
    with app.uow() as work:
        return directory.person_by_email(work.session, email).seen_at


def test_a_long_list_shows_its_first_items_with_its_total_and_more_on_request(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each list shows its first STEP items and its total; "show more" opens that list alone
    with STEP more, up to MOST, and is no new visit: what changed since the last one stays
    (the steps set low, rather than reviews made by the hundred)."""
    monkeypatch.setattr(home, "STEP", 1)
    monkeypatch.setattr(home, "MOST", 2)
    gates = {f"/reviews/{i}#decision" for i in (app.review_id, app.other_id)}
    with app.browser(OLGA) as olga:
        page = olga.get("/")
        seen = _seen_at(app, OLGA)
        more = olga.get("/?more=gates&shown=2")
        seen_after = _seen_at(app, OLGA)
        odd = [olga.get(f"/?more=gates&shown={n}") for n in ("x", "²", "9" * 5000, "-1")]
        other = olga.get("/?more=everything")
    words = _words(page)
    assert "Waiting for your decision 2" in words  # the total
    assert len(gates & set(re.findall(r'href="([^"]*#decision)"', page.text))) == 1
    assert "and 1 more · show 1 more" in words
    assert 'href="/?more=gates&amp;shown=2#gates"' in page.text
    assert "Changed since" in words

    assert more.status_code == 200
    assert gates <= set(re.findall(r'href="([^"]*#decision)"', more.text))
    shown = _words(more)
    assert "show 1 more" not in shown  # MOST shown: no further step
    assert "Your open tasks" not in shown  # the list alone
    assert "Changed since" not in shown
    assert 'href="/">Back to My work' in more.text
    assert seen_after == seen  # not a visit: the next one still shows what changed

    for response in odd:  # anything but a number of items: the first STEP
        assert response.status_code == 200
        assert len(gates & set(re.findall(r'href="([^"]*#decision)"', response.text))) == 1
    assert "Changed since" in _words(other)  # no such list: My work


def test_a_client_contact_sees_their_own_clients_reports(app: App) -> None:
    with app.browser(CARL) as carl:
        page = carl.get("/")
    assert page.status_code == 200
    assert f'href="/reviews/{app.review_id}/report"' in page.text
    assert f"/reviews/{app.other_id}" not in page.text
    assert "Board" not in _words(page)


def test_a_name_of_200_letters_fits_the_header_of_a_phone(app: App, chromium: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    from tests.web_browser import fits, new_context, session_cookie

    long = "O" + "W" * 199  # the longest name xbr takes, in one word
    directory.add_person(app.uow(), long, "long@msp.example", ["ops_manager"])
    cookie = session_cookie(app.uow, app.key, "long@msp.example")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = new_context(browser, app.url, cookie, phone=True).new_page()
            page.goto("/", wait_until="load")
            expect(page.locator("header .who span")).to_have_attribute("title", long)
            expect(page.get_by_role("button", name="Sign out")).to_be_in_viewport()
            width, room = fits(page)
            assert width <= room, "the page scrolls sideways"
        finally:
            browser.close()
