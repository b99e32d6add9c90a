"""Who covers what for My work (states/read/my_work.py): the person's roles, everywhere and
for their own clients, and what each open review's template asks of each role in each phase,
as SQL conditions over a review's status, template and client: all three in one index
(reviews_by_status_template), so that the gates and the reviews one is accountable for are
found without reading a review's row."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Text,
    cast,
    false,
    func,
    or_,
    select,
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


# Snapshots parsed by this process, by digest or text: a snapshot never changes, so neither
# do its rules; past KEPT of them, the memo starts over.
_PARSED: dict[str, dict[str, Rule]] = {}
KEPT = 256


class Snapshots:
    """Template snapshots parsed once each (a template's reviews share one), each phase read
    as Template fills it: its board defaults under what the snapshot gives, without
    validating the whole template. PostgreSQL sends a review's snapshot as its digest, and
    the text only of one this process has not read yet; SQLite, in this process, as the
    text."""

    def __init__(self, db: Connection) -> None:
        self.digests = db.dialect.name != "sqlite"
        self._rules: dict[str, dict[str, Rule]] = {}  # by digest, or text

    def _known(self, key: str) -> bool:
        """Whether the snapshot of `key` is parsed, by this request or an earlier one."""
        if key not in self._rules and (parsed := _PARSED.get(key)) is not None:
            self._rules[key] = parsed
        return key in self._rules

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
        unread = {key: review_id for review_id, key in keys.items() if not self._known(key)}
        texts: Iterable[tuple[int, str]] = [(unread[key], key) for key in unread]
        if unread and self.digests:
            query = select(Review.id, cast(Review.template_snapshot, Text))
            texts = db.execute(query.where(Review.id.in_(unread.values()))).tuples()
        for review_id, text in texts:
            phases = orjson.loads(text).get("phases") or {}
            parsed = {p: rule_of({**BOARD_DEFAULTS[Phase(p)], **phases.get(p, {})}) for p in OPEN}
            self._rules[keys[review_id]] = parsed
            if len(_PARSED) >= KEPT:
                _PARSED.clear()
            _PARSED[keys[review_id]] = parsed
        return {review_id: self._rules[key] for review_id, key in keys.items()}


def rule_of(spec: dict[str, Any]) -> Rule:
    raci = spec["raci"]
    return Rule(bool(spec.get("approval", True)), raci["accountable"], tuple(raci["responsible"]))


class Templates:
    """The templates of the open reviews, each with the rules of its oldest and its newest open
    review's snapshot (a template's reviews share its rules unless it was edited between their
    starts: each review shown is checked against its own snapshot). Read from the index of
    status and template, with each template's first and last open review's snapshot."""

    def __init__(self, db: Connection, snapshots: Snapshots) -> None:
        rows = db.execute(
            select(Review.template, func.min(Review.id), func.max(Review.id))
            .where(Review.status.in_(OPEN))
            .group_by(Review.template)
        ).all()
        sampled = snapshots.read(db, (i for _, first, last in rows for i in (first, last)))
        self.rules = {
            name: {p: {sampled[first][p], sampled[last][p]} for p in OPEN}
            for name, first, last in rows
        }

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
        # one flat OR of (status, template, client) terms: SQLite reads each from an index
        clauses = [
            term & covers(me, role) if role else term
            for role, at in groups.items()
            for term in self._in_phases(at)
        ]
        return or_(*clauses) if clauses else false()

    def _in_phases(self, at: dict[str, set[str]]) -> list[ColumnElement[bool]]:
        """In one of the phases, of one of the templates of that phase: by status and
        template (every template of a phase: by status)."""
        phases: dict[frozenset[str], list[str]] = {}  # the phase's templates -> their phases
        for phase, names in sorted(at.items()):
            phases.setdefault(frozenset(names), []).append(phase)
        everyone = frozenset(self.rules)
        return [
            Review.status.in_(where)
            if names == everyone
            else Review.status.in_(where) & Review.template.in_(sorted(names))
            for names, where in phases.items()
        ]


def covers(me: Me, role: str) -> ColumnElement[bool]:
    """Reviews whose client the person covers `role` for, as directory.people_for says: its
    own holders of the role if it has any, else everyone holding it."""
    holders = select(ClientRole.client_id).where(ClientRole.role == role)
    parts = []
    if role in me.own:
        parts.append(Review.client_id.in_(holders.where(ClientRole.person_id == me.id)))
    if role in me.everywhere:
        parts.append(Review.client_id.not_in(holders))
    return or_(*parts)
