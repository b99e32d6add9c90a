"""`xbr up` keeps its Prefect server on one port (XBR_PREFECT_PORT), so that the run links in
older emails keep opening, and says in one line when that port is taken."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bootstrap.prefect_env import server_env
from deploy.cli import run
from states.settings import Settings


def test_a_taken_port_stops_xbr_up_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("XBR_HOME", str(tmp_path / "home"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("XBR_PREFECT_PORT", str(port))
        assert run(["init"]) == 0
        capsys.readouterr()
        assert run(["up"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"port {port} for the Prefect server is taken" in err
    assert "XBR_PREFECT_PORT" in err
    assert not (tmp_path / "home" / "stack.json").exists()


def test_the_server_keeps_its_port_and_links_use_the_ui_address_people_reach(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XBR_HOME", str(tmp_path))
    assert Settings().prefect_port == 4200
    monkeypatch.delenv("PREFECT_UI_URL", raising=False)
    env = server_env(Settings(), 4200)
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:4200/api"
    assert env["PREFECT_UI_URL"] == "http://127.0.0.1:4200"
    monkeypatch.setenv("PREFECT_UI_URL", "https://prefect.msp.example")
    assert server_env(Settings(), 4200)["PREFECT_UI_URL"] == "https://prefect.msp.example"


@pytest.mark.parametrize("value", ["0", "70000", "http"])
def test_a_port_out_of_range_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    monkeypatch.setenv("XBR_HOME", str(tmp_path))
    monkeypatch.setenv("XBR_PREFECT_PORT", value)
    assert run(["up"]) == 2
    assert "XBR_PREFECT_PORT" in capsys.readouterr().err
