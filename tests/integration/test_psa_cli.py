"""`xbr psa connect` and `xbr client psa` at the command line, against a local ConnectWise:
wrong credentials are one line naming the PSA and the setting; secrets are never printed and
kept readable by their owner only; a client is mapped by id or by its name, confirmed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from psa.connection import BTR_STATUSES
from tests.integration.conftest import Xbr
from tests.psa_servers.connectwise import ConnectWiseServer

SECRET = "priv-very-secret-7f3a"


@pytest.fixture
def cw() -> Iterator[ConnectWiseServer]:
    with ConnectWiseServer(private_key=SECRET) as server:
        server.add_board("BTR", [(s, s == "Closed") for s in dict.fromkeys(BTR_STATUSES.values())])
        yield server


def connect(xbr: Xbr, cw: ConnectWiseServer, *extra: str, ok: bool = True) -> tuple[int, str, str]:
    return xbr("psa", "connect", "connectwise", "--url", cw.url, "--company-id", cw.company_id,
               "--public-key", cw.public_key, "--client-id", cw.client_id, *extra,
               ok=ok)  # fmt: skip


def test_wrong_credentials_are_one_line_naming_the_psa_and_the_setting(
    xbr: Xbr, cw: ConnectWiseServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XBR_PSA_PRIVATE_KEY", "not-the-key")
    code, out, err = connect(xbr, cw, ok=False)
    assert code == 2
    assert err.count("\n") == 1
    assert "ConnectWise refused xbr's credentials (HTTP 401" in err
    assert "--private-key" in err
    assert not (tmp_path / "home" / "psa.json").exists()  # nothing kept
    code, _, err = xbr("psa", "connect", "connectwise", "--url", cw.url, "--company-id",
                       "nobody", "--public-key", "pub", "--client-id", "x", ok=False)  # fmt: skip
    assert code == 2
    assert "does not know company 'nobody'" in err
    assert "--company-id" in err
    code, _, err = connect(xbr, cw, "--status", "nowhere=New", ok=False)
    assert code == 2
    assert "--status 'nowhere=New'" in err


def test_a_board_or_status_the_psa_lacks_is_named_before_anything_is_kept(
    xbr: Xbr, cw: ConnectWiseServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XBR_PSA_PRIVATE_KEY", SECRET)
    cw.add_board("Service", [("New", False), ("Done", True)])
    code, _, err = connect(xbr, cw, "--board", "Service", ok=False)
    assert code == 2
    assert "ConnectWise's board 'Service' has no status 'BTR Needed', 'Scheduling'" in err
    assert "--status PHASE=STATUS" in err
    assert "(it has: New, Done)" in err
    code, _, err = connect(xbr, cw, "--ticket-board", "Help Desk", ok=False)
    assert code == 2
    assert "ConnectWise has no board 'Help Desk'" in err
    assert not (tmp_path / "home" / "psa.json").exists()
    mapped = [f"{phase}=New" for phase in BTR_STATUSES if phase not in ("closed", "cancelled")]
    statuses = [a for pair in mapped for a in ("--status", pair)]
    connect(xbr, cw, "--board", "Service", *statuses, "--status", "closed=Done",
            "--status", "cancelled=Done", "--ticket-board", "Service")  # fmt: skip
    _, checked, _ = xbr("psa", "check")
    assert "has the board and statuses xbr uses" in checked
