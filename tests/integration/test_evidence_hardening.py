"""Evidence that cannot poison a review: numbers JSON cannot hold, pipes, links out of the
folder and oversized files are refused in one line with nothing written; a stored set that no
longer reads back is named and left out; an export that lost its rows closes no ticket; an
empty, shrunken or old export keeps its check task open, saying why, until a person ticks it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from states.errors import InvalidInput
from states.read.views import review_view
from states.settings import Settings, normalize_url
from states.staging.intake import import_files, stage
from states.staging.readers import Limits, read_evidence
from states.staging.record import assess
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.integration.conftest import Xbr, snapshot
from tests.integration.test_staging import ACTOR, findings, in_staging, quarter, write

SCORE_HEADER = "measured_on,score,max_score"
PATCH_HEADER = "device,missing_critical,missing_total,last_scan"


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail, instead of hanging the run, when reading blocks."""

    def stuck(*_: Any) -> None:
        raise TimeoutError("the import blocked")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def started(xbr: Xbr, client: str = "Client qbr") -> int:
    return int(xbr.json("review", "start", client, "--no-flow")["id"])


def refused(xbr: Xbr, database_url: str, review_id: int, *files: Path) -> str:
    """Import `files`, which must be refused: exit 2, one line, nothing written."""
    before = snapshot(database_url)
    code, _, err = xbr(
        "evidence", "import", str(review_id), *map(str, files), "--as", ACTOR, ok=False
    )
    assert code == 2, err
    assert err.strip().count("\n") == 0, err
    assert snapshot(database_url) == before
    return err.strip().removeprefix("error: ")


def today() -> str:
    return f"{datetime.now(UTC):%Y-%m-%d}"


# --- numbers and nesting ------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["inf", "-inf", "nan", "NaN", "Infinity", "1e400"])
def test_a_score_that_is_no_number_is_refused_and_nothing_stored(
    xbr: Xbr, database_url: str, tmp_path: Path, cell: str
) -> None:
    review_id = started(xbr)
    path = write(tmp_path, "securescore.csv", SCORE_HEADER, [f"2026-11-01,50,{cell}"])
    message = refused(xbr, database_url, review_id, path)
    assert "securescore.csv row 2, column max_score: must be a number > 0" in message
    # and the review goes on: a good file imports, lists and is assessed
    good = write(tmp_path / "good", "securescore.csv", SCORE_HEADER, [f"{today()},50,100"])
    xbr("evidence", "import", str(review_id), str(good), "--as", ACTOR)
    assert [e["rows"] for e in xbr.json("evidence", "list", str(review_id))] == [1]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[{"measured_on": "2026-11-01", "score": 50, "max_score": Infinity}]', "Infinity is not"),
        ('[{"measured_on": "2026-11-01", "score": NaN, "max_score": 1}]', "NaN is not"),
        ('[{"measured_on": "2026-11-01", "score": -Infinity, "max_score": 1}]', "-Infinity"),
        ('[{"measured_on": "2026-11-01", "score": 50,\n "max_score": 1e400}]', "line 2: 1e400"),
        ('[{"measured_on": "2026-11-01", "score": 1' + "0" * 5000 + ', "max_score": 1}]',
         "more than 18 digits"),
        ('{"value": [{"measured_on": "2026-11-01", "x": {"y": [1]}}]}', "nested deeper than 4"),
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 4"),
    ],
)  # fmt: skip
def test_json_that_is_no_export_is_refused_and_nothing_stored(
    xbr: Xbr, database_url: str, tmp_path: Path, content: str, expected: str
) -> None:
    review_id = started(xbr)
    path = tmp_path / "securescore.json"
    path.write_text(content, encoding="utf-8")
    message = refused(xbr, database_url, review_id, path)
    assert message.startswith("securescore.json"), message
    assert expected in message


def test_a_count_of_5000_digits_is_refused(xbr: Xbr, database_url: str, tmp_path: Path) -> None:
    review_id = started(xbr)
    path = write(tmp_path, "patches.csv", PATCH_HEADER, [f"WS1,{'9' * 5000},1,{today()}"])
    message = refused(xbr, database_url, review_id, path)
    assert message.startswith("patches.csv row 2, column missing_critical: must be a whole")


# --- a stored set that cannot be read back -----------------------------------------------


def poison(url: str, review_id: int, source: str, rows: str) -> None:
    """A set as an older xbr stored it: rows it would refuse today."""
    engine = create_engine(normalize_url(url))
    with engine.begin() as conn:
        client = conn.execute(
            text("SELECT client_id FROM reviews WHERE id = :id"), {"id": review_id}
        ).scalar()
        conn.execute(
            text(
                "INSERT INTO evidence (review_id, client_id, source, file_name, sha256, "
                "row_count, rows, imported_at, imported_by) VALUES (:r, :c, :s, :f, :h, 1, "
                + ("CAST(:rows AS JSON)" if url.startswith("postgres") else ":rows")
                + ", :at, :by)"
            ),
            {
                "r": review_id,
                "c": client,
                "s": source,
                "f": f"{source}.csv",
                "h": "0" * 64,
                "rows": rows,
                "at": datetime.now(UTC),
                "by": ACTOR,
            },  # fmt: skip
        )
    engine.dispose()


def test_a_stored_set_that_no_longer_reads_back_is_named_and_left_out(
    xbr: Xbr, database_url: str, tmp_path: Path
) -> None:
    review_id = started(xbr)
    # SQLite kept the Infinity an older xbr wrote; PostgreSQL never took it, but a row that no
    # longer validates reads back just as badly
    if database_url.startswith("sqlite"):
        stored = '[{"measured_on": "2026-11-01", "score": 50.0, "max_score": Infinity}]'
    else:
        stored = '[{"measured_on": "2026-11-01", "score": -5, "max_score": 1}]'
    poison(database_url, review_id, "securescore", stored)

    listed = xbr.json("evidence", "list", str(review_id))
    assert listed[0]["doubts"][0].startswith("unreadable: securescore.csv")
    patches = write(tmp_path, "patches.csv", PATCH_HEADER, [f"WS1,1,1,{today()}"])
    _, _, err = xbr("evidence", "import", str(review_id), str(patches), "--as", ACTOR)
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"review {review_id}: the stored securescore evidence")
    assert "import the export again" in lines[0]
    assert {f["key"] for f in xbr.json("findings", str(review_id))} == {"patch-compliance"}
    _, out, _ = xbr("evidence", "list", str(review_id))
    assert "unreadable" in out


# --- what is read: regular files, inside the folder, within the limits -------------------


def test_a_pipe_is_refused_without_blocking(
    xbr: Xbr, database_url: str, tmp_path: Path, no_hang: None
) -> None:
    review_id = started(xbr)
    pipe = tmp_path / "patches.csv"
    os.mkfifo(pipe)
    assert "patches.csv is a pipe, not a file" in refused(xbr, database_url, review_id, pipe)


def test_a_pipe_in_the_clients_folder_is_refused_without_blocking(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path, no_hang: None
) -> None:
    settings = Settings(home=tmp_path / "home")
    review_id = in_staging(sqlite_uow, catalog)
    folder = settings.evidence_root / "client-xbr-sop"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "patches.csv")
    with pytest.raises(InvalidInput, match=r"patches.csv in .* is a pipe, not a file"):
        stage(sqlite_uow(), settings, review_id)


def test_a_link_out_of_the_folder_is_refused_without_showing_what_it_points_to(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home")
    review_id = in_staging(sqlite_uow, catalog)
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:SECRET-LINE\nmore\n")
    folder = settings.evidence_root / "client-xbr-sop"
    folder.mkdir(parents=True)
    (folder / "patches.csv").symlink_to(secret)
    with pytest.raises(InvalidInput) as caught:
        stage(sqlite_uow(), settings, review_id)
    assert "patches.csv in" in str(caught.value)
    assert "link to a file outside the folder" in str(caught.value)
    assert "SECRET" not in str(caught.value)


def test_a_link_within_the_folder_is_read(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home")
    review_id = in_staging(sqlite_uow, catalog)
    folder = settings.evidence_root / "client-xbr-sop"
    (export,) = quarter(folder / "exports", 0, 0, ["alice"], today())[:1]
    (folder / "patches.csv").symlink_to(export)
    assert stage(sqlite_uow(), settings, review_id).changed


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("patches.csv", "root:x:0:0:SECRET-LINE,nobody:x:65534\nWS1,2\n"),
        ("patches.json", '["SECRET-LINE"]'),
        ("patches.json", '{"value": [["SECRET-LINE"]]}'),
    ],
)
def test_an_error_never_shows_a_line_of_a_file_that_is_no_export(
    tmp_path: Path, name: str, content: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InvalidInput) as caught:
        read_evidence(path)
    message = str(caught.value)
    assert "SECRET" not in message
    assert "nobody" not in message
    if name.endswith(".csv"):
        assert "which needs device, missing_critical, missing_total, last_scan" in message


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    xbr: Xbr, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    review_id = started(xbr)
    path = tmp_path / "patches.csv"
    with path.open("wb") as sparse:  # 51 MB of nothing: read, it would be "not CSV"
        sparse.truncate(51 * 1024 * 1024)
    assert "larger than 50 MB (XBR_EVIDENCE_MAX_MB)" in refused(xbr, database_url, review_id, path)
    monkeypatch.setenv("XBR_EVIDENCE_MAX_MB", "1")
    small = tmp_path / "small" / "patches.csv"
    small.parent.mkdir()
    small.write_text(PATCH_HEADER + "\n" + f"WS-{'x' * 40},0,0,{today()}\n" * 30_000)
    assert "larger than 1 MB" in refused(xbr, database_url, review_id, small)


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_a_file_over_the_row_limit_is_refused_and_one_at_it_is_read(
    xbr: Xbr, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    monkeypatch.setenv("XBR_EVIDENCE_MAX_ROWS", "10")
    review_id = started(xbr)

    def export(rows: int) -> Path:
        folder = tmp_path / str(rows)
        folder.mkdir()
        items = [{"device": f"WS{n}", "missing_critical": 0, "missing_total": 0}
                 for n in range(rows)]  # fmt: skip
        path = folder / f"patches.{suffix}"
        if suffix == "json":
            path.write_text(json.dumps({"value": items}))
        else:
            path.write_text("device,missing_critical,missing_total\n"
                            + "".join(f"{i['device']},0,0\n" for i in items))  # fmt: skip
        return path

    message = refused(xbr, database_url, review_id, export(11))
    assert message.startswith(f"patches.{suffix}: more than 10 rows (XBR_EVIDENCE_MAX_ROWS)")
    xbr("evidence", "import", str(review_id), str(export(10)), "--as", ACTOR)


def test_limits_below_one_are_refused_as_settings(
    xbr: Xbr, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("XBR_EVIDENCE_MAX_MB", "XBR_EVIDENCE_MAX_ROWS", "XBR_EVIDENCE_STALE_DAYS"):
        monkeypatch.setenv(name, "0")
        code, _, err = xbr("evidence", "list", "1", ok=False)
        assert code == 2
        assert name in err
        monkeypatch.delenv(name)


def test_limits_default_to_the_settings() -> None:
    assert Limits() == Limits.of(Settings())
    assert (Limits().max_mb, Limits().max_rows) == (50, 200_000)


# --- an export that lost its data ----------------------------------------------------------


def task(uow: UowFactory, review_id: int, key: str) -> Any:
    found = review_view(uow(), review_id).task(key)
    assert found is not None
    return found


def test_a_header_only_export_closes_no_ticket_and_keeps_its_check_open(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    review_id = in_staging(sqlite_uow, catalog)
    import_files(sqlite_uow(), review_id, quarter(tmp_path / "a", 5, 0, ["alice"], today()), ACTOR)
    assess(sqlite_uow(), review_id)
    ticket = findings(sqlite_uow, review_id)["patch-compliance"].ticket_id
    assert task(sqlite_uow, review_id, "check-patch-status").status == "done"

    empty = write(tmp_path / "b", "patches.csv", PATCH_HEADER, [])
    import_files(sqlite_uow(), review_id, [empty], ACTOR)
    result = assess(sqlite_uow(), review_id)

    assert result.doubts == {"patches": ["suspect: patches.csv has no rows"]}
    assert result.notes == [f"review {review_id}: suspect: patches.csv has no rows"]
    with sqlite_uow() as work:
        from states.store.models import FollowUpTicket, OutboxMessage

        assert work.session.get(FollowUpTicket, ticket).status == "open"
        told = work.session.query(OutboxMessage).filter(OutboxMessage.dedupe_key.contains("closed"))
        assert told.count() == 0  # the PSA hears of no closing
    check = task(sqlite_uow, review_id, "check-patch-status")
    assert check.status == "open"  # opened again: xbr had closed it
    assert check.note.startswith("not closed: suspect: patches.csv has no rows.")
    gate = review_view(sqlite_uow(), review_id).gate
    assert gate is not None
    assert "check-patch-status" in gate.open_required_tasks


def test_a_device_missing_from_the_new_export_keeps_its_ticket_open(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    review_id = in_staging(sqlite_uow, catalog)
    import_files(sqlite_uow(), review_id, quarter(tmp_path / "a", 5, 0, ["alice"], today()), ACTOR)
    assess(sqlite_uow(), review_id)
    ticket = findings(sqlite_uow, review_id)["patch-compliance"].ticket
    # WS00-WS04 were unpatched; the new export leaves them out, the rest are patched
    rows = [f"WS{i:02d},0,3,{today()}" for i in range(5, 20)]
    import_files(sqlite_uow(), review_id, [write(tmp_path / "b", "patches.csv", PATCH_HEADER,
                                                 rows)], ACTOR)  # fmt: skip
    assess(sqlite_uow(), review_id)
    assert "patch-compliance" not in findings(sqlite_uow, review_id)
    from states.read.scorecards import client_tickets

    assert {t["id"]: t["status"] for t in client_tickets(sqlite_uow())}[ticket.id] == "open"

    # the same devices shown again and healthy: now it closes
    rows = [f"WS{i:02d},0,3,{today()}" for i in range(20)]
    import_files(sqlite_uow(), review_id, [write(tmp_path / "c", "patches.csv", PATCH_HEADER,
                                                 rows)], ACTOR)  # fmt: skip
    assess(sqlite_uow(), review_id)
    assert {t["id"]: t["status"] for t in client_tickets(sqlite_uow())}[ticket.id] == "closed"


def test_an_export_with_fewer_than_half_the_devices_of_the_last_review_is_suspect(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    from states.lifecycle.decisions import DecisionKind, DecisionRequest, decide

    first = in_staging(sqlite_uow, catalog)
    import_files(sqlite_uow(), first, quarter(tmp_path / "a", 0, 0, ["alice"], today()), ACTOR)
    assess(sqlite_uow(), first)
    decide(sqlite_uow(), DecisionRequest(first, DecisionKind.CANCEL, "olga@msp.example", "next"))
    second = in_staging(sqlite_uow, catalog, datetime.now(UTC))
    rows = [f"WS{i:02d},0,3,{today()}" for i in range(9)]  # 9 of the 20 devices
    import_files(sqlite_uow(), second, [write(tmp_path / "b", "patches.csv", PATCH_HEADER,
                                              rows)], ACTOR)  # fmt: skip
    result = assess(sqlite_uow(), second)
    reason = "patches.csv lists 9 devices, fewer than half the 20 of the previous review's"
    assert result.doubts == {"patches": [f"suspect: {reason}"]}
    assert task(sqlite_uow, second, "check-patch-status").status == "open"


# --- an export of last quarter -------------------------------------------------------------


def test_an_old_export_is_marked_stale_on_the_checklist_and_at_the_gate(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    review_id = in_staging(sqlite_uow, catalog)
    old = f"{datetime.now(UTC) - timedelta(days=60):%Y-%m-%d}"
    import_files(sqlite_uow(), review_id, quarter(tmp_path / "a", 0, 0, ["alice"], old), ACTOR)
    result = assess(sqlite_uow(), review_id)
    assert set(result.doubts) == {"patches", "antivirus", "backups"}  # groups carry no date
    assert result.doubts["patches"][0].startswith(
        f"stale: patches.csv's newest last_scan is {old}, more than 45 days before staging"
    )
    check = task(sqlite_uow, review_id, "check-patch-status")
    assert (check.status, check.note[:22]) == ("open", "not closed: stale: pat")
    assert task(sqlite_uow, review_id, "check-key-security-groups").status == "done"
    gate = review_view(sqlite_uow(), review_id).gate
    assert gate is not None
    assert "check-patch-status" in gate.open_required_tasks

    # a longer allowance takes it as this quarter's; a fresh export closes the check
    assert not assess(sqlite_uow(), review_id, settings=Settings(evidence_stale_days=90)).doubts
    fresh = quarter(tmp_path / "b", 0, 0, ["alice"], today())
    import_files(sqlite_uow(), review_id, fresh, ACTOR)
    assert not assess(sqlite_uow(), review_id).doubts
    assert task(sqlite_uow, review_id, "check-patch-status").status == "done"


def test_evidence_list_shows_doubts(xbr: Xbr, tmp_path: Path) -> None:
    review_id = started(xbr)
    old = f"{datetime.now(UTC) - timedelta(days=100):%Y-%m-%d}"
    files = [write(tmp_path, "patches.csv", PATCH_HEADER, [f"WS1,0,0,{old}"]),
             write(tmp_path, "backups.csv", "job,device,last_run,last_result", [])]  # fmt: skip
    xbr("evidence", "import", str(review_id), *map(str, files), "--as", ACTOR)
    listed = {e["source"]: e["doubts"] for e in xbr.json("evidence", "list", str(review_id))}
    assert listed["backups"] == ["suspect: backups.csv has no rows"]
    assert listed["patches"][0].startswith("stale: patches.csv's newest last_scan is")


def sqlite_dump(url: str) -> list[str]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return list(conn.iterdump())


def test_refusals_leave_the_sqlite_database_byte_for_byte_the_same(
    xbr: Xbr, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("iterdump is SQLite's")
    review_id = started(xbr)
    bad = write(tmp_path, "securescore.csv", SCORE_HEADER, ["2026-11-01,50,inf"])
    before = sqlite_dump(database_url)
    xbr("evidence", "import", str(review_id), str(bad), "--as", ACTOR, ok=False)
    assert sqlite_dump(database_url) == before


# --- any file through `xbr evidence import`: imported, or refused with nothing written -------


@pytest.fixture
def sqlite_xbr(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> Xbr:
    """An initialised xbr home on SQLite with Sam and one client."""
    monkeypatch.setenv("XBR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XBR_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    cli = Xbr(capsys)
    cli("init")
    cli("person", "add", "Sam", "--email", ACTOR, "--role", "support_engineer")
    cli("client", "add", "Client qbr", "--cadence", "quarterly", "--template", "qbr",
        "--timezone", "UTC", "--no-first-review")  # fmt: skip
    return cli


CELLS = st.one_of(
    st.sampled_from(["inf", "nan", "1e400", "Infinity", "9" * 5000, "", "2026-11-01", "yes"]),
    st.integers().map(str),
    st.floats().map(str),
    st.text(max_size=8),
)
CONTENTS = st.one_of(
    st.binary(max_size=600),
    st.lists(st.lists(CELLS, min_size=3, max_size=4), max_size=4).map(
        lambda rows: (
            "measured_on,score,max_score\n"
            + "\n".join(",".join(c.replace(",", "") for c in row) for row in rows)
        )
    ),
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=6),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
        max_leaves=10,
    ).map(lambda doc: json.dumps(doc, allow_nan=True)),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=CONTENTS, suffix=st.sampled_from(["csv", "json"]))
@example(content="measured_on,score,max_score\n2026-11-01,50,inf\n", suffix="csv")
@example(content='[{"measured_on": "2026-11-01", "score": 1, "max_score": 1e400}]', suffix="json")
def test_an_import_is_taken_or_refused_and_a_refusal_writes_nothing(
    sqlite_xbr: Xbr, sqlite_url: str, tmp_path: Path, content: str | bytes, suffix: str
) -> None:
    # the fixture is made once for all examples: the review too
    review_id = 1
    if not any(line.startswith('INSERT INTO "reviews"') for line in sqlite_dump(sqlite_url)):
        review_id = started(sqlite_xbr)
    path = tmp_path / f"securescore.{suffix}"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "replace"))
    before = sqlite_dump(sqlite_url)
    code, _, err = sqlite_xbr(
        "evidence", "import", str(review_id), str(path), "--as", ACTOR, ok=False
    )
    assert code in (0, 2), err  # never a fault in xbr
    if code == 2:
        assert err.strip().count("\n") == 0, err
        assert sqlite_dump(sqlite_url) == before


def test_findings_scorecard_and_report_still_work_beside_an_unreadable_set(
    xbr: Xbr, database_url: str, tmp_path: Path
) -> None:
    review_id = started(xbr)
    if database_url.startswith("sqlite"):
        stored = '[{"opened": Infinity, "closed": "2026-11-01"}]'
    else:
        stored = '[{"closed": "2026-11-01"}]'  # no "opened": it no longer validates
    poison(database_url, review_id, "tickets", stored)
    assert xbr.json("evidence", "list", str(review_id))[0]["doubts"][0].startswith("unreadable")
    xbr("findings", str(review_id))
    xbr("scorecard", str(review_id))
    out = tmp_path / "report.html"
    xbr("report", str(review_id), "--out", str(out))
    assert "Scorecard" in out.read_text(encoding="utf-8")
