"""The plan on the approval page over real HTTP: in prep, the client's vCIO or account manager
edits, drops, merges and adds initiatives through their signed link; anyone else sees no plan
section, and a plan field they send is refused and changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from states.plans.fiscal import FiscalQuarter
from states.plans.initiatives import Cost, Draft, add_initiative
from states.read.plans import InitiativeView, roadmap
from states.store.models import AuditEntry
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.e2e.test_prefect_ui import CHROMIUM_ARGS, chromium  # noqa: F401
from tests.integration.conftest import serving, snapshot
from tests.integration.test_assessment_page import PHONE, Site, _words
from tests.team import walk

VERA = "vera@msp.example"  # the vCIO: a planner
ANDY = "andy@msp.example"  # the account manager: a planner
SAM = "sam@msp.example"  # support engineer: no planner
CLIENT = "Client qbr"
Q3 = FiscalQuarter(2027, 3)


@pytest.fixture
def site(
    sqlite_url: str, sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> Iterator[Site]:
    from notifications import links

    with serving(tmp_path / "home", sqlite_url, sqlite_uow) as (settings, client):
        yield Site(client, sqlite_uow, links.load_key(settings.home, None), catalog)


def _in_prep(site: Site, titles: list[str]) -> tuple[int, dict[str, int]]:
    """A review in prep, and initiatives of these titles it proposed, by title."""
    review_id = site.staged()
    walk(site.uow, review_id, "prep")
    ids = {
        title: add_initiative(
            site.uow(),
            CLIENT,
            Draft(title, "because", costs=(Cost("one_time", Decimal(1000), Q3),)),
            VERA,
            review_id=review_id,
        )  # fmt: skip
        for title in titles
    }
    return review_id, ids


def _plan(site: Site) -> dict[int, InitiativeView]:
    return {v.id: v for v in roadmap(site.uow(), CLIENT).initiatives}


def _trail(site: Site, initiative_id: int) -> list[tuple[str, str, str]]:
    with site.uow() as work:
        rows = work.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.initiative_id == initiative_id)
            .order_by(AuditEntry.id)
        )
        return [(r.trigger, r.actor, r.via) for r in rows]


def _page_fields(page: str) -> list[tuple[str, str]]:
    """The plan section's fields as the page fills them, as a browser would send them back."""
    fields = re.findall(r'<input type="text" id="[^"]+" name="(plan-[^"]+)" value="([^"]*)"', page)
    fields += re.findall(r'<textarea id="[^"]+" name="(plan-[^"]+)"[^>]*>([^<]*)</textarea>', page)
    for name, options in re.findall(r'<select id="[^"]+" name="(plan-[^"]+)">(.*?)</select>',
                                    page, re.S):  # fmt: skip
        fields += [(name, re.search(r'value="([^"]*)" selected', options)[1])]  # type: ignore[index]
    return fields


def test_a_planner_edits_drops_merges_and_adds_through_the_page(site: Site) -> None:
    review_id, ids = _in_prep(site, ["Backup", "MFA", "Firewall", "Firewall rules", "Old NAS"])
    vera = site.link(review_id, VERA)
    page = site.get(vera)
    assert 'id="plan-editing"' in page
    fields = dict(_page_fields(page))
    assert fields[f"plan-once:{ids['Backup']}"] == "1000.00@FY2027-Q3"

    # the page sent back as it stands changes nothing
    response = site.post(vera, list(fields.items()))
    assert "Nothing to save" in _words(response.text), _words(response.text)

    fields |= {
        f"plan-title:{ids['Backup']}": "Offsite backup",
        f"plan-quarter:{ids['MFA']}": "FY2027-Q4",
        f"plan-drop:{ids['Old NAS']}": "yes",
        f"plan-reason:{ids['Old NAS']}": "retired last month",
        f"plan-merge:{ids['Firewall rules']}": str(ids["Firewall"]),
        "plan-new-title": "Security awareness training",
        "plan-new-priority": "high",
        "plan-new-quarter": "FY2028-Q1",
        "plan-new-once": "2500@FY2028-Q1, 500@FY2028-Q2",
    }
    response = site.post(vera, list(fields.items()))
    assert response.status_code == 200, _words(response.text)
    words = _words(response.text)
    for said in (
        "Edited 'Backup': title",
        "Edited 'MFA': quarter",
        "Merged 'Firewall rules' into 'Firewall'",
        "Dropped 'Old NAS': retired last month",
        "Added 'Security awareness training'",
    ):
        assert said in words, words

    plan = _plan(site)
    assert plan[ids["Backup"]].title == "Offsite backup"
    assert plan[ids["MFA"]].quarter == "FY2027-Q4"
    assert plan[ids["Old NAS"]].status == "cancelled"
    assert plan[ids["Firewall rules"]].status == "cancelled"
    assert plan[ids["Firewall"]].one_time == Decimal("2000.00")
    added = next(v for v in plan.values() if v.title == "Security awareness training")
    assert (added.priority, added.quarter, added.one_time, added.review_id) == (
        "high", "FY2028-Q1", Decimal("3000.00"), review_id,
    )  # fmt: skip

    via = "approval page, signed link"
    assert _trail(site, ids["Backup"])[-1] == ("initiative_edited", VERA, via)
    assert _trail(site, ids["MFA"])[-1] == ("initiative_edited", VERA, via)
    assert _trail(site, ids["Old NAS"])[-1] == ("initiative_cancel", VERA, via)
    assert _trail(site, ids["Firewall rules"])[-1] == ("initiative_merged", VERA, via)
    assert _trail(site, ids["Firewall"])[-1] == ("initiative_merged", VERA, via)
    assert _trail(site, added.id) == [("initiative_added", VERA, via)]

    # the account manager plans too; closed initiatives leave the section
    page = site.get(site.link(review_id, ANDY))
    assert 'id="plan-editing"' in page
    assert f'id="initiative-{ids["Old NAS"]}"' not in page
    assert f'id="initiative-{added.id}"' in page


def test_a_non_planner_sees_no_plan_and_a_forged_plan_field_changes_nothing(
    site: Site, sqlite_url: str
) -> None:
    review_id, ids = _in_prep(site, ["Backup", "MFA"])
    sam = site.link(review_id, SAM)
    assert 'id="plan-editing"' not in site.get(sam)
    assert "plan-title:" not in site.get(sam)
    for form in (
        [(f"plan-title:{ids['Backup']}", "Hijacked")],
        [("plan-new-title", "Not yours")],
        [(f"plan-drop:{ids['MFA']}", "yes"), (f"plan-reason:{ids['MFA']}", "no")],
    ):
        before = snapshot(sqlite_url)
        response = site.post(sam, form)
        assert response.status_code == 403, form
        assert "may not change this client's plan here" in _words(response.text)
        after = snapshot(sqlite_url)
        # only the refusal's own audit row
        assert {k: v for k, v in after.items() if k != "audit_log"} == {
            k: v for k, v in before.items() if k != "audit_log"
        }
    assert [v.title for v in _plan(site).values()] == ["Backup", "MFA"]


def test_a_wrong_field_refuses_the_whole_form(site: Site) -> None:
    review_id, ids = _in_prep(site, ["Backup", "MFA"])
    vera = site.link(review_id, VERA)
    cases = [
        ([(f"plan-quarter:{ids['MFA']}", "next year")], "is not a fiscal quarter"),
        ([(f"plan-drop:{ids['MFA']}", "yes")], "needs a reason"),
        ([(f"plan-once:{ids['MFA']}", "lots")], "is not a cost line"),
        ([(f"plan-merge:{ids['MFA']}", str(ids["MFA"]))], "only into another open"),
        ([("plan-new-why", "no title")], "needs a title"),
    ]
    for form, why in cases:
        # a good edit alongside: saved only if the whole form holds
        fields = [(f"plan-title:{ids['Backup']}", "Offsite backup"), *form]
        response = site.post(vera, fields)
        assert response.status_code == 403, form
        assert why in _words(response.text), _words(response.text)
        assert {v.title for v in _plan(site).values()} == {"Backup", "MFA"}
        assert all(v.status == "proposed" for v in _plan(site).values())


def test_the_plan_section_fits_a_phone_in_chromium(site: Site, chromium: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    review_id, ids = _in_prep(site, ["Backup with a rather long title for a phone", "MFA"])
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=PHONE)
            page.goto(site.url(site.link(review_id, VERA)), wait_until="load")
            section = page.locator("#plan-editing")
            expect(section.locator("fieldset.initiative")).to_have_count(2)
            expect(section.get_by_label("Title").first).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            page.screenshot(path="/tmp/plan-editing.png", full_page=True)
            section.get_by_label("Quarter").nth(1).fill("FY2027-Q4")
            page.get_by_role("button", name="Save", exact=True).click()
            expect(page.locator("h1")).to_have_text("Saved")
        finally:
            browser.close()
    assert _plan(site)[ids["MFA"]].quarter == "FY2027-Q4"
