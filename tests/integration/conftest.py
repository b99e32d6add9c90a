"""The `xbr` command line run in-process against a real database, for the integration tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text

from deploy.cli import run
from deploy.stack import free_port
from deploy.web import start_in_thread
from states.settings import Settings, normalize_url
from states.store.db import UnitOfWork
from states.store.models import Base
from tests.conftest import STAFF


class Xbr:
    """Runs command lines in-process against one database and keeps what they printed."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *argv: str, ok: bool = True) -> tuple[int, str, str]:
        code = run(list(argv))
        out, err = self.capsys.readouterr()
        if ok:
            assert code == 0, f"xbr {' '.join(argv)} -> {code}: {err}"
        return code, out, err

    def json(self, *argv: str) -> Any:
        return json.loads(self(*argv, "--json")[1])


@pytest.fixture
def xbr(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Xbr:
    """An initialised xbr home with the staff and one client per shipped template."""
    monkeypatch.setenv("XBR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XBR_DATABASE_URL", database_url)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)  # these tests run without Prefect
    cli = Xbr(capsys)
    cli("init")
    for name, email, roles in STAFF:
        cli("person", "add", name, "--email", email, *(a for r in roles for a in ("--role", r)))
    for template in cli.json("template", "list"):
        cli(
            "client", "add", f"Client {template['name']}", "--cadence", template["cadence"],
            "--template", template["name"], "--timezone", "Europe/Berlin", "--no-first-review",
        )  # fmt: skip
    return cli


def snapshot(url: str) -> dict[str, Any]:
    """Every row of every table, to prove that a refused command changed nothing."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            return {
                table.name: sorted(map(repr, conn.execute(select(table)).all()))
                for table in Base.metadata.sorted_tables
            } | {"count": conn.execute(select(func.count()).select_from(text("reviews"))).all()}
    finally:
        engine.dispose()


@contextmanager
def serving(
    home: Path, database_url: str, uow: Callable[[], UnitOfWork], **settings: Any
) -> Iterator[tuple[Settings, httpx.Client]]:
    """The web app on a free local port for one test, with a client for its pages; stopped,
    and proven stopped, afterwards."""
    config = Settings(
        home=home, database_url=database_url, secret_key="", public_url="",
        web_host="127.0.0.1", web_port=free_port(), **settings,
    )  # fmt: skip
    server, thread = start_in_thread(config, uow)
    try:
        with httpx.Client(base_url=config.page_url, timeout=30) as client:
            yield config, client
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive()
