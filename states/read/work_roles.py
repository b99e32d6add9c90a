"""Who covers what for My work (states/read/my_work.py): the person's roles, everywhere and
for their own clients, and what each open review's template asks of each role in each phase,
as SQL conditions over review ids that read no review's row."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Select,
    Text,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.sql import ColumnElement

from states.errors import NotFound
from states.lifecycle.machine import OPEN_PHASES, Phase
from states.store.models import (
    ClientRole,
    Person,
    PersonRole,
    Review,
)
from states.templates.schema import BOARD_DEFAULTS, Role


@dataclass(frozen=True, slots=True)
class Me:
    id: int
    email: str
    everywhere: frozenset[str]  # held for every client without its own holder of the role
    own: frozenset[str]  # covered for some clients of their own (ClientRole)
    assigned: frozenset[str]  # the roles some client has its own holders of


def person_of(db: Connection, person_id: int) -> Me:
    roles = select(Person.email, PersonRole.role).outerjoin(PersonRole)
    held = db.execute(roles.where(Person.id == person_id)).all()
    if not held:
        raise NotFound(f"unknown person {person_id}; see `xbr person list`")
    mine = ClientRole.person_id == person_id
    assigned = db.execute(select(ClientRole.role, mine).distinct()).all()
    return Me(
        person_id,
        held[0].email,
        # another client's contact is never this client's: that role is covered per client
        frozenset(role for _, role in held if role) - {Role.CLIENT_CONTACT},
        frozenset(role for role, is_mine in assigned if is_mine),
        frozenset(role for role, _ in assigned),
    )


@dataclass(frozen=True, slots=True)
class Rule:
    """Who decides a phase and who works it, as one template snapshot says."""

    approval: bool
    accountable: str
    responsible: tuple[str, ...]


def decides(rule: Rule) -> list[str]:
    return [rule.accountable] if rule.approval else []


def involved(rule: Rule) -> list[str]:
    return [rule.accountable, *rule.responsible]


def accountable(rule: Rule) -> list[str]:
    return [rule.accountable]


OPEN = [p.value for p in OPEN_PHASES]
ENDED = [p.value for p in Phase if p not in OPEN_PHASES]


class Snapshots:
    """Template snapshots parsed once each (a template's reviews share one), each phase read
    as Template fills it: its board defaults under what the snapshot gives, without
    validating the whole template. PostgreSQL sends a review's snapshot as its digest, and
    the text only of one not read yet; SQLite, in this process, as the text."""

    def __init__(self, db: Connection) -> None:
        self.digests = db.dialect.name != "sqlite"
        self._rules: dict[str, dict[str, Rule]] = {}  # by digest, or text

    def key(self) -> ColumnElement[str]:
        """What is read of a review's snapshot: its digest, or its text."""
        text = cast(Review.template_snapshot, Text)
        return func.md5(text) if self.digests else text

    def read(self, db: Connection, ids: Iterable[int]) -> dict[int, dict[str, Rule]]:
        """Review id -> the rule of each open phase in its snapshot."""
        rows = db.execute(select(Review.id, self.key()).where(Review.id.in_(set(ids))))
        return self.rules(db, dict(rows.tuples().all()))

    def rules(self, db: Connection, keys: dict[int, str]) -> dict[int, dict[str, Rule]]:
        """Review id -> the rule of each open phase, by the key read of its snapshot."""
        unread = {key: review_id for review_id, key in keys.items() if key not in self._rules}
        texts: Iterable[tuple[int, str]] = [(unread[key], key) for key in unread]
        if unread and self.digests:
            query = select(Review.id, cast(Review.template_snapshot, Text))
            texts = db.execute(query.where(Review.id.in_(unread.values()))).tuples()
        for review_id, text in texts:
            phases = orjson.loads(text).get("phases") or {}
            self._rules[keys[review_id]] = {
                p: rule_of({**BOARD_DEFAULTS[Phase(p)], **phases.get(p, {})}) for p in OPEN
            }
        return {review_id: self._rules[key] for review_id, key in keys.items()}


def rule_of(spec: dict[str, Any]) -> Rule:
    raci = spec["raci"]
    return Rule(bool(spec.get("approval", True)), raci["accountable"], tuple(raci["responsible"]))


class Templates:
    """The templates of the reviews started since the oldest open one, each with the rules of
    its oldest and its newest snapshot there (a template's reviews share its rules unless it
    was edited between their starts: each review shown is checked against its own snapshot).

    Where the templates differ in a phase, the reviews in it are told apart by template.
    PostgreSQL keeps a review's snapshot out of its row (TOAST) and reads the template with
    it; SQLite keeps it in the row, a page per review, so there the templates are read once,
    in one pass by id with each template's review ids (a review's template lies before its
    snapshot in the row, its status past it), and the reviews told apart by id."""

    def __init__(self, db: Connection, snapshots: Snapshots) -> None:
        self.by_id = db.dialect.name == "sqlite"
        oldest = select(func.min(Review.id)).where(Review.status.in_(OPEN)).scalar_subquery()
        ids = func.json_group_array(Review.id) if self.by_id else literal("[]")
        rows = db.execute(
            select(Review.template, func.min(Review.id), func.max(Review.id), ids)
            .where(Review.id >= oldest)
            .group_by(Review.template)
        ).all()
        sampled = snapshots.read(db, (i for _, first, last, _ in rows for i in (first, last)))
        self.rules = {
            name: {p: {sampled[first][p], sampled[last][p]} for p in OPEN}
            for name, first, last, _ in rows
        }
        self._ids = {name: text[1:-1] for name, _, _, text in rows}  # "1,2,3", as JSON has it

    def where(self, me: Me, roles_of: Callable[[Rule], Iterable[str]]) -> ColumnElement[bool]:
        """Open reviews whose client the person covers one of `roles_of` its phase's rule
        for, by the rules of its template."""
        spots: dict[str, dict[str, set[str]]] = {}  # role -> phase -> template names
        for name, phases in self.rules.items():
            for phase, rules in phases.items():
                for role in {r for rule in rules for r in roles_of(rule)}:
                    spots.setdefault(role, {}).setdefault(phase, set()).add(name)
        # the roles the person holds for every client are one group: their phases merge
        groups: dict[str, dict[str, set[str]]] = {}  # a role, or "" for that group
        for role in sorted(me.everywhere | me.own):
            group = "" if role in me.everywhere - me.assigned else role
            for phase, names in spots.get(role, {}).items():
                groups.setdefault(group, {}).setdefault(phase, set()).update(names)
        clauses = [
            self._in_phases(at) & (covers(me, role) if role else true())
            for role, at in groups.items()
        ]
        return or_(*clauses) if clauses else false()

    def _in_phases(self, at: dict[str, set[str]]) -> ColumnElement[bool]:
        """In one of the phases, of one of the templates of that phase: by status (an
        index), less the reviews of the other templates where there are any."""
        phases: dict[frozenset[str], list[str]] = {}  # the other templates -> their phases
        for phase, names in sorted(at.items()):
            phases.setdefault(frozenset(self.rules.keys() - names), []).append(phase)
        parts: list[ColumnElement[bool]] = []
        for others, where in phases.items():
            here = Review.status.in_(where)
            if not others:
                parts.append(here)
            elif self.by_id:
                # their reviews' ids as one JSON array, which SQLite reads into a set once
                ids = "[" + ",".join(self._ids[name] for name in sorted(others)) + "]"
                odd = select(func.json_each(ids).table_valued("value").c.value)
                parts.append(here & Review.id.not_in(odd))
            else:
                parts.append(here & Review.template.not_in(sorted(others)))
        return or_(*parts)


def covers(me: Me, role: str) -> ColumnElement[bool]:
    """Reviews whose client the person covers `role` for, as directory.people_for says: its
    own holders of the role if it has any, else everyone holding it. Matched by review id
    through the client index, so that no review's row is read."""
    holders = select(ClientRole.client_id).where(ClientRole.role == role)

    def of(clients: Select[Any]) -> Select[Any]:
        return select(Review.id).where(Review.client_id.in_(clients))

    parts = []
    if role in me.own:
        parts.append(Review.id.in_(of(holders.where(ClientRole.person_id == me.id))))
    if role in me.everywhere:
        parts.append(Review.id.not_in(of(holders)))
    return or_(*parts)
