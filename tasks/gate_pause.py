"""The review run's pause at a gate: Prefect's `suspend_flow_run`, with a state name that says
why it waits ("Refused" after a refused decision, else "Suspended") and a message.

`suspend_flow_run` always names the state "Suspended"; the run's state badge is what an operator
sees first, so this proposes the Paused state itself, in the same steps. Its input keyset stays
that of a "Suspended" state of the same key, whatever the name: a run re-executed after Resume
reads the input from it, even if the name it would choose now differs.
"""

from __future__ import annotations

from typing import TypeVar, cast

from prefect._flow_run_suspension import mark_flow_run_suspension_requested
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.context import FlowRunContext
from prefect.exceptions import Abort, Pause
from prefect.input import RunInput
from prefect.input.run_input import keyset_from_base_key
from prefect.states import Paused
from prefect.utilities.engine import propose_state_sync

SUSPENDED = "Suspended"
REFUSED = "Refused"
F = TypeVar("F", bound=RunInput)


def suspend_at_gate(form: type[F], key: str, name: str = SUSPENDED, message: str = "") -> F:
    """Suspend this flow run at pause key `key` until its Resume form is submitted; returns
    the form once the run was resumed with it (the run re-executes from the top)."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        raise RuntimeError("only a flow run can suspend itself at a gate")
    keyset = keyset_from_base_key(f"{SUSPENDED.lower()}-{key}")
    proposed: State[None] = Paused(
        name=name,
        reschedule=True,
        pause_key=key,
        message=message or None,
    )
    proposed.state_details.run_input_keyset = {str(k): v for k, v in keyset.items()}
    with get_client(sync_client=True) as client:
        try:
            state = propose_state_sync(
                client=client, state=proposed, flow_run_id=context.flow_run.id
            )
        except Abort as refused:
            raise RuntimeError(f"the run cannot be suspended: {refused}") from None
        if state.is_running():  # this key was answered: the run was resumed with the form
            return cast(F, form.load(keyset))
        if not state.is_paused():
            raise RuntimeError(f"the run cannot be suspended: the API answered {state}")
        form.save(keyset)
    mark_flow_run_suspension_requested(context.flow_run.id, state)
    raise Pause(state=state)  # the process ends; Resume starts the run again from the top
