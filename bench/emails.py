#!/usr/bin/env python
"""Emails of one review: how many messages one `qbr` review sends, to whom and of what kind.

    .venv/bin/python bench/emails.py [--label after] [--digest] [--out FILE]

Runs one `qbr` review of "Client qbr" from needed to closed on a fresh SQLite database with
the demo team of tests/conftest.py (andy the account manager; olga the ops manager, team lead
and exec assistant; vera the CEO and vCIO; carl the client's contact), the way people do it
(tests/review_mail.py): each phase's required tasks ticked by their owners, each gate approved
by its accountable person, the meeting set at the scheduling gate, staging importing the demo
exports and assessing them. After every step the outbox is delivered to a real SMTP server
(deploy/mailbox.py); the emails are counted per person and per kind, and checked against what
the SMTP server received. With --digest every person is on the daily digest, and the
next morning's digest pass runs after the review. JSON goes to
bench/results/emails-<time>-<label>.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != HERE]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def measure(digest: bool) -> dict[str, Any]:
    """One review's emails, counted."""
    from sqlalchemy import update

    from deploy.mailbox import Mailbox
    from notifications.outbox import deliver_due
    from states.settings import Settings
    from states.store import db
    from states.store.models import Person
    from states.templates.catalog import load_catalog
    from tests.conftest import staffed
    from tests.review_mail import Tally, drive_review

    with tempfile.TemporaryDirectory() as tmp, Mailbox() as mailbox:
        engine = db.make_engine(f"sqlite:///{tmp}/xbr.db")
        db.upgrade(engine)
        catalog = load_catalog()
        uow = staffed(engine, catalog)
        if digest:
            with uow() as work:
                work.session.execute(update(Person).values(notify="digest"))
                work.commit()
        settings = Settings(home=Path(tmp), smtp_url=mailbox.url, public_url="http://xbr.test")
        tally = Tally()
        drive_review(uow, catalog, settings, tally)
        if digest:
            from states.notices.digests import plan_digests

            plan_digests(uow(), datetime.now(UTC) + timedelta(days=1), settings.timezone)
            tally.add("next morning's digests", deliver_due(uow(), settings))
        received = _received(mailbox, tally.total)
        engine.dispose()
    if received != tally.total:
        raise RuntimeError(f"the SMTP server got {received} emails, the outbox sent {tally.total}")
    return {
        "total": tally.total,
        "by_person": dict(sorted(tally.by_person.items())),
        "by_kind": dict(sorted(tally.by_kind.items())),
        "steps": tally.steps,
    }


def _received(mailbox: Any, expected: int, timeout: float = 10) -> int:
    """How many emails the SMTP server got, once it has taken what was sent (or `timeout`)."""
    deadline = time.monotonic() + timeout
    while len(mailbox.messages) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # and nothing more arrives
    return len(mailbox.messages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="after", help="names the result file (before, after)")
    parser.add_argument("--digest", action="store_true", help="everyone on the daily digest")
    parser.add_argument("--out", type=Path, help="where the JSON goes")
    args = parser.parse_args()
    result = {
        "benchmark": "emails",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "label": args.label,
        "digest": args.digest,
        "database": "sqlite",
        **measure(args.digest),
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%MZ")
    out = args.out or HERE / "results" / f"emails-{stamp}-{args.label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['total']} emails ({args.label}{', digest' if args.digest else ''})")
    for name, count in result["by_person"].items():
        print(f"  {count:3d}  {name}")
    for kind, count in result["by_kind"].items():
        print(f"  {count:3d}  {kind}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
