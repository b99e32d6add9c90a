"""The board page over real HTTP: the app `xbr web` serves, in a thread on a staffed SQLite
database with reviews in several phases, read with httpx and in headless Chromium.

The page must show what `board_view.board` gives, escaped, and only to whoever brings the board key.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from deploy.board_page import board_url
from deploy.webapp.auth import COOKIE, pack
from notifications import links
from notifications.messages import local_time
from states import directory
from states.access.sessions import EMAIL_LINK, open_session
from states.calendar.opening import start_review
from states.lifecycle.schedule import review_template
from states.notices.planning import set_age_warning
from states.read import board as board_view
from states.settings import Settings
from states.store.models import Review, utcnow
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.e2e.test_prefect_ui import ARTIFACTS, CHROMIUM_ARGS, chromium  # noqa: F401
from tests.integration.conftest import serving
from tests.team import walk

ODD = "<b>&x"  # a client name that breaks the page unless it is escaped
BERLIN = "Europe/Berlin"
PLACES = {"Client qbr": "prep", "Client btr": "prep", "Client trs": "staging", ODD: "needed"}


@dataclass
class Board:
    """A running page whose database has the reviews of PLACES, the ODD one stale and late."""

    url: str  # with the right key
    http: httpx.Client
    uow: UowFactory
    reviews: dict[str, int]  # client -> review id


def _fill(uow: UowFactory, catalog: dict[str, Template]) -> dict[str, int]:
    directory.add_client(uow(), ODD, "quarterly", "qbr", BERLIN, catalog)
    meeting = (utcnow() + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    reviews = {}
    for client, phase in PLACES.items():
        reviews[client] = start_review(uow(), client, catalog, meeting=meeting, actor="cli")
        walk(uow, reviews[client], phase)
    with uow() as work:  # forty days in `needed` (warns after 30), one task a day late
        review = work.session.get(Review, reviews[ODD])
        assert review is not None
        review.phase_entered_at -= timedelta(days=40)
        set_age_warning(review, review_template(review))
        task = next(t for t in review.tasks if t.phase == "needed")
        task.due_at = utcnow() - timedelta(days=1)
        work.commit()
    return reviews


@pytest.fixture
def board(
    sqlite_url: str, sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> Iterator[Board]:
    reviews = _fill(sqlite_uow, catalog)
    with serving(tmp_path / "home", sqlite_url, sqlite_uow) as (settings, client):
        yield Board(board_url(settings, sqlite_uow), client, sqlite_uow, reviews)


def _words(markup: str) -> str:
    """Markup as a person reads it: no tags, one space between words."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", markup)).split())


def _columns(page: str) -> dict[str, tuple[str, str]]:
    """phase -> (the column's class attribute, its markup)."""
    found = re.findall(r'<section class="([^"]+)" id="([a-z_]+)">(.*?)</section>', page, re.S)
    return {phase: (classes, body) for classes, phase, body in found}


def test_the_board_shows_each_column_with_its_cards_and_flags(board: Board) -> None:
    response = board.http.get(board.url)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["refresh"] == "60"
    page = response.text
    assert "<script" not in page
    assert "<title>Review board · xbr</title>" in page

    columns = _columns(page)
    expected = board_view.board(board.uow(), utcnow())
    assert list(columns) == [c["phase"] for c in expected]
    for column in expected:
        classes, body = columns[column["phase"]]
        limit = column["wip_limit"] if column["wip_limit"] is not None else "∞"
        assert f"{column['count']} / {limit}" in _words(body)
        assert ("full" in classes.split()) == (column["phase"] == "prep")
        for card in column["cards"]:
            assert f"#{card['id']}" in body
    placed = list(PLACES.values())
    assert {c["phase"]: c["count"] for c in expected} == {p: placed.count(p) for p in columns}

    prep = _words(columns["prep"][1])
    assert "Prep 2 / 2 Full" in prep
    assert "Client qbr" in prep
    assert "Client btr" in prep
    assert "Minimum 5: below it" in _words(columns["scheduled"][1])
    assert "No reviews." in _words(columns["delivery"][1])

    needed = columns["needed"][1]
    assert "&lt;b&gt;&amp;x" in needed
    assert "<b>&x" not in page
    odd = next(c for c in expected[0]["cards"] if c["client"] == ODD)
    meeting = local_time(odd["meeting_at"], BERLIN)
    assert meeting.endswith(("CET", "CEST"))
    words = _words(needed)
    assert f"QBR {odd['period'].upper()} Meeting: {meeting}" in words
    owner = odd["owners"][0]
    assert f"{odd['age_days']:g} days in needed Owner: {owner} 1 overdue task Age warning" in words
    assert "Age warning" not in prep
    assert "overdue" not in prep
    assert "EST" in prep or "EDT" in prep  # Client qbr meets in New York time


WRONG = "This board key is not this xbr's"


def test_the_board_refuses_a_missing_or_wrong_key(board: Board) -> None:
    other = links.board_token(b"the key of another installation of xbr")
    refused: list[tuple[dict[str, str], str]] = [
        ({}, "This address has no board key."),
        ({"key": ""}, "This address has no board key."),
        ({"key": "x" * 43}, WRONG),
        ({"key": "é"}, WRONG),
        ({"key": other}, WRONG),
        ({"key": board.url.partition("key=")[2][:-1]}, WRONG),
    ]
    for params, why in refused:
        response = board.http.get("/board", params=params)
        assert response.status_code == 403, params
        words = _words(response.text)
        assert why in words
        assert "or open the board address that `xbr board key` prints." in words
        assert "Client qbr" not in response.text
        assert "&lt;b&gt;" not in response.text


def test_the_board_in_chromium(board: Board, chromium: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 900})
            requests: list[str] = []
            errors: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.goto(board.url, wait_until="load")
            expect(page.locator("section.column")).to_have_count(8)
            expect(page.locator("section.column.full")).to_have_count(1)
            expect(page.locator("#needed article")).to_contain_text(ODD)
            needed, prep = (page.locator(f"#{p}").bounding_box() for p in ("needed", "prep"))
            assert needed
            assert prep
            assert needed["y"] == prep["y"], "side by side on a wide screen"
            page.screenshot(path=str(ARTIFACTS / "board.png"), full_page=True)

            phone = browser.new_page(viewport={"width": 390, "height": 800})
            phone.goto(board.url, wait_until="load")
            # stacked on a phone: nothing wider than the screen
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        finally:
            browser.close()
    assert requests == [board.url]
    assert errors == []


def test_a_rotated_board_key_ends_the_old_address_at_once(board: Board, tmp_path: Path) -> None:
    from states.lifecycle.link_uses import rotate_board_key

    assert board.http.get(board.url).status_code == 200
    rotate_board_key(board.uow())
    old = board.http.get(board.url)
    assert old.status_code == 403
    assert "it was rotated" in _words(old.text)
    new = board_url(Settings(home=tmp_path / "home", secret_key=""), board.uow)
    assert new != board.url
    assert board.http.get("/board?" + new.partition("?")[2]).status_code == 200


def test_signed_in_staff_see_the_board_in_the_app_with_links_to_each_review(
    board: Board, tmp_path: Path
) -> None:
    key = links.load_key(tmp_path / "home", None)
    session_id, secret = open_session(board.uow(), "olga@msp.example", EMAIL_LINK, utcnow(), 12)
    base = board.url.split("/board")[0]
    with httpx.Client(base_url=base) as browser:
        browser.cookies.set(COOKIE, pack(key, "session", session_id, secret))
        page = browser.get("/board")
        assert page.status_code == 200
        assert "aria-current=page>Board</a>" in page.text
        for review_id in board.reviews.values():
            assert f'href="/reviews/{review_id}"' in page.text
        assert "&lt;b&gt;&amp;x" in page.text
    contact_id, contact_secret = open_session(
        board.uow(), "carl@client.example", EMAIL_LINK, utcnow(), 12
    )
    with httpx.Client(base_url=base) as contact:  # a client's contact has no board
        contact.cookies.set(COOKIE, pack(key, "session", contact_id, contact_secret))
        assert contact.get("/board").status_code == 403
