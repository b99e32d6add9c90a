"""The client decides its plan on the plan page over real HTTP: the app `xbr web` serves, in a
thread on a staffed SQLite database whose QBR proposed initiatives and reached delivery, driven
in headless Chromium at phone width and with httpx.

The notice planned at delivery carries the client contact's signed plan link; the page takes one
set of decisions per link, each through `client_decides`, audited as the contact's and as the
plan page's; a replayed, forged or edited link, or one for someone who is not the client's
contact, decides nothing.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest
from sqlalchemy import select

from deploy.plan_page import VIA, offered
from notifications import links
from notifications.links import LinkClaims
from notifications.outbox import compose
from states import directory
from states.calendar.opening import start_review
from states.plans.fiscal import FiscalQuarter
from states.plans.initiatives import (
    CLIENT_MOVES,
    Cost,
    Draft,
    Move,
    Status,
    add_initiative,
    move_initiative,
)
from states.read.plans import APPROVED
from states.settings import Settings
from states.store.models import AuditEntry, Initiative, LinkUse, OutboxMessage, Review, utcnow
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.e2e.test_prefect_ui import CHROMIUM_ARGS, chromium  # noqa: F401
from tests.integration.conftest import serving
from tests.team import walk

CLIENT = "Client qbr"
CARL = "carl@client.example"  # the client's contact
VERA = "vera@msp.example"  # vCIO: shapes the plan
ANDY = "andy@msp.example"  # account manager: approves the delivery gate
SCREENSHOT = Path("/tmp/plan-page.png")
PHONE = {"width": 390, "height": 844}
DAY = 86400


@dataclass
class Site:
    """A running page on a staffed database, with the QBR of `CLIENT` in delivery and three
    initiatives it proposed."""

    http: httpx.Client
    uow: UowFactory
    key: bytes
    settings: Settings
    review_id: int
    ids: list[int]  # EDR rollout, Backup appliance, Firewall renewal

    def link(self, email: str = CARL, action: str = "plan", key: bytes | None = None) -> str:
        with self.uow() as work:
            review = work.session.get(Review, self.review_id)
            assert review is not None
            claims = LinkClaims(self.review_id, review.round, email, action, int(time.time()) + DAY)
        return links.sign(key or self.key, claims)

    def url(self, token: str) -> str:
        return str(self.http.base_url.join(f"/r/{quote(token, safe='')}"))

    def get(self, token: str) -> httpx.Response:
        return self.http.get(f"/r/{quote(token, safe='')}")

    def post(self, token: str, fields: list[tuple[str, str]]) -> httpx.Response:
        """The plan form as a browser sends it: urlencoded, with the link's csrf field."""
        body = urlencode([("csrf", links.csrf_token(self.key, token)), *fields])
        headers = {"content-type": "application/x-www-form-urlencoded"}
        return self.http.post(f"/r/{quote(token, safe='')}", content=body, headers=headers)

    def statuses(self) -> list[str]:
        """The initiatives' statuses as the client decided them: "approved" also once the
        approved work began (as the budget counts it)."""
        with self.uow() as work:
            rows = [work.session.get(Initiative, i) for i in self.ids]
            return ["approved" if Status(r.status) in APPROVED else r.status for r in rows if r]

    def decisions(self) -> list[tuple[int | None, str, str | None, str, str, str]]:
        """The audit rows of the initiatives' decisions: (id, trigger, new status, actor, via,
        comment)."""
        with self.uow() as work:
            rows = work.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.initiative_id.in_(self.ids))
                .where(AuditEntry.trigger.in_([f"initiative_{m.value}" for m in CLIENT_MOVES]))
                .order_by(AuditEntry.id)
            )
            return [
                (r.initiative_id, r.trigger, r.to_state, r.actor, r.via, r.comment) for r in rows
            ]

    def link_uses(self) -> int:
        with self.uow() as work:
            return len(work.session.scalars(select(LinkUse)).all())


def _propose(uow: UowFactory, review_id: int) -> list[int]:
    """Three initiatives the review proposes, one with markup in its why."""
    now_q = FiscalQuarter.of(utcnow().date(), 1)
    drafts = [
        Draft("EDR rollout", "Three laptops run no endpoint protection <script>alert(1)</script>",
              "endpoint_protection", "high", "vcio", now_q.next(),
              (Cost("one_time", Decimal("4800.00"), now_q.next()),
               Cost("recurring", Decimal("150.00"), now_q.next()))),
        Draft("Backup appliance", "Backups of the file server fail twice a month.",
              "backup_recovery", "medium", "vcio", now_q.next(2),
              (Cost("one_time", Decimal("12500.50"), now_q.next(2)),)),
        Draft("Firewall renewal", "The firewall's support ends this year.", "network", "low",
              "vcio", now_q.next(3), (Cost("recurring", Decimal("89.99"), now_q.next(3)),)),
    ]  # fmt: skip
    return [add_initiative(uow(), CLIENT, d, VERA, review_id=review_id) for d in drafts]


@pytest.fixture
def site(
    sqlite_url: str, sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> Iterator[Site]:
    directory.assign_role(sqlite_uow(), CLIENT, "client_contact", CARL)
    with serving(tmp_path / "home", sqlite_url, sqlite_uow) as (settings, client):
        meeting = (utcnow() + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
        review_id = start_review(sqlite_uow(), CLIENT, catalog, meeting=meeting, actor="cli")
        walk(sqlite_uow, review_id, "prep")
        ids = _propose(sqlite_uow, review_id)
        walk(sqlite_uow, review_id, "delivery")
        key = links.load_key(settings.home, None)
        yield Site(client, sqlite_uow, key, settings, review_id, ids)


def _words(markup: str) -> str:
    """Markup as a person reads it: no tags, one space between words."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", markup)).split())


def _said(response: httpx.Response) -> str:
    """What a page says, lowercase: a refusal's page starts its sentences in capitals."""
    return _words(response.text).lower()


def _plan_notices(site: Site) -> list[OutboxMessage]:
    with site.uow() as work:
        query = select(OutboxMessage).where(
            OutboxMessage.review_id == site.review_id, OutboxMessage.kind == "notice.plan"
        )
        return list(work.session.scalars(query))


def _gate_line(site: Site) -> str:
    """The plan's line on the delivery gate's approval page, as the account manager reads it."""
    page = _words(site.get(site.link(ANDY, "decide")).text)
    found = re.search(r"Plan: \d+ of \d+ initiatives decided by the client", page)
    assert found, page
    return found.group(0)


def test_the_client_decides_its_plan_on_a_phone_in_chromium(
    site: Site,
    chromium: Path,  # noqa: F811
) -> None:
    from playwright.sync_api import expect, sync_playwright

    (notice,) = _plan_notices(site)
    assert (notice.recipient, notice.payload["to_decide"]) == (CARL, 3)
    message, _ = compose(site.uow(), site.settings, site.key, notice.id)
    assert message.title.endswith("your plan: 3 initiatives to decide")
    assert "/runs/flow-run/" not in message.markdown
    found = re.search(r"\((http://[^)]+/r/[^)]+)\)", message.markdown)
    assert found, message.markdown
    url = found.group(1)
    assert links.verify(site.key, url.rsplit("/r/", 1)[1], utcnow()).action == "plan"
    assert _gate_line(site) == "Plan: 0 of 3 initiatives decided by the client"
    later = offered(1)[3].label  # the client's fiscal year starts in January

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=PHONE)
            errors: list[str] = []
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.goto(url, wait_until="load")
            expect(page.locator("h1")).to_have_text("Your plan")
            edr, backup, firewall = (page.locator(f"#initiative-{i}") for i in site.ids)
            expect(edr).to_contain_text("<script>alert(1)</script>")  # as text, not markup
            expect(edr).to_contain_text("USD 4,800.00")
            expect(edr).to_contain_text("USD 150.00")
            expect(backup).to_contain_text("USD 12,500.50")
            expect(page.locator("#budget tbody tr")).to_have_count(12)
            expect(page.locator("#budget tbody tr").first).to_contain_text("USD 0.00")
            quarters = firewall.get_by_label("Defer to quarter")
            expect(quarters.locator("option")).to_have_count(8)
            expect(quarters).to_be_hidden()  # until Defer is chosen
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

            edr.get_by_label("Approve", exact=True).check()
            edr.get_by_label("Comment (optional)").fill("Go ahead <b>now</b> & soon")
            backup.get_by_label("Decline", exact=True).check()
            firewall.get_by_label("Defer", exact=True).check()
            expect(quarters).to_be_visible()
            quarters.select_option(later)
            firewall.get_by_label("Comment (optional)").fill("Next budget year,\nplease")
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            page.get_by_role("button", name="Send my decisions").click()
            saved = page.locator("#saved")
            expect(saved.locator("h2")).to_have_text("Saved")
            expect(saved).to_contain_text("Approved: EDR rollout")
            expect(saved).to_contain_text("Declined: Backup appliance")
            expect(saved).to_contain_text(f"Deferred to {later}: Firewall renewal")
            expect(page.locator("input[type=radio], textarea, select")).to_have_count(0)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

            assert site.statuses() == ["approved", "declined", "deferred"]
            assert site.decisions() == [
                (site.ids[0], "initiative_approve", "approved", CARL, VIA,
                 f"initiative {site.ids[0]} (EDR rollout): Go ahead <b>now</b> & soon"),
                (site.ids[1], "initiative_decline", "declined", CARL, VIA,
                 f"initiative {site.ids[1]} (Backup appliance)"),
                (site.ids[2], "initiative_defer", "deferred", CARL, VIA,
                 f"initiative {site.ids[2]} (Firewall renewal): to {later}; Next budget year,\n"
                 "please"),
            ]  # fmt: skip
            assert _gate_line(site) == "Plan: 3 of 3 initiatives decided by the client"

            walk(site.uow, site.review_id, "follow_up")  # a new round: the plan link still shows
            page.goto(url, wait_until="load")
            expect(page.locator("#saved")).to_contain_text("You sent your decisions on")
            edr_now = re.compile(r"EDR rollout (Approved|In progress)")  # its work may begin
            expect(page.locator("#decided")).to_contain_text(edr_now)
            deferred = page.locator(f"#initiative-{site.ids[2]}")  # to decide again, later
            expect(deferred.locator(".badge")).to_have_text("Deferred")
            expect(deferred).to_contain_text(later)
            expect(page.locator("input[type=radio], textarea, select, button")).to_have_count(0)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        finally:
            browser.close()
    assert errors == []


def test_no_plan_notice_without_initiatives_to_decide(
    sqlite_uow: UowFactory, catalog: dict[str, Template]
) -> None:
    directory.assign_role(sqlite_uow(), CLIENT, "client_contact", CARL)
    meeting = (utcnow() + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    review_id = start_review(sqlite_uow(), CLIENT, catalog, meeting=meeting, actor="cli")
    walk(sqlite_uow, review_id, "delivery")
    with sqlite_uow() as work:
        kinds = work.session.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.review_id == review_id)
        ).all()
    assert "notice.plan" not in kinds
    assert "notice.invite" in kinds


def test_a_replayed_link_decides_nothing_more(site: Site) -> None:
    token = site.link()
    first = site.post(token, [(f"move:{site.ids[0]}", "approve")])
    assert first.status_code == 200, first.text
    assert "Approved: EDR rollout" in _words(first.text)
    again = site.post(token, [(f"move:{site.ids[1]}", "decline")])
    assert again.status_code == 403
    assert "this plan link was already used on" in _said(again)
    assert site.statuses() == ["approved", "proposed", "proposed"]
    assert [d[1] for d in site.decisions()] == ["initiative_approve"]
    shown = _words(site.get(token).text)
    assert "You sent your decisions on" in shown
    assert 'name="move:' not in site.get(token).text


def test_two_submits_of_one_link_at_once_one_wins(site: Site) -> None:
    token = site.link()
    forms = [
        [(f"move:{i}", "approve") for i in site.ids],
        [(f"move:{i}", "decline") for i in site.ids],
    ]
    start = threading.Barrier(2)
    codes: list[int] = []

    def send(fields: list[tuple[str, str]]) -> None:
        with httpx.Client(base_url=site.http.base_url, timeout=30) as http:
            body = urlencode([("csrf", links.csrf_token(site.key, token)), *fields])
            start.wait()
            response = http.post(
                f"/r/{quote(token, safe='')}", content=body,
                headers={"content-type": "application/x-www-form-urlencoded"},
            )  # fmt: skip
            codes.append(response.status_code)

    threads = [threading.Thread(target=send, args=(f,)) for f in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(codes) == [200, 403]
    assert len(set(site.statuses())) == 1  # all approved or all declined, never a mix
    assert len(site.decisions()) == 3
    assert site.link_uses() == 1


def test_a_decision_someone_made_first_is_a_note(site: Site) -> None:
    token = site.link()
    page = site.get(token).text
    assert f'name="move:{site.ids[0]}"' in page
    move_initiative(site.uow(), site.ids[0], Move.APPROVE, VERA, "agreed on the phone")
    response = site.post(token, [(f"move:{site.ids[0]}", "decline")])
    assert response.status_code == 409
    words = _words(response.text)
    assert "Nothing saved" in words
    assert "Decided by someone else before yours arrived, so not changed: EDR rollout" in words
    assert site.statuses() == ["approved", "proposed", "proposed"]
    assert [d[3] for d in site.decisions()] == [VERA]


def test_a_forged_or_edited_link_is_refused(site: Site) -> None:
    forged = site.link(key=b"another installation's key, 32+ chars long")
    good = site.link()
    payload, signature = good.split(".")
    edited = f"{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"
    for token in (forged, edited):
        assert site.get(token).status_code == 403
        response = site.post(token, [(f"move:{site.ids[0]}", "approve")])
        assert response.status_code == 403
        assert "this link is damaged or was not made by this xbr" in _said(response)
    assert site.statuses() == ["proposed"] * 3
    assert site.link_uses() == 0


def test_only_the_clients_contact_decides(site: Site) -> None:
    staff = site.link(ANDY)
    page = site.get(staff)
    assert page.status_code == 200
    assert "Only Client qbr's contacts decide its plan" in _words(page.text)
    assert 'name="move:' not in page.text
    response = site.post(staff, [(f"move:{site.ids[0]}", "approve")])
    assert response.status_code == 403
    assert f"{ANDY} is not a contact of {CLIENT}".lower() in _said(response)
    with site.uow() as work:
        refusal = work.session.scalars(
            select(AuditEntry).where(AuditEntry.trigger == "link-refused")
        ).one()
        assert (refusal.actor, refusal.via) == (ANDY, VIA)
    # a decide link for the gate opens the review, never the plan's form
    assert 'name="move:' not in site.get(site.link(ANDY, "decide")).text
    assert site.statuses() == ["proposed"] * 3
    assert site.link_uses() == 0


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ([("move:{0}", "defer"), ("defer:{0}", "FY1999-Q1")], "needs one of the quarters offered"),
        ([("move:{0}", "cancel")], "unknown decision on 'EDR rollout'"),
        ([("move:{0}", ""), ("comment:{0}", "hmm")], "has a comment but no decision"),
        ([("move:99999", "approve")], "initiative '99999' is not on Client qbr's plan"),
        ([("move:{0}", "approve"), ("comment:{0}", "\x1b[2J")], "holds a control character"),
    ],
)
def test_a_wrong_field_is_refused_and_leaves_the_link_unused(
    site: Site, fields: list[tuple[str, str]], why: str
) -> None:
    token = site.link()
    form = [(name.format(site.ids[0]), value) for name, value in fields]
    response = site.post(token, form)
    assert response.status_code == 403
    assert "Not saved" in response.text
    assert why.lower() in _said(response), _said(response)
    assert site.statuses() == ["proposed"] * 3
    assert site.link_uses() == 0
    assert site.post(token, [(f"move:{site.ids[0]}", "approve")]).status_code == 200
