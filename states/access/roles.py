"""Changing the roles a person holds everywhere (their client-specific ones stay): someone must
still hold a role that adds people, or nobody could give roles again."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from states.access.permissions import PEOPLE_MANAGERS
from states.directory import parse_role, person_by_email
from states.errors import InvalidInput
from states.lifecycle.audit import directory_change
from states.store.db import UnitOfWork
from states.store.models import Person, PersonRole


def set_roles(uow: UnitOfWork, email: str, roles: Iterable[str]) -> Person:
    """Give the person exactly `roles` (at least one); refused, with nothing changed, when nobody
    would be left holding one of the roles that add people."""
    wanted = {parse_role(r).value for r in roles}
    if not wanted:
        raise InvalidInput(f"{email} would hold no role; give them at least one")
    managers = sorted(role.value for role in PEOPLE_MANAGERS)
    with uow:
        person = person_by_email(uow.session, email)
        if not wanted & set(managers):
            others = uow.session.scalar(
                select(func.count())
                .select_from(PersonRole)
                .where(PersonRole.role.in_(managers), PersonRole.person_id != person.id)
            )
            if not others:
                raise InvalidInput(
                    f"{person.email} is the last person holding {' or '.join(managers)}, who "
                    "add people and give roles; keep one of them, or give it to someone first"
                )
        before = sorted(person.roles)
        kept = [row for row in person.role_rows if row.role in wanted]
        added = [PersonRole(role=r) for r in sorted(wanted - {row.role for row in kept})]
        person.role_rows[:] = kept + added
        if sorted(wanted) != before:
            directory_change(uow.session, "roles_set", f"{person.email}: "
                             f"{', '.join(sorted(wanted))} (were {', '.join(before)})")  # fmt: skip
        uow.commit()
        return person
