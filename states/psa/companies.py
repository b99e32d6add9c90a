"""Which company in the PSA each client is: set by `xbr client psa`, read by the mirroring."""

from __future__ import annotations

from states.directory import client_by_name
from states.lifecycle.audit import directory_change
from states.store.db import UnitOfWork


def map_client(uow: UnitOfWork, name: str, company_id: str | None, company_name: str) -> str:
    """Map the client to the PSA's company (None: no longer mirrored); its name as xbr has it.
    What was planned before the mapping is not sent: the mirror starts with the next change."""
    with uow:
        client = client_by_name(uow.session, name)
        was = client.psa_company
        client.psa_company = company_id
        client.psa_company_name = company_name[:200] if company_id else None
        if company_id != was:
            told = f"PSA company {company_id} ({company_name[:200]})" if company_id else "unmapped"
            directory_change(uow.session, "psa_mapped", f"{client.name}: {told}")
        uow.commit()
        return client.name
