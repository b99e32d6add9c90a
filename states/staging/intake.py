"""Evidence intake: exports validated and stored all or none, and a client's folder staged.

Plain functions (no Prefect), so that the command line imports them without starting Prefect;
the flow's tasks in tasks/staging.py wrap them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from states.directory import client_slug
from states.errors import XbrError
from states.lifecycle.steps import SYSTEM_ACTOR
from states.settings import Settings
from states.staging.evidence import Source
from states.staging.readers import Limits, discover, fingerprint, read_evidence, source_of
from states.staging.record import (
    HeldEvidence,
    ImportedFile,
    StagingResult,
    assess,
    held_evidence,
    store_evidence,
)
from states.store.db import UnitOfWork


def import_files(
    uow: UnitOfWork,
    review_id: int,
    paths: Sequence[Path],
    actor: str,
    source: Source | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Validate every file, then store them all as the review's evidence (or none of them);
    the settings' limits bound each file (their defaults without settings)."""
    limits = Limits.of(settings)
    files = [read_evidence(path, source, limits) for path in paths]
    seen: dict[Source, Path] = {}
    for file in files:
        if file.source in seen:
            raise XbrError(
                f"{seen[file.source].name} and {file.path.name} both hold {file.source} "
                "evidence; import one of them"
            )
        seen[file.source] = file.path
    imported = [ImportedFile(f.source, f.path.name, f.sha256, f.rows) for f in files]
    return store_evidence(uow, review_id, imported, actor)


def evidence_folder(settings: Settings, client: str) -> Path:
    """Where a client's exports are dropped: <evidence root>/<client-slug>/."""
    return settings.evidence_root / client_slug(client)


def stage(uow: UnitOfWork, settings: Settings, review_id: int) -> StagingResult:
    """Import the client's folder files that are new for this review, then assess."""
    holding = held_evidence(uow, review_id)
    limits = Limits.of(settings)
    fresh = [
        path
        for path in discover(evidence_folder(settings, holding.client))
        if _is_new(path, holding, limits)
    ]
    if fresh:
        import_files(uow, review_id, fresh, SYSTEM_ACTOR, settings=settings)
    return assess(uow, review_id, settings=settings)


def _is_new(path: Path, holding: HeldEvidence, limits: Limits) -> bool:
    """A folder file is new unless the review holds it, it is the export the previous review
    assessed (last quarter's, still in the folder), or a person imported a newer one."""
    source, sha = source_of(path), fingerprint(path, limits)
    if holding.previous.get(source) == sha:
        return False
    mine = holding.held.get(source)
    if mine is None:
        return True
    if mine.sha256 == sha:
        return False
    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return mine.imported_by == SYSTEM_ACTOR or modified > mine.imported_at
