"""`xbr backup` and `xbr restore` on SQLite and PostgreSQL: the database comes back as it was
backed up, with every open review's run to be checked again; bad input changes nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, select, update

from states.settings import normalize_url
from states.store.models import Review
from tests.integration.conftest import Xbr, snapshot


def _runs_seen(url: str) -> dict[int, bool]:
    engine = create_engine(normalize_url(url))
    with engine.connect() as conn:
        rows = conn.execute(select(Review.id, Review.run_seen_at)).all()
    engine.dispose()
    return {review_id: seen is not None for review_id, seen in rows}


def _mark_runs_seen(url: str) -> None:
    engine = create_engine(normalize_url(url))
    with engine.begin() as conn:
        conn.execute(update(Review).values(run_seen_at=Review.created_at))
    engine.dispose()


def test_a_restored_backup_is_the_database_as_it_was_with_every_run_checked_again(
    xbr: Xbr, database_url: str, tmp_path: Path
) -> None:
    kept = xbr.json("review", "start", "Client qbr", "--no-flow")["id"]
    _mark_runs_seen(database_url)  # a sweep saw its run waiting at its gate
    backed_up = snapshot(database_url)
    made = xbr.json("backup", str(tmp_path / "xbr.backup"))
    assert made["bytes"] > 0
    # life goes on after the backup: a decision, a new review
    xbr("cancel", str(kept), "--as", "olga@msp.example", "--comment", "client left")
    later = xbr.json("review", "start", "Client btr", "--no-flow")["id"]
    restored = xbr.json("restore", str(tmp_path / "xbr.backup"))
    assert restored["open_reviews"] == 1
    assert xbr.json("review", "show", str(kept))["status"] == "needed"
    code, _, err = xbr("review", "show", str(later), ok=False)
    assert code == 2
    assert "unknown review" in err
    assert _runs_seen(database_url) == {kept: False}  # the next sweep checks its run
    after = snapshot(database_url)
    assert {k: v for k, v in after.items() if k != "reviews"} == {
        k: v for k, v in backed_up.items() if k != "reviews"
    }


def test_backup_and_restore_refuse_bad_input_with_one_line_and_no_change(
    xbr: Xbr, database_url: str, tmp_path: Path
) -> None:
    xbr.json("review", "start", "Client qbr", "--no-flow")
    existing = tmp_path / "taken.backup"
    existing.write_text("not a backup")
    before = snapshot(database_url)
    for argv, message in [
        (["backup", str(existing)], "exists already; give the backup a new name"),
        (["backup", str(tmp_path / "no" / "such" / "x")], "is not a folder"),
        (["restore", str(existing)], "is not a backup made by `xbr backup`"),
        (["restore", str(tmp_path / "missing.backup")], "give the path of a backup"),
    ]:
        code, _, err = xbr(*argv, ok=False)
        assert code == 2, err
        assert err.startswith("error: "), err
        assert err.count("\n") == 1, err
        assert message in err
    assert snapshot(database_url) == before
    assert existing.read_text() == "not a backup"
