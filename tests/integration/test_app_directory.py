"""Starting reviews, and the clients and people pages, over real HTTP on SQLite and PostgreSQL:
each change goes through the command line's services as the signed-in person; a refused
request answers 4xx with one line and changes nothing."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, select

from notifications import links
from states import directory
from states.store.models import AuditEntry, Client, Person, Review
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.integration.conftest import serving, snapshot
from tests.web_session import signed_in

VERA, ANDY, OLGA = "vera@msp.example", "andy@msp.example", "olga@msp.example"
SAM, CARL = "sam@msp.example", "carl@client.example"
NEW_YORK = "America/New_York"  # the staffed clients' zone (tests/conftest.py)


@dataclass
class App:
    """The web app on a staffed database, without a Prefect server."""

    url: str
    engine: Engine
    uow: UowFactory
    key: bytes

    def browser(self, email: str | None) -> httpx.Client:
        """A browser signed in as `email` (a stranger's for None)."""
        return signed_in(self.uow, self.key, self.url, email)

    def rows(self) -> dict[str, Any]:
        """Every row of every table but the sessions (each request may renew its own)."""
        rows = snapshot(self.engine.url.render_as_string(hide_password=False))
        return {table: found for table, found in rows.items() if table != "web_sessions"}


@pytest.fixture
def app(
    engine: Engine, uow: UowFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[App]:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)  # no Prefect: reviews start held
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    url = engine.url.render_as_string(hide_password=False)
    many = {"web_refusals_per_minute": 1_000_000}
    with serving(tmp_path / "home", url, uow, **many) as (settings, _):
        yield App(settings.page_url, engine, uow, links.load_key(settings.home, None))


def _words(response: httpx.Response) -> str:
    """The page as a person reads it: no style, no tags, one space between words."""
    text = re.sub(r"<style>.*?</style>", " ", response.text, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found[1]


def _refused(response: httpx.Response, status: int, *said: str) -> None:
    """The refusal page: its status, one line with what it names, and nothing changed."""
    assert response.status_code == status, response.text
    assert "Nothing was changed" in _words(response)
    assert 'class="card refused"' in response.text
    for words in said:  # the page shows a message's advice after "What to do:"
        shown = words.replace("; ", ". What to do: ")
        assert shown.lower() in _words(response).lower(), _words(response)


def _meeting(days: int, hour: int, zone: str) -> tuple[str, datetime]:
    """A future meeting as the page's datetime-local field sends it, and the moment it is."""
    day = (datetime.now(ZoneInfo(zone)) + timedelta(days=days)).date()
    local = datetime(day.year, day.month, day.day, hour, 30, tzinfo=ZoneInfo(zone))
    return local.strftime("%Y-%m-%dT%H:%M"), local.astimezone(UTC)


def test_a_coordinator_starts_a_review_held_when_no_prefect_answers(app: App) -> None:
    with app.browser(ANDY) as andy:
        empty = andy.get("/reviews/new")
        assert empty.status_code == 200
        assert '<option value="Client qbr">' in empty.text
        assert 'list="clients"' in empty.text
        chosen = andy.get("/reviews/new", params={"client": "client QBR"})  # any casing
        assert chosen.status_code == 200
        assert f"Meeting ({NEW_YORK} time)" in _words(chosen)
        types = re.findall(r'<option value="([^"]+)"( selected)?>', chosen.text)
        assert types[0] == ("qbr", " selected")  # the client's own first
        assert {name for name, _ in types} >= {"qbr", "btr", "ad-hoc"}
        sent, moment = _meeting(40, 10, NEW_YORK)
        form = {"csrf": _csrf(chosen), "client": "Client qbr", "type": "btr", "meeting": sent}
        started = andy.post("/reviews/new", data=form)
    assert started.status_code == 200, started.text
    with app.uow() as work:
        review = work.session.scalars(select(Review)).one()
        assert (review.client.name, review.type, review.template) == ("Client qbr", "btr", "btr")
        assert review.meeting_at == moment
        assert review.run_held
        assert review.flow_run_id is None
        start = work.session.scalars(
            select(AuditEntry).where(AuditEntry.review_id == review.id).order_by(AuditEntry.id)
        ).first()
        assert start is not None
        assert start.trigger == "start"
        assert (start.actor, start.via) == (ANDY, "web app, signed in by email link")
    page = _words(started)
    assert f"Review {review.id} started" in page
    assert "No Prefect server answered, so it waits without its flow run." in page
    assert f"Once Prefect runs (xbr up), give it its run with xbr review run {review.id}" in page
    assert f"<code>xbr review run {review.id}</code>" in started.text
    assert f'href="/reviews/{review.id}"' in started.text


def test_a_review_without_a_meeting_takes_the_clients_template(app: App) -> None:
    with app.browser(VERA) as vera:
        chosen = vera.get("/reviews/new?client=Client+trs")
        form = {"csrf": _csrf(chosen), "client": "Client trs", "type": "", "meeting": ""}
        assert vera.post("/reviews/new", data=form).status_code == 200
    with app.uow() as work:
        review = work.session.scalars(select(Review)).one()
        assert (review.template, review.meeting_at, review.run_held) == ("trs", None, True)


def test_who_is_no_coordinator_cannot_start_a_review(app: App) -> None:
    with app.browser(ANDY) as andy:
        csrf_form = andy.get("/reviews/new?client=Client+qbr")
    for email in (SAM, CARL):
        with app.browser(email) as someone:
            before = app.rows()
            _refused(someone.get("/reviews/new"), 403, "starting reviews is for coordinators")
            csrf = _csrf(someone.get("/"))
            before = app.rows()  # (My work remembers when they looked at it)
            form = {"csrf": csrf, "client": "Client qbr", "type": "qbr"}
            _refused(someone.post("/reviews/new", data=form), 403, "for coordinators")
            assert app.rows() == before
    assert "Start the review" in csrf_form.text
    with httpx.Client(base_url=app.url) as stranger:  # not signed in: the sign-in page
        answer = stranger.post("/reviews/new", data={"client": "Client qbr"})
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/?next=")


def test_bad_input_is_one_line_and_starts_nothing(app: App) -> None:
    far, _ = _meeting(4 * 366, 10, NEW_YORK)
    cases = [
        ({"meeting": "next tuesday"}, "meeting date on the page 'next tuesday' is not an ISO"),
        ({"meeting": "2020-01-06T10:00"}, f"2020-01-06T10:00 ({NEW_YORK} time) is in the past"),
        ({"meeting": far}, "is more than three years ahead"),
        ({"client": "Nobody Inc"}, "unknown client 'Nobody Inc'"),
        ({"client": ""}, "no client chosen"),
        ({"type": "quarterly-magic"}, "unknown template 'quarterly-magic'; use one of"),
    ]
    with app.browser(ANDY) as andy:
        csrf = _csrf(andy.get("/reviews/new?client=Client+qbr"))
        before = app.rows()
        for change, said in cases:
            form = {"csrf": csrf, "client": "Client qbr", "type": "qbr"} | change
            _refused(andy.post("/reviews/new", data=form), 400, said)
        _refused(andy.get("/reviews/new?client=Nobody+Inc"), 400, "unknown client 'Nobody Inc'")
        assert app.rows() == before
        form = {"csrf": csrf, "client": "Client qbr", "type": "qbr"}
        assert andy.post("/reviews/new", data=form).status_code == 200
        _refused(andy.post("/reviews/new", data=form), 400, "already has open qbr review")
    with app.uow() as work:
        assert len(work.session.scalars(select(Review)).all()) == 1


def test_a_forged_or_foreign_form_is_refused(app: App) -> None:
    with app.browser(ANDY) as andy, app.browser(VERA) as vera:
        veras = _csrf(vera.get("/clients"))
        before = app.rows()
        form = {"client": "Client qbr", "type": "qbr"}
        for csrf in ("forged", veras, ""):
            posted = andy.post("/reviews/new", data=form | {"csrf": csrf})
            _refused(posted, 403, "the form did not come from this page")
            posted = andy.post("/clients", data={"csrf": csrf, "name": "Forged"})
            _refused(posted, 403, "the form did not come from this page")
        own = _csrf(andy.get("/clients"))
        elsewhere = {"origin": "https://evil.example"}
        posted = andy.post("/reviews/new", data=form | {"csrf": own}, headers=elsewhere)
        _refused(posted, 403, "the request came from another site")
        assert app.rows() == before


def test_a_hostile_client_name_is_shown_as_text(app: App, catalog: dict[str, Template]) -> None:
    hostile = "<script>alert(1)</script> & Co"
    directory.add_client(app.uow(), hostile, "quarterly", "qbr", "Europe/Berlin", catalog)
    with app.browser(ANDY) as andy:
        for page in (
            andy.get("/clients"),
            andy.get("/reviews/new"),
            andy.get("/reviews/new", params={"client": hostile}),
            andy.get("/reviews/new", params={"client": hostile + "x"}),  # unknown: refused
        ):
            assert "<script>" not in page.text
            assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in page.text


def test_a_coordinator_adds_and_edits_a_client(app: App) -> None:
    with app.browser(ANDY) as andy:
        csrf = _csrf(andy.get("/clients"))
        added = andy.post(
            "/clients",
            data={
                "csrf": csrf, "name": "Acme Law", "cadence": "monthly", "template": "qbr",
                "timezone": "Europe/Berlin", "country": "de", "subdivision": "by",
                "first_review": "yes",
            },
        )  # fmt: skip
        assert added.status_code == 303
        with app.uow() as work:
            client = work.session.scalars(select(Client).where(Client.name == "Acme Law")).one()
            shown = (client.cadence, client.template, client.timezone)
            assert shown == ("monthly", "qbr", "Europe/Berlin")
            assert (client.country, client.subdivision) == ("DE", "BY")
            (first,) = work.session.scalars(select(Review).where(Review.client_id == client.id))
        assert added.headers["location"] == f"/clients?added={client.id}#client-{client.id}"
        page = _words(andy.get(added.headers["location"]))
        assert "Added Acme Law. Its first review is open" in page
        assert "DE/BY" in page

        edit = {"csrf": csrf, "do": "edit", "cadence": "quarterly", "template": "btr"}
        edit |= {"timezone": NEW_YORK, "country": "US", "subdivision": "NY"}
        assert andy.post(f"/clients/{client.id}", data=edit).status_code == 303
        assign = {"csrf": csrf, "do": "assign", "role": "vcio", "email": "SAM@msp.example"}
        saved = andy.post(f"/clients/{client.id}", data=assign)
        assert saved.headers["location"] == f"/clients?saved={client.id}#client-{client.id}"
        page = _words(andy.get(saved.headers["location"]))
        assert "Saved the changes to Acme Law" in page
        assert "vCIO: Sam Support" in page
    with app.uow() as work:
        edited = work.session.get(Client, client.id)
        assert edited is not None
        assert (edited.cadence, edited.template, edited.timezone) == ("quarterly", "btr", NEW_YORK)
        assert (edited.country, edited.subdivision) == ("US", "NY")
        assert [(a.role, a.person.email) for a in edited.assignments] == [("vcio", SAM)]
        assert work.session.get(Review, first.id) is not None


def test_bad_client_input_is_one_line_and_changes_nothing(app: App) -> None:
    with app.uow() as work:
        qbr = work.session.scalars(select(Client).where(Client.name == "Client qbr")).one().id
    new = {"name": "Acme", "cadence": "monthly", "template": "qbr", "timezone": "UTC"}
    adds = [
        ({"name": ""}, "a client needs a name; fill in its name"),
        ({"name": "Client qbr"}, "client 'Client qbr' exists already"),
        ({"cadence": "weekly"}, "unknown cadence 'weekly'; use one of"),
        ({"template": "nope"}, "unknown template 'nope'"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"country": "XX"}, "unknown country 'XX'"),
        ({"subdivision": "BY"}, "subdivision 'BY' needs its country; give its country too"),
    ]
    edits = [
        ({"do": "edit", "timezone": "Nowhere"}, "unknown time zone 'Nowhere'"),
        ({"do": "edit", "cadence": "hourly"}, "unknown cadence 'hourly'"),
        ({"do": "edit", "country": "DE", "subdivision": "ZZ"}, "country DE has no subdivision"),
        ({"do": "assign", "role": "wizard", "email": SAM}, "unknown role 'wizard'"),
        ({"do": "assign", "role": "vcio", "email": "x@y.example"}, "unknown person"),
        ({"do": "rename"}, "unknown change 'rename'"),
    ]
    with app.browser(ANDY) as andy:
        csrf = _csrf(andy.get("/clients"))
        before = app.rows()
        for change, said in adds:
            posted = andy.post("/clients", data={"csrf": csrf} | new | change)
            _refused(posted, 400, said)
        for change, said in edits:
            _refused(andy.post(f"/clients/{qbr}", data={"csrf": csrf} | change), 400, said)
        for wrong in ("99999", "abc", "9" * 40):
            posted = andy.post(f"/clients/{wrong}", data={"csrf": csrf, "do": "edit"})
            _refused(posted, 400, "open the Clients page again")
        assert app.rows() == before
    with app.browser(SAM) as sam:  # staff, no coordinator: sees the list, edits nothing
        page = sam.get("/clients")
        assert page.status_code == 200
        assert "Client qbr" in page.text
        assert "Add a client" not in page.text
        assert 'action="/clients/' not in page.text
        posted = sam.post("/clients", data={"csrf": _csrf(page)} | new)
        _refused(posted, 403, "adding and editing clients is for coordinators")
    with app.browser(CARL) as carl:  # a client's contact sees no other client
        _refused(carl.get("/clients"), 403, "this page is for the MSP's own people")
        _refused(carl.get("/people"), 403, "this page is for the MSP's own people")
    assert app.rows() == before


def test_a_people_manager_adds_and_edits_people(app: App) -> None:
    with app.browser(OLGA) as olga:
        csrf = _csrf(olga.get("/people"))
        added = olga.post(
            "/people",
            data={
                "csrf": csrf, "name": "Nora New", "email": " Nora@MSP.example ",
                "role": ["support_engineer", "intern"], "notify": "digest",
                "timezone": "Asia/Tokyo",
            },
        )  # fmt: skip
        assert added.status_code == 303
        with app.uow() as work:
            nora = work.session.scalars(
                select(Person).where(Person.email == "nora@msp.example")
            ).one()
            assert (nora.name, nora.roles) == ("Nora New", ["intern", "support_engineer"])
            assert (nora.notify, nora.timezone) == ("digest", "Asia/Tokyo")
        page = _words(olga.get(added.headers["location"]))
        assert "Added Nora New" in page
        assert "a daily digest · Asia/Tokyo" in page

        edit = {"csrf": csrf, "role": ["team_lead"], "notify": "immediate", "timezone": ""}
        assert olga.post(f"/people/{nora.id}", data=edit).status_code == 303
    with app.uow() as work:
        now = work.session.get(Person, nora.id)
        assert now is not None
        kept = (["team_lead"], "immediate", "Asia/Tokyo")  # an empty zone keeps theirs
        assert (now.roles, now.notify, now.timezone) == kept


def test_bad_people_input_is_one_line_and_changes_nothing(app: App) -> None:
    with app.uow() as work:
        people = {p.email: p.id for p in work.session.scalars(select(Person))}
    new = {"name": "Nora", "email": "nora@msp.example", "role": "intern", "notify": "immediate"}
    adds: list[tuple[dict[str, Any], str]] = [
        ({"email": "not an address"}, "is not an email address"),
        ({"email": SAM}, f"{SAM} is in xbr already"),
        ({"role": []}, "no role ticked; tick at least one role"),
        ({"role": ["intern", "wizard"]}, "unknown role 'wizard'"),
        ({"notify": "hourly"}, "unknown notify choice 'hourly'; use immediate or digest"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"name": " "}, "a person needs a name"),
    ]
    with app.browser(VERA) as vera:
        csrf = _csrf(vera.get("/people"))
        before = app.rows()
        for change, said in adds:
            _refused(vera.post("/people", data={"csrf": csrf} | new | change), 400, said)
        sams = f"/people/{people[SAM]}"
        _refused(vera.post(sams, data={"csrf": csrf, "role": []}), 400, "no role ticked")
        edit = {"csrf": csrf, "role": "intern", "timezone": "Nowhere"}
        _refused(vera.post(sams, data=edit), 400, "unknown time zone 'Nowhere'")
        _refused(vera.post("/people/0", data=edit), 400, "open the People page again")
        assert app.rows() == before
        # the CEO may hand on her role, not leave nobody to add people
        olgas = {"csrf": csrf, "role": "team_lead", "notify": "immediate"}
        assert vera.post(f"/people/{people[OLGA]}", data=olgas).status_code == 303
        before = app.rows()
        mine = {"csrf": csrf, "role": "vcio", "notify": "immediate"}
        _refused(
            vera.post(f"/people/{people[VERA]}", data=mine),
            400,
            "vera@msp.example is the last person holding ceo or ops_manager",
        )
        assert app.rows() == before
    with app.browser(ANDY) as andy:  # a coordinator, no people manager: sees, cannot add
        page = andy.get("/people")
        assert page.status_code == 200
        assert "Sam Support" in page.text
        assert "Add a person" not in page.text
        posted = andy.post("/people", data={"csrf": _csrf(page)} | new)
        _refused(posted, 403, "adding people and changing their roles is for")
        assert app.rows() == before


def test_the_people_page_shows_who_changed_people_and_clients(app: App) -> None:
    with app.uow() as work:
        qbr = work.session.scalars(select(Client).where(Client.name == "Client qbr")).one().id
    hostile = "<img src=x onerror=alert(1)> Nora"
    with app.browser(OLGA) as olga:
        csrf = _csrf(olga.get("/people"))
        new = {"csrf": csrf, "name": hostile, "email": "nora@msp.example", "role": "intern"}
        assert olga.post("/people", data=new).status_code == 303
        with app.uow() as work:
            nora = work.session.scalars(select(Person).where(Person.name == hostile)).one().id
        roles = {"csrf": csrf, "role": ["intern", "team_lead"], "notify": "immediate"}
        assert olga.post(f"/people/{nora}", data=roles).status_code == 303
    with app.browser(ANDY) as andy:
        csrf = _csrf(andy.get("/clients"))
        edit = {"csrf": csrf, "do": "edit", "cadence": "monthly"}
        assert andy.post(f"/clients/{qbr}", data=edit).status_code == 303
        # the same values again: no change, no row
        assert andy.post(f"/clients/{qbr}", data=edit).status_code == 303
        page = andy.get("/people")  # a coordinator gives no roles: the trail is not theirs
        assert "Latest changes" not in page.text
    with app.uow() as work:
        rows = work.session.scalars(
            select(AuditEntry).where(AuditEntry.trigger.like("directory%")).order_by(AuditEntry.id)
        ).all()
        trail = [(r.trigger, r.actor, r.via, r.review_id) for r in rows]
        by_olga = ("olga@msp.example", "web app, signed in by email link", None)
        assert trail[-3:] == [
            ("directory_person_added", *by_olga),
            ("directory_roles_set", *by_olga),
            ("directory_client_edited", "andy@msp.example", by_olga[1], None),
        ]
        assert rows[-2].comment == "nora@msp.example: intern, team_lead (were intern)"
        assert rows[-1].comment == "Client qbr: cadence quarterly -> monthly"
    with app.browser(OLGA) as olga:
        page = olga.get("/people")
        shown = _words(page)
        assert "Latest changes to people and clients" in shown
        assert "Client edited: Client qbr: cadence quarterly -> monthly" in shown
        assert "UTC · by andy@msp.example · web app, signed in by email link" in shown
        assert "Roles set: nora@msp.example: intern, team_lead (were intern)" in shown
        assert "<img src=x" not in page.text
        assert "&lt;img src=x onerror=alert(1)&gt; Nora &lt;nora@msp.example&gt;: intern" in (
            page.text
        )
