"""A started review's flow run, for every entry point that starts one (the command line, the
web app): when Prefect refuses to make it now, the review is kept and the next sweep makes it.

Call it after `bootstrap.prefect_env.use_prefect`: prefect reads its settings at import."""

from __future__ import annotations

from collections.abc import Callable

from states.store.db import UnitOfWork


def attach(
    uow: Callable[[], UnitOfWork], review_id: int, generation: int = 0
) -> tuple[str | None, str]:
    """(the page of the review's new flow run, ""), or (None, why Prefect did not make it now,
    in one line)."""
    import httpx
    from prefect.exceptions import ObjectNotFound

    from reports.run_pages import run_url
    from tasks.flow_runs import attach_new_run

    try:
        return run_url(attach_new_run(uow, review_id, generation)), ""
    except (httpx.HTTPError, ObjectNotFound) as refused:
        return None, str(refused).splitlines()[0] if str(refused) else type(refused).__name__
