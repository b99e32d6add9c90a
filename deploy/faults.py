"""Faults in xbr itself (not bad input): the traceback kept in a log only its owner reads,
and one line for the person at the terminal saying where it is."""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

from deploy.render import clean


def record(argv: list[str], home: Path | None) -> str:
    """Write the exception being handled, with the command line, to a new log file under
    `home`/logs (the temporary folder without one); the line to show: what failed and where
    the log is."""
    kind, error, _ = sys.exc_info()
    name = kind.__name__ if kind else "error"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    text = f"xbr {' '.join(argv)}\n\n{traceback.format_exc()}"
    folders = ([home / "logs"] if home else []) + [Path(tempfile.gettempdir())]
    for folder in folders:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = folder / f"xbr-fault-{stamp}-{os.getpid()}.log"
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                f.write(text)
            break
        except OSError:
            continue
    else:
        return f"xbr failed ({name}) and could not write its log; run it again to see it"
    reason = clean(str(error)).splitlines()[0][:200] if str(error) else name
    return f"xbr failed ({name}: {reason}); this is a fault in xbr: the traceback is in {path}"
