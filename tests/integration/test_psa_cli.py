"""`xbr psa connect` and `xbr client psa` at the command line, against a local ConnectWise:
wrong credentials are one line naming the PSA and the setting; secrets are never printed and
kept readable by their owner only; a client is mapped by id or by its name, confirmed."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import Xbr
from tests.psa_servers.connectwise import ConnectWiseServer

SECRET = "priv-very-secret-7f3a"


@pytest.fixture
def cw() -> Iterator[ConnectWiseServer]:
    with ConnectWiseServer(private_key=SECRET) as server:
        server.add_board("BTR", [("BTR Needed", False), ("Closed", True)])
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


def test_a_connection_keeps_its_secret_to_its_owner_and_never_prints_it(
    xbr: Xbr, cw: ConnectWiseServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XBR_PSA_PRIVATE_KEY", SECRET)
    _, out, err = connect(xbr, cw, "--status", "needed=BTR Needed", "--rate", "8")
    assert "ConnectWise connected" in out
    kept = tmp_path / "home" / "psa.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert json.loads(kept.read_text())["private_key"] == SECRET
    shown = xbr.json("psa", "show")
    assert shown["private_key"] == "set"
    assert shown["url"] == cw.api_url
    assert shown["rate"] == 8
    _, human, _ = xbr("psa", "show")
    _, checked, _ = xbr("psa", "check")
    assert "ConnectWise answers" in checked
    assert all(SECRET not in text for text in (out, err, human, json.dumps(shown), checked))


def test_a_client_is_mapped_by_id_or_by_its_name_confirmed(
    xbr: Xbr, cw: ConnectWiseServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XBR_PSA_PRIVATE_KEY", SECRET)
    code, _, err = xbr("client", "psa", "Client qbr", "--company", "1", ok=False)
    assert code == 2
    assert "no PSA connected" in err
    connect(xbr, cw)
    acme = cw.add_company("Client qbr", "ClientQBR")
    cw.add_company("Client qbr (old)", "ClientQBROld")
    hostile = cw.add_company("Client btr \x1b[31mRED\x1b[0m", "ClientBTR")
    mapped = xbr.json("client", "psa", "Client qbr", "--match", "--yes")
    assert (mapped["company"], mapped["company_name"]) == (str(acme), "Client qbr")
    assert xbr.json("client", "show", "Client qbr")["psa_company"] == str(acme)
    _, out, _ = xbr("client", "psa", "Client btr", "--company", str(hostile))
    assert "\x1b" not in out  # the PSA's names are data: no escape reaches the terminal
    code, _, err = xbr("client", "psa", "Client bsrr", "--match", "--yes", ok=False)
    assert code == 2
    assert "0 ConnectWise companies match 'Client bsrr'" in err
    code, _, err = xbr("client", "psa", "Client qbr", "--company", "12; DROP", ok=False)
    assert code == 2
    assert "--company '12; DROP'" in err
    code, _, err = xbr("client", "psa", "Client qbr", "--company", "999", ok=False)
    assert code == 2
    assert "ConnectWise has no company 999" in err
    assert xbr.json("client", "psa", "Client qbr", "--unmap")["company"] is None
