"""The portfolio's budget on real databases: `xbr budget --all` gives every active client's
budget as `xbr budget CLIENT` gives it, and refuses a client with --all, or neither."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, update

from states.settings import normalize_url
from states.store.models import Client
from tests.integration.conftest import Xbr

VERA = "vera@msp.example"
PLANS = {
    "Client qbr": [
        ("EDR rollout", ["--one-time", "1000.10@FY2027-Q3", "--monthly", "100.05@FY2027-Q3"]),
    ],
    "Client bsrr": [
        ("Firewall", ["--one-time", "4800@FY2027-Q4"]),
        ("Backup", ["--monthly", "150@FY2027-Q3..FY2028-Q2", "--one-time", "100@FY2027-Q3"]),
    ],
    "Client trs": [],
}  # fmt: skip


def only_these_active(database_url: str, names: list[str]) -> None:
    """Every other client of the fixture made inactive (no command does that)."""
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.begin() as conn:
            conn.execute(update(Client).where(Client.name.not_in(names)).values(active=False))
    finally:
        engine.dispose()


def test_all_gives_each_active_clients_own_budget(
    xbr: Xbr, database_url: str, tmp_path: Path
) -> None:
    for client, initiatives in PLANS.items():
        for title, costs in initiatives:
            xbr("initiative", "add", client, "--title", title, *costs, "--as", VERA)
    decided = xbr.json("roadmap", "Client bsrr")["initiatives"][0]["id"]
    xbr("initiative", "decide", str(decided), "--approve", "--as", VERA)
    only_these_active(database_url, list(PLANS))

    portfolio = xbr.json("budget", "--all", "--years", "2", "--csv", str(tmp_path / "all.csv"))

    assert [b["client"] for b in portfolio["clients"]] == sorted(PLANS)
    assert portfolio["currency"] == portfolio["clients"][0]["currency"]
    for shown in portfolio["clients"]:
        assert shown == xbr.json("budget", shown["client"], "--years", "2")
    bsrr = portfolio["clients"][0]["quarters"]
    assert any(q[k]["approved"] != "0.00" for q in bsrr for k in ("one_time", "recurring"))
    lines = (tmp_path / "all.csv").read_text().splitlines()
    assert len(lines) == 1 + 3 * 8  # a row per client and quarter
    _, table, _ = xbr("budget", "--all")
    assert "Client bsrr" in table
    assert "3 clients" in table


@pytest.mark.parametrize(
    ("argv", "says"),
    [(["Client qbr", "--all"], "not both"), ([], "--all")],
)
def test_all_with_a_client_or_neither_is_refused(xbr: Xbr, argv: list[str], says: str) -> None:
    code, out, err = xbr("budget", *argv, "--json", ok=False)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert says in err
