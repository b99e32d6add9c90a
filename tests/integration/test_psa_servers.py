"""The local PSA servers speak their vendors' documented protocols (docs/psa-protocols.md).

Each is driven with plain httpx, as any client would, never through our own client code.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.psa_servers import AutotaskServer, ConnectWiseServer, HaloServer
from tests.psa_servers.common import PsaServer
from tests.psa_servers.cw_conditions import ConditionError, matches, parse, quote, tokenize

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 7, 1, 10, 0, tzinfo=UTC)


class Clock:
    """A clock a test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


# ConnectWise Manage


@pytest.fixture
def cw() -> Iterator[ConnectWiseServer]:
    with ConnectWiseServer(clock=Clock()) as server:
        server.add_company("Acme Ltd", "Acme")
        server.add_board("Help Desk", [("New", False), ("In Progress", False), ("Closed", True)])
        yield server


def cw_client(server: ConnectWiseServer, **headers: str) -> httpx.Client:
    """A client authenticated as ConnectWise documents: Basic `company+public:private`, clientId."""
    return httpx.Client(
        base_url=server.api_url,
        auth=(f"{server.company_id}+{server.public_key}", server.private_key),
        headers={"clientId": server.client_id, **headers},
    )


@pytest.fixture
def cwc(cw: ConnectWiseServer) -> Iterator[httpx.Client]:
    with cw_client(cw) as client:
        yield client


TICKET = {"summary": "QBR follow-up: rotate backup keys", "board": {"name": "Help Desk"},
          "company": {"identifier": "Acme"}}  # fmt: skip


def test_cw_company_info_needs_no_credentials(cw: ConnectWiseServer) -> None:
    info = httpx.get(f"{cw.url}/login/companyinfo/MSP").json()
    assert info["Codebase"] == "v4_6_release/"
    assert info["CompanyID"] == "msp"
    assert info["IsCloud"] == "False"


@pytest.mark.parametrize(
    ("auth", "headers", "message"),
    [
        (None, {"clientId": "x"}, "The supplied authentication is incorrect"),
        (("msp+pub", "wrong"), {}, "The supplied authentication is incorrect"),
        (("other+pub", "priv"), {}, "The supplied authentication is incorrect"),
        (("msp+pub", "priv"), None, "clientId header is required"),
    ],
)
def test_cw_refuses_wrong_credentials_with_401(
    cw: ConnectWiseServer, auth: Any, headers: dict[str, str] | None, message: str
) -> None:
    sent = {"clientId": cw.client_id, **headers} if headers is not None else {}
    answer = httpx.get(f"{cw.api_url}/service/tickets", auth=auth, headers=sent)
    assert answer.status_code == 401
    assert answer.json() == {"code": "Unauthorized", "message": message}


def test_cw_ticket_round_trip(cw: ConnectWiseServer, cwc: httpx.Client) -> None:
    body = {**TICKET, "externalXRef": "xbr:review-12:item-3", "budgetHours": 2.5,
            "xbrExtra": {"kept": True}}  # fmt: skip
    created = cwc.post("/service/tickets", json=body)
    assert created.status_code == 201
    ticket = created.json()
    assert ticket["board"] == {"id": 1, "name": "Help Desk"}
    assert ticket["company"] == {"id": 250, "identifier": "Acme", "name": "Acme Ltd"}
    assert ticket["status"]["name"] == "New"
    assert ticket["closedFlag"] is False
    assert ticket["_info"]["lastUpdated"] == "2025-07-01T10:00:00Z"
    assert ticket["xbrExtra"] == {"kept": True}
    assert cwc.get(f"/service/tickets/{ticket['id']}").json() == ticket

    patch = [{"op": "replace", "path": "status", "value": {"name": "Closed"}},
             {"op": "replace", "path": "summary", "value": "New summary"}]  # fmt: skip
    closed = cwc.patch(f"/service/tickets/{ticket['id']}", json=patch).json()
    assert closed["closedFlag"] is True
    assert closed["closedDate"] == "2025-07-01T10:00:00Z"
    assert closed["summary"] == "New summary"
    assert cw.tickets()[0]["status"] == {"id": closed["status"]["id"], "name": "Closed"}
    assert cwc.delete(f"/service/tickets/{ticket['id']}").status_code == 204
    assert cwc.get(f"/service/tickets/{ticket['id']}").status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"summary": None}, "summary"),
        ({"summary": "x" * 101}, "summary"),
        ({"company": {"identifier": "Nobody"}}, "company"),
        ({"board": {"name": "No Such Board"}}, "board"),
        ({"status": {"name": "Waiting"}}, "status"),
        ({"externalXRef": "x" * 101}, "externalXRef"),
        ({"priority": {"id": 99}}, "priority"),
    ],
)
def test_cw_refuses_an_invalid_ticket_naming_the_field(
    cw: ConnectWiseServer, cwc: httpx.Client, change: dict[str, Any], field: str
) -> None:
    answer = cwc.post("/service/tickets", json={**TICKET, **change})
    assert answer.status_code == 400
    assert answer.json()["code"] == "InvalidObject"
    assert answer.json()["errors"][0]["field"] == field
    assert cw.tickets() == []


def test_cw_refuses_bodies_it_cannot_read(cwc: httpx.Client) -> None:
    broken = cwc.post(
        "/service/tickets", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["code"] == "InvalidObject"
    ticket_id = cwc.post("/service/tickets", json=TICKET).json()["id"]
    for patch in ([{"op": "move", "path": "summary"}],
                  [{"op": "replace", "path": "company/identifier", "value": "Acme"}],
                  [{"op": "replace", "path": "closedFlag", "value": True}],
                  {"op": "replace", "path": "summary", "value": "x"}):  # fmt: skip
        answer = cwc.patch(f"/service/tickets/{ticket_id}", json=patch)
        assert answer.status_code == 400, patch
        assert answer.json()["code"] == "InvalidObject"


def test_cw_changes_by_a_person_are_found_by_last_updated(
    cw: ConnectWiseServer, cwc: httpx.Client
) -> None:
    first = cwc.post("/service/tickets", json=TICKET).json()["id"]
    second = cwc.post("/service/tickets", json=TICKET).json()["id"]
    assert isinstance(cw.clock, Clock)
    cw.clock.advance(hours=1)
    cw.set_ticket(second, status="In Progress")
    since = cwc.get(
        "/service/tickets", params={"conditions": "lastUpdated > [2025-07-01T10:30:00Z]"}
    )
    assert [t["id"] for t in since.json()] == [second]
    cw.close_ticket(first)
    closed = cwc.get("/service/tickets", params={"conditions": "closedFlag = True"}).json()
    assert [(t["id"], t["status"]["name"]) for t in closed] == [(first, "Closed")]
    searched = cwc.post("/service/tickets/search", json={"conditions": "closedFlag = True"})
    assert searched.json() == closed
    assert cw.tickets()[0]["_info"]["lastUpdated"] == "2025-07-01T11:00:00Z"


def test_cw_ticket_tasks_and_notes(cw: ConnectWiseServer, cwc: httpx.Client) -> None:
    ticket_id = cwc.post("/service/tickets", json=TICKET).json()["id"]
    task = cwc.post(f"/service/tickets/{ticket_id}/tasks", json={"notes": "Rotate keys"})
    assert task.status_code == 201
    assert task.json()["ticketId"] == ticket_id
    assert task.json()["closedFlag"] is False
    done = [{"op": "replace", "path": "closedFlag", "value": True}]
    url = f"/service/tickets/{ticket_id}/tasks/{task.json()['id']}"
    assert cwc.patch(url, json=done).json()["closedFlag"] is True
    assert [t["closedFlag"] for t in cw.tasks(ticket_id)] == [True]
    assert cwc.get(f"/service/tickets/{ticket_id}/tasks/count").json() == {"count": 1}
    note = {"text": "Sent by xbr", "internalAnalysisFlag": True}
    assert cwc.post(f"/service/tickets/{ticket_id}/notes", json=note).status_code == 201
    assert [n["text"] for n in cwc.get(f"/service/tickets/{ticket_id}/notes").json()] == [
        "Sent by xbr"
    ]
    assert cwc.post(f"/service/tickets/{ticket_id}/tasks", json={}).status_code == 400


def test_cw_opportunity_revenue_lives_in_forecast_items(
    cw: ConnectWiseServer, cwc: httpx.Client
) -> None:
    body = {
        "name": "Firewall refresh",
        "company": {"id": 250},
        "expectedCloseDate": "2025-09-30T00:00:00Z",
    }
    created = cwc.post("/sales/opportunities", json=body)
    assert created.status_code == 201
    opportunity = created.json()
    assert opportunity["company"]["identifier"] == "Acme"
    assert "amount" not in opportunity
    item = {"forecastType": "Service", "revenue": 1200.0, "cost": 0, "includeFlag": True,
            "status": {"id": 1}, "forecastDescription": "Managed firewall"}  # fmt: skip
    added = cwc.post(f"/sales/opportunities/{opportunity['id']}/forecast", json=item)
    assert added.status_code == 201
    forecast = cwc.get(f"/sales/opportunities/{opportunity['id']}/forecast").json()
    assert forecast["id"] == opportunity["id"]
    assert [i["revenue"] for i in forecast["forecastItems"]] == [1200.0]
    assert cw.forecast_items(opportunity["id"])[0]["forecastDescription"] == "Managed firewall"
    bad = cwc.post(
        f"/sales/opportunities/{opportunity['id']}/forecast", json={"forecastType": "Gold"}
    )
    assert bad.status_code == 400
    assert cwc.post("/sales/opportunities", json={"company": {"id": 250}}).status_code == 400


def test_cw_companies_boards_and_statuses(cw: ConnectWiseServer, cwc: httpx.Client) -> None:
    cw.add_company("Acme Holdings", "AcmeHold")
    cw.add_company("Bolt Corp", "Bolt")
    for conditions, names in [
        ('name like "Acme*"', ["Acme Ltd", "Acme Holdings"]),
        ('identifier="Bolt"', ["Bolt Corp"]),
        ('name contains "hold"', ["Acme Holdings"]),
    ]:
        found = cwc.get(
            "/company/companies", params={"conditions": conditions, "fields": "id,name"}
        )
        assert [c["name"] for c in found.json()] == names
        assert set(found.json()[0]) == {"id", "name"}
    board = cwc.get("/service/boards").json()[0]
    statuses = cwc.get(f"/service/boards/{board['id']}/statuses").json()
    assert [(s["name"], s["closedStatus"], s["defaultFlag"]) for s in statuses] == [
        ("New", False, True), ("In Progress", False, False), ("Closed", True, False)]  # fmt: skip
    cw.add_source("xbr")
    assert "xbr" in [s["name"] for s in cwc.get("/service/sources").json()]
    assert cwc.get("/service/priorities").json()[0]["name"].startswith("Priority 1")


RECORDS = [
    {"id": 1, "summary": "Low Priority: printer", "closedFlag": False, "budgetHours": 1.5,
     "board": {"id": 3, "name": "Help Desk"}, "_info": {"lastUpdated": "2016-08-20T18:04:26Z"}},
    {"id": 2, "summary": 'Say "hi" \\ bye', "closedFlag": True, "budgetHours": None,
     "board": {"id": 4, "name": "Projects"}, "_info": {"lastUpdated": "2016-08-21T09:00:00Z"}},
    {"id": 3, "summary": "Rotate keys", "closedFlag": False, "budgetHours": 4,
     "board": {"id": 5, "name": "Help Desk"}, "_info": {"lastUpdated": "2016-08-22T09:00:00Z"}},
]  # fmt: skip


@pytest.mark.parametrize(
    ("conditions", "ids"),
    [
        ('board/name="Help Desk"', [1, 3]),
        ("board/id in (3, 2, 4)", [1, 2]),
        ('summary not contains "Low Priority"', [2, 3]),
        ('summary like "rot*"', [3]),
        ('summary like "*printer"', [1]),
        ("lastUpdated > [2016-08-20T18:04:26Z]", [2, 3]),
        ("_info/lastUpdated <= [2016-08-21T09:00:00Z]", [1, 2]),
        ("closedFlag = False and budgetHours >= 1.5", [1, 3]),
        ("budgetHours = null", [2]),
        ("budgetHours != null", [1, 3]),
        ("(id = 1 OR id = 2) AND closedFlag = true", [2]),
        ("id = 1 or id = 2 and closedFlag = True", [1, 2]),  # AND binds tighter than OR
        ('summary = "SAY \\"HI\\" \\\\ BYE"', [2]),  # text compares without case
        ("budgetHours < 4", [1]),  # a missing value meets nothing but = null
    ],
)
def test_cw_conditions_grammar(conditions: str, ids: list[int]) -> None:
    tree = parse(conditions)
    assert [r["id"] for r in RECORDS if matches(tree, r)] == ids


@pytest.mark.parametrize(
    "conditions",
    ['summary = "open', "id = ", "id in 1, 2", "lastUpdated > [yesterday]", "id == 1",
     "id = 1 and", "(id = 1", "id not = 1", "summary = 'single'", "id = 1 id = 2"],
)  # fmt: skip
def test_cw_conditions_refuse_bad_syntax(conditions: str) -> None:
    with pytest.raises(ConditionError):
        parse(conditions)


def test_cw_conditions_refuse_unknown_fields_with_400(cwc: httpx.Client) -> None:
    answer = cwc.get("/service/tickets", params={"conditions": 'nosuchfield = "x"'})
    assert answer.status_code == 400
    assert answer.json()["code"] == "InvalidObject"
    assert "nosuchfield" in answer.json()["message"]


@given(st.text())
def test_cw_any_quoted_string_round_trips(text: str) -> None:
    assert [(t.kind, t.value) for t in tokenize(quote(text))] == [("string", text)]
    assert matches(parse(f"summary = {quote(text)}"), {"summary": text})


def test_cw_link_header_walks_every_page(cw: ConnectWiseServer, cwc: httpx.Client) -> None:
    for number in range(2500):
        cw.create_ticket({**TICKET, "summary": f"Ticket {number}"})
    url: str | None = f"{cw.api_url}/service/tickets?orderBy=id%20asc&pageSize=1000"
    seen: list[int] = []
    pages = 0
    while url:
        answer = cwc.get(url)
        pages += 1
        seen += [t["id"] for t in answer.json()]
        url = answer.links.get("next", {}).get("url")
    assert pages == 3
    assert sorted(seen) == seen == [t["id"] for t in cw.tickets()]
    last = cwc.get("/service/tickets", params={"pageSize": 1000, "page": 3})
    assert set(last.links) == {"first", "prev"}
    assert parse_qs(urlsplit(last.links["prev"]["url"]).query)["page"] == ["2"]
    capped = cwc.get("/service/tickets", params={"pageSize": 5000})
    assert len(capped.json()) == 1000
    count = cwc.get("/service/tickets/count", params={"conditions": 'summary like "Ticket 1*"'})
    assert count.json() == {"count": 1 + 10 + 100 + 1000}


# Autotask


@pytest.fixture
def at() -> Iterator[AutotaskServer]:
    with AutotaskServer(clock=Clock()) as server:
        server.add_company("ACME Corp")
        yield server


def at_client(server: AutotaskServer, **headers: str) -> httpx.Client:
    """A client with Autotask's three headers, on the zone's URL."""
    sent = {"UserName": server.username, "Secret": server.secret,
            "ApiIntegrationCode": server.integration_code, **headers}  # fmt: skip
    return httpx.Client(base_url=server.api_url, headers=sent)


@pytest.fixture
def atc(at: AutotaskServer) -> Iterator[httpx.Client]:
    with at_client(at) as client:
        yield client


def at_ticket(**fields: Any) -> dict[str, Any]:
    return {"companyID": 175, "title": "QBR follow-up", "status": 1, "priority": 2, **fields}


def test_at_zone_information_names_the_api_url(at: AutotaskServer) -> None:
    found = httpx.get(
        f"{at.url}/atservicesrest/v1.0/zoneInformation", params={"user": "API@msp.example"}
    )
    assert found.json()["url"] == f"{at.url}/ATServicesRest/"
    unknown = httpx.get(f"{at.url}/atservicesrest/v1.0/zoneInformation", params={"user": "x@y.z"})
    assert unknown.status_code == 404
    assert unknown.json() == {"errors": ["Zone information could not be determined"]}


@pytest.mark.parametrize(
    ("header", "value", "status"),
    [("UserName", "nobody@msp.example", 500), ("Secret", "wrong", 401),
     ("ApiIntegrationCode", "WRONG", 500)],
)  # fmt: skip
def test_at_refuses_wrong_credentials(
    at: AutotaskServer, header: str, value: str, status: int
) -> None:
    with at_client(at, **{header: value}) as client:
        answer = client.post("/Tickets", json=at_ticket())
    assert answer.status_code == status
    assert isinstance(answer.json()["errors"], list)
    assert at.tickets() == []


def test_at_ticket_round_trip(at: AutotaskServer, atc: httpx.Client) -> None:
    created = atc.post("/Tickets", json=at_ticket(externalID="xbr:review-12:item-3", xbrExtra=7))
    ticket_id = created.json()["itemId"]
    ticket = atc.get(f"/Tickets/{ticket_id}").json()["item"]
    assert ticket["ticketNumber"] == "T20250701.0001"
    assert ticket["createDate"] == ticket["lastActivityDate"] == "2025-07-01T10:00:00Z"
    assert ticket["completedDate"] is None
    assert ticket["xbrExtra"] == 7
    assert isinstance(at.clock, Clock)
    at.clock.advance(minutes=5)
    assert atc.patch("/Tickets", json={"id": ticket_id, "status": 5}).json() == {
        "itemId": ticket_id
    }
    completed = atc.get(f"/Tickets/{ticket_id}").json()["item"]
    assert completed["completedDate"] == completed["lastActivityDate"] == "2025-07-01T10:05:00Z"
    assert completed["title"] == "QBR follow-up"  # a PATCH changes only what it sends
    assert atc.get("/Tickets/1").status_code == 404


@pytest.mark.parametrize(
    "body",
    [at_ticket(id=5), at_ticket(title=None), at_ticket(companyID=9), at_ticket(status=77),
     at_ticket(title="x" * 256), {"companyID": 175, "title": "t"}],
)  # fmt: skip
def test_at_refuses_an_invalid_ticket(at: AutotaskServer, atc: httpx.Client, body: Any) -> None:
    answer = atc.post("/Tickets", json=body)
    assert answer.status_code == 400
    assert answer.json()["errors"]
    assert at.tickets() == []


def test_at_query_filters(at: AutotaskServer, atc: httpx.Client) -> None:
    at.add_status(10, "Waiting Customer")
    first = at.create_ticket(at_ticket(title="Backup keys", externalID="xbr:1"))
    assert isinstance(at.clock, Clock)
    at.clock.advance(hours=2)
    second = at.create_ticket(at_ticket(title="Printer", status=10))
    cases = [
        ([{"op": "eq", "field": "EXTERNALID", "value": "XBR:1"}], [first]),
        ([{"op": "gt", "field": "lastActivityDate", "value": "2025-07-01T11:00:00Z"}], [second]),
        ([{"op": "noteq", "field": "status", "value": 5}], [first, second]),
        ([{"op": "in", "field": "status", "value": [10, 8]}], [second]),
        ([{"op": "beginsWith", "field": "title", "value": "back"}], [first]),
        ([{"op": "exist", "field": "externalID"}], [first]),
        ([{"op": "or", "items": [{"op": "contains", "field": "title", "value": "print"},
                                 {"op": "eq", "field": "id", "value": first}]}], [first, second]),
    ]  # fmt: skip
    for filters, ids in cases:
        found = atc.post("/Tickets/query", json={"filter": filters}).json()
        assert [t["id"] for t in found["items"]] == ids, filters
    unknown = atc.post(
        "/Tickets/query", json={"filter": [{"op": "eq", "field": "nope", "value": 1}]}
    )
    assert unknown.status_code == 400
    count = atc.post("/Tickets/query/count", json={"filter": [{"op": "exist", "field": "id"}]})
    assert count.json() == {"queryCount": 2}
    fields = atc.get("/Tickets/entityInformation/fields").json()["fields"]
    status = next(f for f in fields if f["name"] == "status")
    assert {"value": "10", "label": "Waiting Customer"}.items() <= status["picklistValues"][
        -1
    ].items()


def test_at_next_page_urls_walk_every_page(at: AutotaskServer, atc: httpx.Client) -> None:
    for number in range(1200):
        at.create_ticket(at_ticket(title=f"Ticket {number}"))
    query = {"MaxRecords": 500, "IncludeFields": ["id", "title"],
             "filter": [{"op": "exist", "field": "id"}]}  # fmt: skip
    posted = walk_at(lambda url: atc.post(url, json=query), "/Tickets/query")
    got = walk_at(lambda url: atc.get(url), "/Tickets/query?search=" + json.dumps(query))
    every = [t["id"] for t in at.tickets()]
    assert [len(p) for p in posted] == [len(p) for p in got] == [500, 500, 200]
    assert [i for page in posted for i in page] == [i for page in got for i in page] == every
    first = atc.post("/Tickets/query", json=query).json()
    assert atc.get(first["pageDetails"]["nextPageUrl"]).status_code == 405
    assert set(first["items"][0]) == {"id", "title"}


def walk_at(send: Any, url: str | None) -> list[list[int]]:
    """The ids of each page, following `nextPageUrl` verbatim."""
    pages = []
    while url:
        answer = send(url)
        assert answer.status_code == 200, answer.text
        pages.append([item["id"] for item in answer.json()["items"]])
        url = answer.json()["pageDetails"]["nextPageUrl"]
    return pages


def test_at_checklist_notes_and_opportunities(at: AutotaskServer, atc: httpx.Client) -> None:
    ticket_id = at.create_ticket(at_ticket())
    item = atc.post(f"/Tickets/{ticket_id}/ChecklistItems", json={"itemName": "Rotate keys"})
    item_id = item.json()["itemId"]
    done = atc.patch(
        f"/Tickets/{ticket_id}/ChecklistItems", json={"id": item_id, "isCompleted": True}
    )
    assert done.json() == {"itemId": item_id}
    listed = atc.get(f"/Tickets/{ticket_id}/ChecklistItems").json()["items"]
    assert [(i["itemName"], i["isCompleted"]) for i in listed] == [("Rotate keys", True)]
    assert at.tasks(ticket_id)[0]["completedDateTime"] == "2025-07-01T10:00:00Z"
    note = {"title": "xbr", "description": "Raised at the QBR", "noteType": 1, "publish": 1}
    assert atc.post(f"/Tickets/{ticket_id}/Notes", json=note).status_code == 200
    assert [n["description"] for n in at.notes(ticket_id)] == ["Raised at the QBR"]
    owner = at.add_resource("vera@msp.example")
    opportunity = {"title": "Firewall refresh", "companyID": 175, "amount": 1200.0, "cost": 0,
                   "probability": 50, "projectedCloseDate": "2025-09-30T00:00:00Z",
                   "ownerResourceID": owner, "stage": 1, "status": 1,
                   "useQuoteTotals": False}  # fmt: skip
    created = atc.post("/Opportunities", json=opportunity).json()["itemId"]
    assert atc.get(f"/Opportunities/{created}").json()["item"]["amount"] == 1200.0
    missing = atc.post("/Opportunities", json={**opportunity, "amount": None})
    assert missing.status_code == 400
    companies = atc.post("/Companies/query", json={"filter": [{"op": "eq", "field": "companyName",
                                                               "value": "acme corp"}]})  # fmt: skip
    assert [c["id"] for c in companies.json()["items"]] == [175]


# HaloPSA


@pytest.fixture
def halo() -> Iterator[HaloServer]:
    with HaloServer(clock=Clock(), token_seconds=600) as server:
        server.add_client("Acme Ltd")
        yield server


def halo_token(server: HaloServer, **form: str) -> httpx.Response:
    sent = {"grant_type": "client_credentials", "client_id": server.client_id,
            "client_secret": server.client_secret, "scope": "all", **form}  # fmt: skip
    return httpx.post(server.token_url, params={"tenant": server.tenant}, data=sent)


@pytest.fixture
def haloc(halo: HaloServer) -> Iterator[httpx.Client]:
    token = halo_token(halo).json()["access_token"]
    with httpx.Client(
        base_url=halo.api_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client


def test_halo_tokens(halo: HaloServer) -> None:
    granted = halo_token(halo).json()
    assert granted["token_type"] == "Bearer"
    assert granted["expires_in"] == 600
    wrong = halo_token(halo, client_secret="nope")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    grant = halo_token(halo, grant_type="password")
    assert (grant.status_code, grant.json()) == (400, {"error": "unsupported_grant_type"})
    bearer = {"Authorization": f"Bearer {granted['access_token']}"}
    assert httpx.get(f"{halo.api_url}/Status", headers=bearer).status_code == 200
    assert isinstance(halo.clock, Clock)
    halo.clock.advance(seconds=600)
    expired = httpx.get(f"{halo.api_url}/Status", headers=bearer)
    assert expired.status_code == 401
    assert expired.json() == {"Message": "Authorization has been denied for this request."}
    assert httpx.get(f"{halo.api_url}/Status").status_code == 401


def test_halo_ticket_round_trip(halo: HaloServer, haloc: httpx.Client) -> None:
    body = {"summary": "QBR follow-up", "details": "Rotate keys", "client_id": 12,
            "third_party_id_string": "xbr:review-12:item-3",
            "customfields": [{"id": 150}]}  # fmt: skip
    created = haloc.post("/Tickets", json=[body])
    assert created.status_code == 201
    ticket = created.json()
    assert ticket["last_update"] == "2025-07-01T10:00:00.000"
    assert (ticket["hasbeenclosed"], ticket["dateclosed"]) == (False, "1900-01-01T00:00:00")
    assert ticket["customfields"] == [{"id": 150}]
    assert haloc.get(f"/Tickets/{ticket['id']}").json() == ticket
    assert isinstance(halo.clock, Clock)
    halo.clock.advance(minutes=1)
    closed = haloc.post("/Tickets", json=[{"id": ticket["id"], "status_id": 9}]).json()
    assert closed["hasbeenclosed"] is True
    assert closed["dateclosed"] == closed["last_update"] == "2025-07-01T10:01:00.000"
    assert closed["summary"] == "QBR follow-up"
    two = haloc.post(
        "/Tickets", json=[{"summary": "a", "client_id": 12}, {"summary": "b", "client_id": 12}]
    )
    assert [t["summary"] for t in two.json()] == ["a", "b"]
    assert haloc.get("/Tickets/999").status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [({"summary": "x", "client_id": 12}, 400), ([{"summary": "x"}], 400),
     ([{"client_id": 12}], 400), ([{"summary": "x", "client_id": 12, "status_id": 77}], 400),
     ([{"id": 999, "summary": "x"}], 404),
     ([{"summary": "ok", "client_id": 12}, {"summary": "no client"}], 400)],
)  # fmt: skip
def test_halo_refuses_invalid_tickets(
    halo: HaloServer, haloc: httpx.Client, body: Any, status: int
) -> None:
    answer = haloc.post("/Tickets", json=body)
    assert answer.status_code == status
    assert "Message" in answer.json()
    assert halo.tickets() == []


def test_halo_ticket_filters(halo: HaloServer, haloc: httpx.Client) -> None:
    other = halo.add_client("Bolt Corp")
    first = halo.create_ticket(
        {"summary": "Backup", "client_id": 12, "third_party_id_string": "xbr:1"}
    )
    assert isinstance(halo.clock, Clock)
    halo.clock.advance(minutes=5)  # the token lasts 10
    second = halo.create_ticket({"summary": "Printer", "client_id": other, "details": "Toner XBR"})
    halo.close_ticket(first)
    cases: list[tuple[dict[str, str | int], list[int]]] = [
        ({"search": "XBR"}, [first, second]),
        ({"search": "xbr:1"}, [first]),
        ({"client_id": other}, [second]),
        ({"open_only": "true"}, [second]),
        ({"closed_only": "true"}, [first]),
        ({"lastupdatefromdate": "2025-07-01T10:03:00.000000Z"}, [first, second]),
        ({"lastupdatefromdate": "2025-07-01T10:05:00.001Z"}, []),
        ({"order": "id", "orderdesc": "true"}, [second, first]),
    ]
    for params, ids in cases:
        found = haloc.get("/Tickets", params=params).json()
        assert [t["id"] for t in found["tickets"]] == ids, params
        assert found["record_count"] == len(ids)


def test_halo_page_size_is_capped_at_100(halo: HaloServer, haloc: httpx.Client) -> None:
    for number in range(250):
        halo.create_ticket({"summary": f"Ticket {number}", "client_id": 12})
    seen: list[int] = []
    page_no = 1
    while True:
        params: dict[str, str | int] = {"pageinate": "true", "page_size": 500, "page_no": page_no}
        found = haloc.get("/Tickets", params=params).json()
        assert found["record_count"] == 250
        seen += [t["id"] for t in found["tickets"]]
        if page_no * 100 >= found["record_count"]:
            break
        page_no += 1
    assert page_no == 3
    assert seen == [t["id"] for t in halo.tickets()]


def test_halo_todos_actions_opportunities_clients(halo: HaloServer, haloc: httpx.Client) -> None:
    ticket_id = halo.create_ticket({"summary": "QBR follow-up", "client_id": 12})
    todo = haloc.post("/ToDo", json=[{"ticket_id": ticket_id, "text": "Rotate keys"}]).json()
    haloc.post("/ToDo", json=[{"id": todo["id"], "done": True}])
    assert [
        (t["text"], t["done"]) for t in haloc.get("/ToDo", params={"ticket_id": ticket_id}).json()
    ] == [("Rotate keys", True)]
    action = {"ticket_id": ticket_id, "note": "Done at the QBR", "outcome": "Note", "new_status": 9}
    assert haloc.post("/Actions", json=[action]).status_code == 201
    assert halo.tickets()[0]["hasbeenclosed"] is True
    assert [a["note"] for a in halo.actions(ticket_id)] == ["Done at the QBR"]
    opportunity = {"summary": "Firewall refresh", "client_id": 12, "oppvalue": 1200.0,
                   "targetdate": "2025-09-30T00:00:00",
                   "third_party_id_string": "xbr:opp-1"}  # fmt: skip
    created = haloc.post("/Opportunities", json=[opportunity]).json()
    listed = haloc.get("/Opportunities", params={"search": "xbr:opp-1"}).json()
    assert listed == {"record_count": 1, "tickets": [created]}
    assert haloc.get(f"/Opportunities/{created['id']}").json()["oppvalue"] == 1200.0
    clients = haloc.get("/Client", params={"search": "acme"}).json()
    assert clients == {
        "record_count": 1,
        "clients": [{"id": 12, "name": "Acme Ltd", "inactive": False}],
    }
    statuses = haloc.get("/Status").json()
    assert {"id": 9, "name": "Closed", "type": 0} in statuses
    assert 9 not in [s["id"] for s in haloc.get("/Status", params={"excludeclosed": "true"}).json()]


# What every server shares: errors, rate limit, faults, latency, the separate process


def test_bodies_that_are_not_json_get_each_vendors_400(
    cwc: httpx.Client, atc: httpx.Client, haloc: httpx.Client
) -> None:
    for client, path, member in ((cwc, "/service/tickets", "code"), (atc, "/Tickets", "errors"),
                                 (haloc, "/Tickets", "Message")):  # fmt: skip
        answer = client.post(path, content=b"{oops", headers={"Content-Type": "application/json"})
        assert answer.status_code == 400
        assert member in answer.json()


def vendor_clients(vendor: str, **options: Any) -> tuple[PsaServer, Any]:
    """A server of `vendor`, and a function that creates one ticket on it over HTTP."""
    if vendor == "connectwise":
        cw_server = ConnectWiseServer(**options)
        cw_server.add_company("Acme Ltd", "Acme")
        cw_server.add_board("Help Desk", [("New", False)])
        return cw_server, lambda: post(cw_client(cw_server), "/service/tickets", TICKET)
    if vendor == "autotask":
        at_server = AutotaskServer(**options)
        at_server.add_company("Acme")
        return at_server, lambda: post(at_client(at_server), "/Tickets", at_ticket())
    halo_server = HaloServer(**options)
    halo_server.add_client("Acme")

    def create() -> httpx.Response:
        token = halo_token(halo_server).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.post(f"{halo_server.api_url}/Tickets", headers=headers,
                          json=[{"summary": "x", "client_id": 12}])  # fmt: skip

    return halo_server, create


def post(client: httpx.Client, path: str, body: Any) -> httpx.Response:
    with client:
        return client.post(path, json=body)


def ticket_count(server: PsaServer) -> int:
    assert isinstance(server, ConnectWiseServer | AutotaskServer | HaloServer)
    return len(server.tickets())


THROTTLED = {
    "connectwise": {
        "error": "ConnectWiseAPI",
        "message": "Too many requests. Please try again in 1 seconds.",
    },
    "autotask": {"errors": ["The API request threshold has been exceeded; try again later."]},
    "halo": {"ClassName": "RateLimit", "Message": "Too many requests"},
}


@pytest.mark.parametrize("vendor", ["connectwise", "autotask", "halo"])
def test_over_the_rate_a_request_gets_429_and_changes_nothing(vendor: str) -> None:
    server, create = vendor_clients(vendor, rate_per_second=3)
    with server:
        # Halo's create spends two requests (token, ticket): 3 a second admits one whole create
        creates = 3 if vendor != "halo" else 1
        answers = [create() for _ in range(creates)]
        refused = create()
        assert [a.status_code for a in answers] == [201 if vendor != "autotask" else 200] * creates
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json() == THROTTLED[vendor]
        assert server.refused == 1
        assert ticket_count(server) == creates
        time.sleep(int(refused.headers["Retry-After"]))
        assert create().status_code in (200, 201)
        assert 429 in [status for _, _, status in server.requests]


@pytest.mark.parametrize("vendor", ["connectwise", "autotask", "halo"])
def test_a_dropped_response_still_performs_the_create(vendor: str) -> None:
    server, create = vendor_clients(vendor)
    with server:
        server.drop_response("POST", r"/tickets$", times=1)
        with pytest.raises(httpx.RemoteProtocolError):
            create()
        assert ticket_count(server) == 1
        assert server.dropped == 1
        assert create().status_code in (200, 201)
        assert ticket_count(server) == 2


def test_a_failure_answers_without_performing(cw: ConnectWiseServer, cwc: httpx.Client) -> None:
    body = {"code": "ConnectWiseApi", "message": "timeout"}
    cw.fail("POST", r"/service/tickets$", 500, body, times=2)
    assert [cwc.post("/service/tickets", json=TICKET).status_code for _ in range(3)] == [
        500,
        500,
        201,
    ]
    assert len(cw.tickets()) == 1
    assert [status for _, _, status in cw.requests] == [500, 500, 201]


def test_latency_is_slept_before_each_answer() -> None:
    with HaloServer(latency=0.2) as halo:
        started = time.monotonic()
        halo_token(halo)
        assert time.monotonic() - started >= 0.2


def test_runs_as_its_own_process(tmp_path: Path) -> None:
    setup = tmp_path / "setup.json"
    setup.write_text(json.dumps({"companies": [{"name": "Acme Ltd", "identifier": "Acme"}],
                                 "boards": [{"name": "Help Desk", "statuses": [["New", False]]}],
                                 "tickets": [TICKET]}))  # fmt: skip
    command = [sys.executable, "-m", "tests.psa_servers", "connectwise", "--port", "0",
               "--latency", "0.01", "--rate", "50", "--setup", str(setup)]  # fmt: skip
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            started = json.loads(process.stdout.readline())
            auth = (f"{started['company_id']}+{started['public_key']}", started["private_key"])
            url = f"{started['url']}/{started['codebase']}apis/3.0/service/tickets"
            found = httpx.get(url, auth=auth, headers={"clientId": started["client_id"]})
            assert [t["summary"] for t in found.json()] == [TICKET["summary"]]
        finally:
            process.terminate()
        assert process.wait(timeout=10) == 0
