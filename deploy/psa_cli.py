"""`xbr psa`: connect the MSP's PSA (ConnectWise Manage, Autotask, HaloPSA), check it, pull
its changes now; and `xbr client psa`: which company in the PSA a client is.

Secrets are read from an environment variable or a hidden prompt, never from the command
line's arguments alone, and are never printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import typer
from pydantic import ValidationError

from deploy import render
from deploy.context import JsonOpt, settings, uow
from psa import connection as psa_connection
from psa.connection import PHASES, Connection
from psa.connector import Company, Connector
from psa.connectors import open_connector, unmapped
from psa.http import PsaError
from states.errors import InvalidInput, XbrError
from states.psa.companies import map_client
from states.store.models import utcnow

psa_app = typer.Typer(no_args_is_help=True, help="The PSA: connect it, check it, pull from it.")
connect_app = typer.Typer(no_args_is_help=True, help="Connect ConnectWise, Autotask or HaloPSA.")
psa_app.add_typer(connect_app, name="connect")

Board = Annotated[str, typer.Option(help="Board (ConnectWise), queue (Autotask) or team (Halo) "
                                          "of the reviews' tickets.")]  # fmt: skip
TicketBoard = Annotated[str, typer.Option(help="Where follow-up tickets go; default --board.")]
Statuses = Annotated[
    list[str] | None,
    typer.Option(
        "--status", help="PHASE=STATUS, the PSA's status of a phase (repeat), e.g. needed=New."
    ),
]
Priorities = Annotated[
    list[str] | None,
    typer.Option(
        "--priority", help="SEVERITY=PRIORITY of follow-up tickets (red, amber), e.g. red=High."
    ),
]
Rate = Annotated[
    float, typer.Option(min=0, max=1000, help="Requests a second at most; 0: the PSA's usual.")
]


def _secret(value: str | None, option: str) -> str:
    if not value:
        raise InvalidInput(f"{option} is empty; give it (or its environment variable)")
    return value


SiteUrl = Annotated[str, typer.Option(help="Your site, e.g. https://api-na.myconnectwise.net")]
CompanyId = Annotated[str, typer.Option(help="Your ConnectWise company id (as at sign-in).")]
PublicKey = Annotated[str, typer.Option(help="The API member's public key.")]
ClientId = Annotated[str, typer.Option(help="The integration's clientId.")]
PrivateKey = Annotated[
    str,
    typer.Option(envvar="XBR_PSA_PRIVATE_KEY", prompt=True, hide_input=True,
                 help="The private key (or XBR_PSA_PRIVATE_KEY)."),
]  # fmt: skip
Username = Annotated[str, typer.Option(help="The API user's email.")]
IntegrationCode = Annotated[
    str, typer.Option(envvar="XBR_PSA_INTEGRATION_CODE", help="The tracking identifier.")
]
Secret = Annotated[
    str,
    typer.Option(envvar="XBR_PSA_SECRET", prompt=True, hide_input=True,
                 help="The API user's secret (or XBR_PSA_SECRET)."),
]  # fmt: skip
Zones = Annotated[str, typer.Option(help="Where Autotask looks up the user's zone.")]
Owner = Annotated[str, typer.Option(help="The resource id that owns the opportunities.")]
HaloUrl = Annotated[str, typer.Option(help="Your Halo, e.g. https://msp.halopsa.com")]
HaloClient = Annotated[str, typer.Option(help="The API application's client id.")]
ClientSecret = Annotated[
    str,
    typer.Option(envvar="XBR_PSA_CLIENT_SECRET", prompt=True, hide_input=True,
                 help="Its client secret (or XBR_PSA_CLIENT_SECRET)."),
]  # fmt: skip
Tenant = Annotated[str, typer.Option(help="The tenant of a hosted Halo.")]
ZONES = "https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation"


@connect_app.command("connectwise")
def connect_connectwise(
    url: SiteUrl,
    company_id: CompanyId,
    public_key: PublicKey,
    client_id: ClientId,
    private_key: PrivateKey,
    board: Board = "BTR",
    ticket_board: TicketBoard = "",
    status: Statuses = None,
    priority: Priorities = None,
    rate: Rate = 0,
    as_json: JsonOpt = False,
) -> None:
    """Connect ConnectWise Manage (REST API 3.0, an API member's keys)."""
    from psa.connectwise import site_api

    given = {"kind": "connectwise", "url": site_api(_url(url), company_id),
             "company_id": company_id, "public_key": public_key, "client_id": client_id,
             "private_key": _secret(private_key, "--private-key")}  # fmt: skip
    _connect(given, _mapping(board, ticket_board, status, priority, rate), as_json)


@connect_app.command("autotask")
def connect_autotask(
    username: Username,
    integration_code: IntegrationCode,
    secret: Secret,
    zones: Zones = ZONES,
    opportunity_owner: Owner = "",
    board: Board = "BTR",
    ticket_board: TicketBoard = "",
    status: Statuses = None,
    priority: Priorities = None,
    rate: Rate = 0,
    as_json: JsonOpt = False,
) -> None:
    """Connect Autotask (REST API, an API-only user); its zone is found by the user."""
    from psa.autotask import zone_url

    given = {"kind": "autotask", "url": zone_url(username, _url(zones)), "username": username,
             "secret": _secret(secret, "--secret"), "opportunity_owner": opportunity_owner,
             "integration_code": _secret(integration_code, "--integration-code")}  # fmt: skip
    _connect(given, _mapping(board, ticket_board, status, priority, rate), as_json)


@connect_app.command("halo")
def connect_halo(
    url: HaloUrl,
    client_id: HaloClient,
    client_secret: ClientSecret,
    tenant: Tenant = "",
    board: Board = "BTR",
    ticket_board: TicketBoard = "",
    status: Statuses = None,
    priority: Priorities = None,
    rate: Rate = 0,
    as_json: JsonOpt = False,
) -> None:
    """Connect HaloPSA (OAuth2 client credentials, scope all)."""
    given = {"kind": "halo", "url": _url(url), "client_id": client_id, "tenant": tenant,
             "client_secret": _secret(client_secret, "--client-secret")}  # fmt: skip
    _connect(given, _mapping(board, ticket_board, status, priority, rate), as_json)


def _mapping(
    board: str, ticket_board: str, status: list[str] | None, priority: list[str] | None,
    rate: float,
) -> dict[str, object]:  # fmt: skip
    severities = ("red", "amber")
    return {
        "board": board, "ticket_board": ticket_board, "rate": rate,
        "statuses": psa_connection.parse_pairs(status or [], "--status", PHASES),
        "priorities": psa_connection.parse_pairs(priority or [], "--priority", severities),
    }  # fmt: skip


def _url(value: str) -> str:
    if not value.startswith(("https://", "http://")) or len(value) > 500 or " " in value:
        raise InvalidInput(f"--url {value[:80]!r}: give the web address, e.g. https://…")
    return value.rstrip("/")


def _connect(given: Mapping[str, object], mapping: Mapping[str, object], as_json: bool) -> None:
    """Prove the credentials with one call, then keep the connection."""
    try:
        connection = Connection.model_validate({**given, **mapping})
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidInput(f"--{str(first['loc'][0]).replace('_', '-')}: {first['msg']}") from None
    connector = open_connector(connection)
    try:
        connector.check()
        lacking = unmapped(connector, connection)
    finally:
        connector.close()
    if lacking:
        raise InvalidInput(lacking)
    connection = connection.model_copy(update={"connected_at": utcnow()})
    path = psa_connection.save(settings().home, connection)
    render.out(as_json, connection.shown(),
               f"{connection.name} connected; kept in {path} (secrets never shown). Map each "
               "client with `xbr client psa CLIENT --company ID`")  # fmt: skip


def connected() -> Connection:
    """The connected PSA, or an error that says how to connect one."""
    connection = psa_connection.load(settings().home)
    if connection is None:
        raise XbrError(
            "no PSA connected; connect one with `xbr psa connect connectwise|autotask|halo`"
        )
    return connection


@psa_app.command("show")
def psa_show(as_json: JsonOpt = False) -> None:
    """The connected PSA and its mapping; secrets are shown as set or empty."""
    shown = connected().shown()
    render.out(as_json, shown, lambda: render.rows("PSA", ["setting", "value"],
               [{"setting": k, "value": str(v)} for k, v in shown.items()]))  # fmt: skip


@psa_app.command("check")
def psa_check(as_json: JsonOpt = False) -> None:
    """Prove the credentials, and that the board and its statuses are there."""
    connection = connected()
    connector = open_connector(connection)
    try:
        connector.check()
        lacking = unmapped(connector, connection)
    finally:
        connector.close()
    if lacking:
        raise XbrError(lacking)
    render.out(as_json, {"psa": connection.kind, "ok": True},
               f"{connection.name} answers, and has the board and statuses xbr uses")  # fmt: skip


@psa_app.command("pull")
def psa_pull(as_json: JsonOpt = False) -> None:
    """Read what changed in the PSA since the last pull now (the sweeper does it each run)."""
    from psa.pull import pull

    connection = connected()
    connector = open_connector(connection)
    try:
        done = pull(uow(), connection, connector)
    finally:
        connector.close()
    data = {"read": done.read, "closed_tickets": done.closed, "noted_reviews": done.noted}
    render.out(as_json, data, f"{done.read} changed tickets read; closed tickets "
               f"{done.closed or 'none'}; reviews noted {done.noted or 'none'}")  # fmt: skip


def client_psa_command(
    name: str,
    company: Annotated[str | None, typer.Option(help="The company's id in the PSA.")] = None,
    match: Annotated[bool, typer.Option("--match", help="Find it by the client's name.")] = False,
    unmap: Annotated[bool, typer.Option("--unmap", help="Mirror the client no more.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Take the one match without asking.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Map a client to its company in the PSA (--company ID, or --match by name with a
    confirmation); its reviews, follow-up tickets and opportunities are mirrored there."""
    if sum((company is not None, match, unmap)) != 1:
        raise InvalidInput("give one of --company ID, --match or --unmap")
    if unmap:
        client = map_client(uow(), name, None, "")
        render.out(as_json, {"client": client, "company": None}, f"{client} is mirrored no more")
        return
    connection = connected()
    connector = open_connector(connection)
    try:
        found = _find(connector, name, company, match, yes)
    finally:
        connector.close()
    client = map_client(uow(), name, found.id, found.name)
    render.out(as_json, {"client": client, "company": found.id, "company_name": found.name},
               f"{client} is {connection.name} company {found.id} ({found.name})")  # fmt: skip


def _find(connector: Connector, name: str, company: str | None, match: bool, yes: bool) -> Company:
    """The company given by id, or the one whose name matches the client's (confirmed)."""
    if company is not None:
        if not company.isascii() or not company.isdigit() or len(company) > 12:
            raise InvalidInput(f"--company {company[:40]!r}: give the company's id in the PSA "
                               "(a number), or --match")  # fmt: skip
        try:
            return connector.company(company)
        except PsaError as error:
            raise XbrError(f"{connector.name} has no company {company} ({error}); see its id "
                           "there, or use --match") from None  # fmt: skip
    found = connector.companies(name)
    exact = [c for c in found if c.name.casefold() == name.casefold()]
    candidates = exact or found
    if len(candidates) != 1:
        listed = "; ".join(f"{c.id} {c.name}" for c in candidates[:8]) or "none"
        raise XbrError(f"{len(candidates)} {connector.name} companies match {name!r} ({listed}); "
                       "give one with --company ID")  # fmt: skip
    chosen = candidates[0]
    if not yes and not typer.confirm(f"Map {name} to {connector.name} company {chosen.id} "
                                     f"({render.clean(chosen.name)})?"):  # fmt: skip
        raise XbrError("not mapped; give --company ID, or answer yes")
    return chosen
