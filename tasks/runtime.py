"""How every xbr Prefect task runs: its result is never stored, so never taken from a cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Task, task

P = ParamSpec("P")
R = TypeVar("R")


def xbr_task(**options: Any) -> Callable[[Callable[P, R]], Task[P, R]]:
    """`prefect.task` with `persist_result=False`.

    The business-review flow persists its result, in storage the workers share, so that any
    worker resumes any review; its tasks must not, or a resumed run would skip one as done
    (cached) while the application database, which each task reads and writes, moved on.
    """
    decorate: Callable[[Callable[P, R]], Task[P, R]] = task(persist_result=False, **options)
    return decorate
