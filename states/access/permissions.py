"""What a signed-in person may do in the web app, by the roles they hold (everywhere or for a
client). Deciding a gate and ticking tasks are checked by the decision service itself, as for
every entry point; these are the app's own pages."""

from __future__ import annotations

from states.access.sessions import SignedIn
from states.templates.schema import Role

# coordinators start reviews and keep the client list (sales assistant, account manager, vCIO)
COORDINATORS = frozenset(
    {Role.SALES_ASSISTANT, Role.ACCOUNT_MANAGER, Role.VCIO, Role.OPS_MANAGER, Role.CEO}
)
# who adds people and gives them roles
PEOPLE_MANAGERS = frozenset({Role.OPS_MANAGER, Role.CEO})


def may_start_reviews(person: SignedIn) -> bool:
    """Start a review from the form."""
    return person.has(*COORDINATORS)


def may_edit_clients(person: SignedIn) -> bool:
    """Add clients and edit them (cadence, template, time zone, holidays, roles)."""
    return person.has(*COORDINATORS)


def may_edit_people(person: SignedIn) -> bool:
    """Add people and change their roles."""
    return person.has(*PEOPLE_MANAGERS)


def may_see_client(person: SignedIn, client_id: int) -> bool:
    """The MSP's staff see every client; a client's contact only their own."""
    return person.staff or client_id in person.contact_of
