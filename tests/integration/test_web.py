"""The approval page over real HTTP: uvicorn in a thread on the test database, driven by httpx.

Every refused request must answer 403 with a page that says why, and leave exactly one new
audit row and no other change in the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import random
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, select

from deploy.web import start_in_thread
from deploy.webapp.forms import MAX_FORM_BYTES
from notifications import links
from notifications.links import LinkClaims
from notifications.messages import local_time
from states.calendar.opening import start_review
from states.errors import XbrError
from states.read import views
from states.settings import Settings
from states.store.models import AuditEntry, Base, Decision, LinkUse, Review
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.integration.conftest import serving

ANDY, OLGA, SAM = "andy@msp.example", "olga@msp.example", "sam@msp.example"
SCOPE = "confirm-qbr-scope"  # needed's one required task: Andy's (account manager)
DAY = 86400


@dataclass
class Site:
    """A running approval page on a staffed database with one QBR review in `needed`."""

    url: str
    http: httpx.Client
    engine: Engine
    uow: UowFactory
    key: bytes
    review_id: int

    def link(
        self, email: str, action: str = "tasks", key: bytes | None = None, **change: Any
    ) -> str:
        """A token for the review's current round, valid for a day, with `change` applied."""
        claims: dict[str, Any] = {
            "review_id": self.review_id,
            "round": self.round(),
            "email": email,
            "action": action,
            "expires_at": int(time.time()) + DAY,
        } | change
        return links.sign(key or self.key, LinkClaims(**claims))

    def round(self) -> int:
        with self.uow() as work:
            review = work.session.get(Review, self.review_id)
            assert review is not None
            return review.round

    def review(self) -> dict[str, Any]:
        return views.review_view(self.uow(), self.review_id).to_json()

    def get(self, token: str) -> httpx.Response:
        return self.http.get(f"/r/{quote(token, safe='')}")

    def post(
        self, token: str, headers: dict[str, str] | None = None, **form: Any
    ) -> httpx.Response:
        """Submit the page's form; the right csrf field unless `csrf` is given."""
        fields = {"csrf": links.csrf_token(self.key, token)} | form
        return self.http.post(f"/r/{quote(token, safe='')}", data=fields, headers=headers)

    def snapshot(self) -> tuple[dict[str, list[str]], list[Any]]:
        """Every row of every table but the audit log, and the audit log in order."""
        with self.engine.connect() as conn:
            rows = {
                table.name: sorted(map(repr, conn.execute(select(table)).all()))
                for table in Base.metadata.sorted_tables
                if table.name != "audit_log"
            }
            audit = list(conn.execute(select(AuditEntry.__table__).order_by("id")).all())
        return rows, audit

    def refused(
        self,
        response: httpx.Response,
        before: tuple[dict[str, list[str]], list[Any]],
        why: str,
        actor: str,
        review_id: int | None,
    ) -> None:
        """403, the reason on the page and in one new audit row (none for a link xbr did not
        sign: its "unknown" actor is only counted), and nothing else changed."""
        assert response.status_code == 403, response.text
        assert why.lower() in _words(response).lower()
        rows, audit = self.snapshot()
        assert rows == before[0]
        assert audit[: len(before[1])] == before[1]
        if actor == "unknown":
            assert audit == before[1]
            return
        (row,) = audit[len(before[1]) :]
        assert (row.trigger, row.actor, row.review_id) == ("link-refused", actor, review_id)
        assert why.lower() in row.comment.lower()


def _site(
    engine: Engine,
    uow: UowFactory,
    catalog: dict[str, Template],
    tmp_path: Path,
    **limits: int,
) -> Iterator[Site]:
    url = engine.url.render_as_string(hide_password=False)
    with serving(tmp_path / "home", url, uow, **limits) as (settings, client):
        review_id = start_review(uow(), "Client qbr", catalog, actor="cli")
        key = links.load_key(settings.home, None)
        yield Site(settings.page_url, client, engine, uow, key, review_id)


@pytest.fixture
def site(
    sqlite_engine: Engine, sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> Iterator[Site]:
    """The page on SQLite."""
    yield from _site(sqlite_engine, sqlite_uow, catalog, tmp_path)


@pytest.fixture
def patient_site(
    sqlite_engine: Engine, sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> Iterator[Site]:
    """The page on SQLite, answering 403 (not 429) to thousands of refused requests a minute."""
    yield from _site(
        sqlite_engine, sqlite_uow, catalog, tmp_path, web_refusals_per_minute=1_000_000
    )


@pytest.fixture
def any_site(
    engine: Engine, uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> Iterator[Site]:
    """The page on SQLite and on PostgreSQL."""
    yield from _site(engine, uow, catalog, tmp_path)


def _text(response: httpx.Response) -> str:
    return html.unescape(response.text)


def _words(response: httpx.Response) -> str:
    """The page as a person reads it: no tags, one space between words."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", response.text)).split())


def test_healthz_and_headers(site: Site) -> None:
    response = site.http.get("/healthz")
    assert (response.status_code, response.text) == (200, "ok")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "same-origin"


def test_page_shows_review_phase_and_checklist(site: Site) -> None:
    response = site.get(site.link(ANDY))
    page = _text(response)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<script" not in page
    assert "Client qbr · QBR" in page
    assert "<h1>Needed</h1>" in page
    task = next(t for t in site.review()["tasks"] if t["key"] == SCOPE)
    assert task["title"] in page
    assert f'name="task" value="{SCOPE}"' in page
    due = local_time(task["due"], "America/New_York")
    assert due in page
    assert due.endswith(("EST", "EDT"))
    assert 'name="decision"' not in page, "a tasks link shows no decision form"
    assert "Andy Account" in page

    page = _text(site.get(site.link(OLGA, "decide")))
    assert 'value="approve"' in page
    assert 'value="reject"' in page
    assert 'value="reschedule"' not in page, "needed cannot be rescheduled"
    assert "Still open:" in page


def test_page_escapes_data(site: Site) -> None:
    with site.uow() as work:
        review = work.session.get(Review, site.review_id)
        assert review is not None
        review.tasks[0].title = "<script>alert(1)</script>"
        work.commit()
    page = site.get(site.link(ANDY)).text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_tick_then_approve_advances_the_review(any_site: Site) -> None:
    site = any_site
    andy, olga = site.link(ANDY), site.link(OLGA, "decide")
    response = site.post(andy, task=SCOPE)
    assert response.status_code == 200, response.text
    assert "Done: Confirm the QBR is due" in _words(response)
    task = next(t for t in site.review()["tasks"] if t["key"] == SCOPE)
    assert (task["status"], task["completed_by"]) == ("done", ANDY)
    assert site.review()["status"] == "needed"

    response = site.post(olga, decision="approve", comment="go ahead")
    assert response.status_code == 200, response.text
    assert "The review is now in scheduling." in _words(response)
    review = site.review()
    assert (review["status"], review["round"]) == ("scheduling", 1)
    with site.uow() as work:
        decision = work.session.scalars(select(Decision)).one()
        assert (decision.decision, decision.actor, decision.comment) == (
            "approve",
            OLGA,
            "go ahead",
        )
        assert work.session.get(LinkUse, links.digest(olga)) is not None

    before = site.snapshot()
    site.refused(site.get(andy), before, "now in scheduling", ANDY, site.review_id)
    before = site.snapshot()
    response = site.post(olga, decision="approve")
    site.refused(response, before, "already used", OLGA, site.review_id)


def test_reject_with_comment_keeps_the_phase_and_starts_a_round(any_site: Site) -> None:
    site = any_site
    response = site.post(site.link(OLGA, "decide"), decision="reject", comment="scope unclear")
    assert response.status_code == 200, response.text
    assert "sent back for rework" in _text(response)
    review = site.review()
    assert (review["status"], review["round"]) == ("needed", 1)
    assert any(
        a["trigger"] == "reject" and a["comment"] == "scope unclear" for a in review["audit"]
    )
    with site.uow() as work:
        decision = work.session.scalars(select(Decision)).one()
        assert (decision.decision, decision.comment) == ("reject", "scope unclear")


def test_meeting_date_from_the_page_then_reschedule(site: Site) -> None:
    _ticked(site)
    assert site.post(site.link(OLGA, "decide"), decision="approve").status_code == 200
    olga = site.link(OLGA, "decide")  # scheduling: Olga (exec assistant) has both tasks
    page = _text(site.get(olga))
    assert 'type="datetime-local" name="meeting"' in page
    assert "Meeting date and time (America/New_York)" in page
    meeting = (datetime.now(UTC) + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    tasks = ["schedule-qbr", "ask-client-for-topics"]
    response = site.post(olga, task=tasks, decision="approve", meeting=meeting)
    assert response.status_code == 200, response.text
    review = site.review()
    assert review["status"] == "scheduled"
    local = datetime.fromisoformat(review["meeting_at"]).astimezone(ZoneInfo("America/New_York"))
    assert local.strftime("%Y-%m-%dT%H:%M") == meeting, "the date is read in the client's zone"

    later = (datetime.now(UTC) + timedelta(weeks=8)).strftime("%Y-%m-%dT09:30")
    olga = site.link(OLGA, "decide")
    assert 'value="reschedule"' in _text(site.get(olga))
    response = site.post(olga, decision="reschedule", meeting=later, comment="client asked")
    assert response.status_code == 200, response.text
    assert "The review is now in scheduling." in _words(response)
    assert site.review()["meeting_at"] != review["meeting_at"]


def test_service_refusal_is_a_403_with_its_message_and_no_change(site: Site) -> None:
    before = site.snapshot()
    response = site.post(site.link(OLGA, "decide"), decision="reject", comment="  ")
    site.refused(response, before, "reject needs a reason", OLGA, site.review_id)
    assert "Not saved" in response.text


TEXT = {"content-type": "text/plain"}
OTHER_KEY = bytes(range(32)).hex().encode()
Case = Callable[[Site], tuple[httpx.Response, str, str, int | None]]


def _tampered(site: Site) -> tuple[httpx.Response, str, str, int | None]:
    payload, _, signature = site.link(OLGA, "decide").partition(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["email"] = ANDY
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return site.get(f"{forged}.{signature}"), "damaged", "unknown", None


def _ticked(site: Site) -> None:
    assert site.post(site.link(ANDY), task=SCOPE).status_code == 200


SOON = int(time.time()) + DAY  # one expiry: the same claims give the same token twice


def _mark_used(site: Site) -> None:
    _ticked(site)
    token = site.link(OLGA, "decide", expires_at=SOON)
    with site.uow() as work:  # as if a decision had used it and left the round as it was
        work.session.add(LinkUse(digest=links.digest(token), review_id=site.review_id, email=OLGA))
        work.commit()


def _used_in_this_round(site: Site) -> tuple[httpx.Response, str, str, int | None]:
    token = site.link(OLGA, "decide", expires_at=SOON)
    return site.post(token, decision="approve"), "already used", OLGA, site.review_id


CASES: dict[str, Case] = {
    "tampered": _tampered,
    "expired": lambda s: (
        s.post(s.link(OLGA, "decide", expires_at=int(time.time()) - 60), decision="approve"),
        "expired", "unknown", None,
    ),
    "other key": lambda s: (s.get(s.link(ANDY, key=OTHER_KEY)), "damaged", "unknown", None),
    "unknown person": lambda s: (
        s.get(s.link("ghost@msp.example")), "not in xbr", "ghost@msp.example", s.review_id,
    ),
    "unknown review": lambda s: (s.get(s.link(ANDY, review_id=9999)), "no longer", ANDY, None),
    "wrong round": lambda s: (s.get(s.link(ANDY, round=7)), "earlier step", ANDY, s.review_id),
    "not accountable": lambda s: (
        s.post(s.link(SAM, "decide"), decision="approve"), "not accountable", SAM, s.review_id,
    ),
    "tasks link decides": lambda s: (
        s.post(s.link(OLGA), decision="approve"), "not for decisions", OLGA, s.review_id,
    ),
    "unknown decision": lambda s: (
        s.post(s.link(OLGA, "decide"), decision="cancel"), "unknown decision", OLGA, s.review_id,
    ),
    "used in this round": _used_in_this_round,
    "missing csrf": lambda s: (
        s.http.post(f"/r/{s.link(ANDY)}", data={"task": SCOPE}), "did not come", ANDY, s.review_id,
    ),
    "wrong csrf": lambda s: (
        s.post(s.link(ANDY), csrf=links.csrf_token(s.key, s.link(OLGA)), task=SCOPE),
        "did not come", ANDY, s.review_id,
    ),
    "not a form": lambda s: (
        s.http.post(f"/r/{s.link(ANDY)}", content=b"task=x", headers=TEXT),
        "did not come", ANDY, s.review_id,
    ),
    "too large": lambda s: (
        s.post(s.link(ANDY), task=SCOPE, comment="x" * MAX_FORM_BYTES),
        "too large", ANDY, s.review_id,
    ),
    "cross-site origin": lambda s: (
        s.post(s.link(ANDY), {"Origin": "https://evil.example"}, task=SCOPE),
        "another site", ANDY, s.review_id,
    ),
    "null origin": lambda s: (
        s.post(s.link(ANDY), {"Origin": "null"}, task=SCOPE), "another site", ANDY, s.review_id,
    ),
    "cross-site fetch": lambda s: (
        s.post(s.link(ANDY), {"Sec-Fetch-Site": "cross-site"}, task=SCOPE),
        "another site", ANDY, s.review_id,
    ),
}  # fmt: skip


PREPARE: dict[str, Callable[[Site], None]] = {
    "not accountable": _ticked,
    "used in this round": _mark_used,
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_request_is_403_with_one_audit_row_and_no_change(site: Site, case: str) -> None:
    PREPARE.get(case, lambda site: None)(site)  # so that only the link itself stands in the way
    before = site.snapshot()
    response, why, actor, review_id = CASES[case](site)
    site.refused(response, before, why, actor, review_id)
    page = _words(response)
    assert "What to do:" in page or links.NEW_LINK in page, "the page says what to do"


def test_same_origin_post_is_accepted(site: Site) -> None:
    headers = {"Origin": site.url, "Sec-Fetch-Site": "same-origin"}
    assert site.post(site.link(ANDY), headers, task=SCOPE).status_code == 200
    assert site.review()["tasks"][0]["status"] == "done"


def test_second_server_on_a_busy_port_is_refused(site: Site, tmp_path: Path) -> None:
    port = int(site.url.rsplit(":", 1)[1])
    settings = Settings(home=tmp_path / "home", web_host="127.0.0.1", web_port=port)
    with pytest.raises(XbrError, match="cannot listen on 127.0.0.1:"):
        start_in_thread(settings, site.uow)


# --- 1,000 bad tokens ------------------------------------------------------------------------

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed_raw(key: bytes, claims: dict[str, Any]) -> str:
    """A correctly signed token whose claims sign() would not accept (e.g. an unknown action)."""
    payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())}"


def _unsigned(claims: dict[str, Any], token: str) -> str:
    """Changed claims with the signature of another token: never re-signed."""
    return _b64(json.dumps(claims).encode()) + token[token.index(".") :]


def _flip(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text))
    return text[:i] + rng.choice(B64.replace(text[i], "")) + text[i + 1 :]


def _bad_tokens(site: Site, used: str, rng: random.Random, signed: bool = True) -> Iterator[str]:
    """Damaged, forged, replayed and foreign tokens; with `signed`, also links xbr signed for
    the wrong person, round or review (only xbr itself can make those)."""
    now, good = int(time.time()), [site.link(OLGA, "decide"), site.link(OLGA)]
    claims = {
        "review_id": site.review_id,
        "round": 1,
        "email": OLGA,
        "action": "decide",
        "expires_at": now + DAY,
    }
    makers: list[Callable[[str], str]] = [
        lambda t: _flip(rng, t.split(".")[0]) + "." + t.split(".")[1],
        lambda t: t.split(".")[0] + "." + _flip(rng, t.split(".")[1]),
        lambda t: t[: rng.randrange(1, len(t))],
        lambda t: t + rng.choice(B64 + "=.~"),
        lambda t: t.split(".")[0] + "." + (good[1] if t == good[0] else good[0]).split(".")[1],
        lambda t: _unsigned(claims | {"email": ANDY}, t),
        lambda t: _unsigned(claims | {"round": rng.randrange(9)}, t),
        lambda t: site.link(OLGA, "decide", key=rng.randbytes(32).hex().encode()),
        lambda t: site.link(OLGA, "decide", expires_at=now - rng.randrange(1, 10 * DAY)),
        lambda t: site.link(OLGA, rng.choice(["tasks", "decide"]), round=rng.choice([0, 2, 5])),
        lambda t: site.link(rng.choice(["ghost@msp.example", "x@y.example"]), "decide"),
        lambda t: site.link(OLGA, "decide", review_id=rng.randrange(1000, 10**6)),
        lambda t: _signed_raw(site.key, claims | {"action": "admin"}),
        lambda t: used,
        lambda t: "".join(rng.choice(B64 + ".é€\x00/?#%") for _ in range(rng.randrange(1, 400))),
        lambda t: t.replace(".", "", 1),
        lambda t: t[::-1],
    ]  # fmt: skip
    if not signed:  # what anyone without the key can send: no link xbr signs but the used one
        makers = makers[:8] + makers[13:]
    while True:
        token = rng.choice(makers)(rng.choice(good))
        if token not in good and token not in (".", ".."):  # dot segments would be normalised
            yield token


def test_three_thousand_bad_tokens_are_all_refused_and_add_a_handful_of_rows_at_most(
    patient_site: Site,
) -> None:
    site = patient_site
    _ticked(site)
    used = site.link(OLGA, "decide")
    assert site.post(used, decision="approve").status_code == 200  # now in scheduling, round 1
    assert site.review()["round"] == 1
    rng = random.Random(20261124)
    before = site.snapshot()
    statuses = []
    tokens = _bad_tokens(site, used, rng, signed=False)
    for n, token in zip(range(3000), tokens, strict=False):
        if n % 2:
            response = site.post(token, task="schedule-qbr", decision="approve", comment="x")
            statuses.append(response.status_code)
        else:
            statuses.append(site.get(token).status_code)
    assert statuses == [403] * 3000
    rows, audit = site.snapshot()
    assert rows == before[0]
    assert audit[: len(before[1])] == before[1]
    new = audit[len(before[1]) :]
    assert len(new) <= 2  # the used link, refused for the same reason each time: one row
    assert {r.trigger for r in new} == {"link-refused"}
    assert {r.review_id for r in new} <= {None, site.review_id}


# --- abuse: too many refusals, slow clients, redirects ----------------------------------------


def test_the_31st_refusal_in_a_minute_from_one_address_gets_429(site: Site) -> None:
    before = site.snapshot()
    statuses = [site.get(f"garbage-{n}").status_code for n in range(31)]
    assert statuses == [403] * 30 + [429]
    blocked = site.get(site.link(ANDY))  # even a good link waits out the minute
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == "60"
    assert "Too many refused requests" in _words(blocked)
    assert site.http.get("/board", params={"key": "guess"}).status_code == 429
    assert site.snapshot() == before  # counted, not written


def test_a_link_refused_again_and_again_leaves_one_audit_row(site: Site) -> None:
    before = site.snapshot()
    token = site.link(ANDY, round=7)  # signed by xbr, for an earlier step
    assert [site.get(token).status_code for _ in range(20)] == [403] * 20
    rows, audit = site.snapshot()
    assert len(audit) == len(before[1]) + 1


def test_a_client_that_sends_its_request_slowly_is_cut_off(
    sqlite_engine: Engine, sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    sites = _site(sqlite_engine, sqlite_uow, catalog, tmp_path, web_request_seconds=2)
    site = next(sites)
    try:
        host, port = site.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as slow:
            slow.sendall(b"GET /r/x HTTP/1.1\r\nHost: x\r\n")
            began = time.monotonic()
            closed = False
            while time.monotonic() - began < 8:
                try:
                    slow.sendall(b"X-Drip: 1\r\n")  # a header line a second, never the end
                except OSError:
                    closed = True
                    break
                if slow.recv(1024, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                    closed = True
                    break
                time.sleep(1)
        assert closed, "the server still waits for the slow request after 8 s"
        assert time.monotonic() - began < 6
        assert site.get(site.link(ANDY)).status_code == 200  # others are served meanwhile
    finally:
        with suppress(StopIteration):
            next(sites)


def test_no_redirect_is_built_from_the_host_header(site: Site) -> None:
    for path in ("/board/", "/r/", "/healthz/"):
        response = site.http.get(path, headers={"Host": "evil.example"})
        assert "location" not in response.headers, (path, response.headers)


def test_the_page_decides_as_its_links_person_and_shows_their_decision_code(site: Site) -> None:
    _ticked(site)
    token = site.link(OLGA, "decide")
    claims = links.verify(site.key, token, datetime.now(UTC))
    expires = datetime.fromtimestamp(claims.expires_at, UTC).date()
    code = links.decision_code(site.key, site.review_id, claims.round, OLGA, expires)
    assert code in _words(site.get(token))
    assert code not in _words(site.get(site.link(ANDY)))  # a tasks link decides nothing
    assert site.post(token, decision="approve").status_code == 200
    approved = [a for a in site.review()["audit"] if a["to"] == "scheduling"]
    assert (approved[0]["actor"], approved[0]["via"]) == (OLGA, "approval page, signed link")
