"""SQLAlchemy rows: clients, people and roles, reviews and their tasks, decisions, audit, outbox,
and what staging produces: evidence, findings, follow-up tickets, assessments and the answers
to the standards' questions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    literal_column,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (SQLite keeps no offsets)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; xbr stores aware UTC datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


# A review past its meeting (in follow-up, QA, closed or cancelled) frees the client's slot for
# the next review of the same type, which follow-up's last step creates; a reopened follow-up
# never collides with it.
OPEN_REVIEW = text(
    "status NOT IN ('follow_up', 'qa_review', 'closed', 'cancelled') AND type != 'ad-hoc'"
)
# Not closed or cancelled, as literal SQL: a query that says so in these words can use the
# partial index of open reviews' run checks.
NOT_ENDED = text("status NOT IN ('closed', 'cancelled')")


class Installation(Base):
    """One row: this installation's id, unique among the xbr installs sharing a Prefect server."""

    __tablename__ = "installation"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the board page's key is signed with this number: `xbr board key --rotate` raises it
    board_key_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # its name as lowercase words joined by dashes (its folder, its tag): one client per slug
    slug: Mapped[str] = mapped_column(String(200), index=True)
    cadence: Mapped[str] = mapped_column(String(20))
    template: Mapped[str] = mapped_column(String(64))
    timezone: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the client's own check thresholds, over its template's (e.g. a secure score target)
    thresholds: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # standards its reviews assess besides its template's (e.g. hipaa-security), by name
    standards: Mapped[list[str] | None] = mapped_column(JSON)
    # the month its fiscal year starts (1 January ... 12 December): the plan's quarters
    fiscal_year_start: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # where its public holidays come from (ISO 3166 country, subdivision): None is the
    # MSP's default (XBR_COUNTRY, XBR_SUBDIVISION)
    country: Mapped[str | None] = mapped_column(String(2))
    subdivision: Mapped[str | None] = mapped_column(String(10))
    # the day the account calendar looks at the client again: None now, WHILE_HELD while a
    # review holds its slot (the pass never reads those clients)
    next_review_on: Mapped[date | None] = mapped_column(Date, index=True)
    # the client's company in the MSP's PSA (its id there, and its name when mapped): its
    # reviews, follow-up tickets and opportunities are mirrored there; None: not mirrored
    psa_company: Mapped[str | None] = mapped_column(String(64))
    psa_company_name: Mapped[str | None] = mapped_column(String(200))

    assignments: Mapped[list[ClientRole]] = relationship(back_populates="client")


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "immediate", or "digest": one email a day at 08:00 in their time zone (None: the MSP's)
    notify: Mapped[str] = mapped_column(String(10), default="immediate", server_default="immediate")
    timezone: Mapped[str | None] = mapped_column(String(64))
    # up to when the last digest told them everything
    digest_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # their last look at My work in the web app: what changed since is shown first
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    role_rows: Mapped[list[PersonRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="PersonRole.role"
    )

    @property
    def roles(self) -> list[str]:
        return [r.role for r in self.role_rows]


class PersonRole(Base):
    __tablename__ = "person_roles"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class ClientRole(Base):
    """Who covers a role for one client (e.g. the client's vCIO, its contact)."""

    __tablename__ = "client_roles"

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(40), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)

    client: Mapped[Client] = relationship(back_populates="assignments")
    person: Mapped[Person] = relationship(lazy="joined")


class Review(Base):
    __tablename__ = "reviews"
    __table_args__ = (
        Index(
            "one_open_review_per_type",
            "client_id",
            "type",
            unique=True,
            sqlite_where=OPEN_REVIEW,
            postgresql_where=OPEN_REVIEW,
        ),
        Index("reviews_by_status", "status"),
        Index("reviews_by_flow_run", "flow_run_id"),
        Index("reviews_by_wake_at", "wake_at"),
        Index("reviews_by_queue", "queued_for", "meeting_at"),
        Index("reviews_by_escalate_at", "escalate_at"),
        Index(
            "open_reviews_by_run_seen_at",
            "run_seen_at",
            sqlite_where=NOT_ENDED,
            postgresql_where=NOT_ENDED,
        ),
        # the board: each column's first cards by meeting date, and its stale count
        Index("reviews_by_status_meeting", "status", "meeting_at"),
        Index("reviews_by_status_age_warning", "status", "age_warning_at"),
        # My work: who decides or works a review is told by its status, template and client;
        # its gates are listed by meeting date (states/read/work_roles.py)
        Index(
            "reviews_by_status_template",
            "status",
            "template",
            "meeting_at",
            "client_id",
            postgresql_include=["id"],
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    template: Mapped[str] = mapped_column(String(64))
    template_snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    period: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    round: Mapped[int] = mapped_column(Integer, default=0)
    meeting_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wake_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phase_entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    budget_hours: Mapped[float] = mapped_column(Float, default=0)
    actual_hours: Mapped[float] = mapped_column(Float, default=0)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # the Prefect flow run that drives the review; a new generation when it is re-attached
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    run_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    progress_artifact_id: Mapped[str | None] = mapped_column(String(64))
    # the run's artifacts by kind (checklist, summary, ...): each is updated in place
    artifact_ids: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # started without a run (`review start --no-flow`): none is made until `xbr review run`
    run_held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # the meeting invitation's SEQUENCE: -1 until one is sent, +1 for every change after
    invite_sequence: Mapped[int] = mapped_column(Integer, default=-1, server_default="-1")
    # the client's answers to the follow-up questions, asked at delivery
    feedback: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # approved into a phase at its WIP limit: the phase it waits for, since when, and who
    queued_for: Mapped[str | None] = mapped_column(String(20))
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    queued_by: Mapped[str | None] = mapped_column(String(200))
    # when the current phase grows older than its warning, and the next escalation is due
    age_warning_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # when the sweeper last found the review's run waiting at its current gate
    run_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the standards its staging assesses, as the digests of their kept versions (in order)
    standards: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")

    client: Mapped[Client] = relationship(lazy="joined")
    tasks: Mapped[list[ReviewTask]] = relationship(
        back_populates="review", order_by="ReviewTask.position", cascade="all, delete-orphan"
    )
    audit: Mapped[list[AuditEntry]] = relationship(order_by="AuditEntry.id", viewonly=True)

    # Every write checks the version it read: two concurrent decisions can never both land.
    __mapper_args__ = {"version_id_col": version}

    @property
    def name(self) -> str:
        """<client>-<type>-<period>, e.g. acme-law-qbr-2026-q4."""
        return f"{self.client.slug}-{self.type}-{self.period}"


OPEN_TASK = text("status = 'open'")


class ReviewTask(Base):
    __tablename__ = "review_tasks"
    __table_args__ = (
        UniqueConstraint("review_id", "key"),
        # open tasks only: what reminders and the spreading of new work look at
        Index("open_tasks_by_due", "due_at", sqlite_where=OPEN_TASK, postgresql_where=OPEN_TASK),
        # a person's open tasks, counted and sorted by due date without reading their rows,
        # and whether they hold one in a review (My work: states/read/work_lists.py)
        Index(
            "open_tasks_by_assignee",
            "assignee_id",
            "review_id",
            "due_at",
            "position",
            sqlite_where=OPEN_TASK,
            postgresql_where=OPEN_TASK,
            postgresql_include=["id"],
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"))
    key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    required: Mapped[bool] = mapped_column(Boolean)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="open")
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    skip_reason: Mapped[str | None] = mapped_column(Text)
    hours: Mapped[float] = mapped_column(Float, default=0)
    # the due date there is nothing more to remind of: its overdue notice went out, or the
    # review ended; reminders look at the task again only when its due date changes
    reminded_for: Mapped[datetime | None] = mapped_column(UTCDateTime)

    review: Mapped[Review] = relationship(back_populates="tasks")
    assignee: Mapped[Person | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    completed_by: Mapped[Person | None] = relationship(
        foreign_keys=[completed_by_id], lazy="joined"
    )


AD_HOC = "ad-hoc"  # the review type asked for when needed: it holds no slot

# next_review_on while a review holds the client's slot: the calendar looks again when it
# leaves it (follow-up, QA, closed or cancelled).
WHILE_HELD = date.max


# As a literal, not a parameter: only so can the database use the partial indexes of open tasks.
TASK_IS_OPEN = ReviewTask.status == literal_column("'open'")


class Decision(Base):
    """One decision on one gate; (review, round) is unique, so a decision lands once."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("review_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"))
    phase: Mapped[str] = mapped_column(String(20))
    round: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(320))
    comment: Mapped[str] = mapped_column(Text, default="")
    # how the actor was known: the entry point and its proof (a signed link, a decision code,
    # the command line and the operating-system user who ran it)
    via: Mapped[str] = mapped_column(String(200), default="", server_default="")
    meeting_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Append-only: the database refuses updates and deletes (see the first migration)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    trigger: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(320))
    comment: Mapped[str] = mapped_column(Text, default="")
    # how the actor was known: the entry point and its proof (a signed link, a decision code,
    # the command line and the operating-system user who ran it)
    via: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # a step of an initiative (its statuses in from_state and to_state) instead of a review's
    # (no foreign key: the append-only trail is never rebuilt, and names what it names)
    initiative_id: Mapped[int | None] = mapped_column(Integer, index=True)


class OutboxMessage(Base):
    """A side effect to deliver after the change that caused it has committed."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    # unique and always given: it orders a batched INSERT, so SQLite inserts many in one
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True, insert_sentinel=True)
    kind: Mapped[str] = mapped_column(String(40))
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # notices: who it is for (an email, or role:<role> for a role's shared channels)
    recipient: Mapped[str | None] = mapped_column(String(360))
    # when a deliverer may (re)try it: backoff after a failure, a lease while one is sending
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # per channel (masked URL): "sent" or the last error; a retry skips the channels that sent
    results: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class LinkUse(Base):
    """A decision link that was used: each works once (the token itself is never stored)."""

    __tablename__ = "link_uses"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SigninRequest(Base):
    """A sign-in link emailed to a person: it works once, until `expires_at`; the link carries
    a secret whose SHA-256 is kept here, never the secret."""

    __tablename__ = "signin_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    secret_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A signed-in browser: its cookie carries the id and a secret whose SHA-256 is kept here;
    it ends at `expires_at`, on sign-out, or when revoked (`xbr session revoke`)."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    secret_digest: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(40))  # "email link" or "openid connect"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by: Mapped[str | None] = mapped_column(String(200))


# One open follow-up ticket per client and anomaly: a recurring finding links to it.
OPEN_TICKET = text("status = 'open'")


class EvidenceSet(Base):
    """One source's export as a review read it; importing the source again replaces it."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("review_id", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    source: Mapped[str] = mapped_column(String(20))
    file_name: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    row_count: Mapped[int] = mapped_column(Integer)
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(320))


class FollowUpTicket(Base):
    """Work an anomaly needs ("Follow-up - ..."), exported to the PSA through the outbox."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index(
            "one_open_ticket_per_anomaly",
            "client_id",
            "key",
            unique=True,
            sqlite_where=OPEN_TICKET,
            postgresql_where=OPEN_TICKET,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(10))
    owner_role: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="open")
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)  # raised it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the approved initiative whose work it is (its status follows its tickets)
    initiative_id: Mapped[int | None] = mapped_column(ForeignKey("initiatives.id"), index=True)

    client: Mapped[Client] = relationship(lazy="joined")


class ReviewFinding(Base):
    """An anomaly a check found in a review's evidence; (review, key) is unique."""

    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("review_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    check: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="")
    disposition: Mapped[str] = mapped_column(String(20))
    owner_role: Mapped[str | None] = mapped_column(String(40))
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    recurring: Mapped[bool] = mapped_column(Boolean, default=False)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[FollowUpTicket | None] = relationship(lazy="joined")


class Assessment(Base):
    """A review's scorecard; the client's first one is its baseline."""

    __tablename__ = "assessments"

    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    # the checks that ran (all their evidence was held and readable): they answer items too
    checks: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # what was assessed: re-staging the same evidence changes nothing
    evidence_digest: Mapped[str] = mapped_column(String(64))
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StandardVersion(Base):
    """A standard as reviews assess it, kept by the digest of its content: editing or removing
    its YAML file later changes no review that assessed it."""

    __tablename__ = "standard_versions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class ItemAnswer(Base):
    """A person's answer to one item of a standard in one review; (review, standard, item) is
    unique. Answers the evidence gives and answers carried from an earlier review are read, not
    kept: a person confirming a carried one writes it here, `carried_from` naming its review."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("review_id", "standard", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    standard: Mapped[str] = mapped_column(String(64))
    item: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[str] = mapped_column(String(320))
    # how the person was known (the entry point and its proof), as in the audit trail
    via: Mapped[str] = mapped_column(String(200), default="")
    carried_from: Mapped[int | None] = mapped_column(ForeignKey("reviews.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# An initiative still to be decided or worked: a recurring finding attaches to it.
OPEN_INITIATIVE = text("status IN ('proposed', 'deferred', 'approved', 'in_progress')")
MONEY = Numeric(14, 2)


class Initiative(Base):
    """A piece of the client's roadmap: why, what it costs, when, and where it stands."""

    __tablename__ = "initiatives"
    __table_args__ = (
        # what proposed it (a finding, an item, an asset): one open initiative each
        Index(
            "one_open_initiative_per_source",
            "client_id",
            "source_key",
            unique=True,
            sqlite_where=OPEN_INITIATIVE,
            postgresql_where=OPEN_INITIATIVE,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    why: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(40))
    priority: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    owner_role: Mapped[str] = mapped_column(String(40))
    # the first day of its target fiscal quarter (the label follows the client's fiscal year)
    quarter_start: Mapped[date | None] = mapped_column(Date)
    source_key: Mapped[str | None] = mapped_column(String(200))
    findings: Mapped[list[str]] = mapped_column(JSON, default=list)
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    assets: Mapped[list[str]] = mapped_column(JSON, default=list)
    actual_cost: Mapped[Decimal | None] = mapped_column(MONEY)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    client: Mapped[Client] = relationship(lazy="joined")
    costs: Mapped[list[CostLine]] = relationship(
        back_populates="initiative", order_by="CostLine.id", cascade="all, delete-orphan"
    )

    # two decisions on one initiative: the second finds the version changed and is refused
    __mapper_args__ = {"version_id_col": version}


class CostLine(Base):
    """One line of an initiative's cost: once (in a month) or every month (from, until)."""

    __tablename__ = "cost_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int] = mapped_column(ForeignKey("initiatives.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # one_time or recurring
    amount: Mapped[Decimal] = mapped_column(MONEY)  # recurring: per month
    starts: Mapped[date] = mapped_column(Date)  # the first day of its (first) month
    ends: Mapped[date | None] = mapped_column(Date)  # recurring: the first day of its last month
    hardware: Mapped[bool] = mapped_column(Boolean, default=False)
    label: Mapped[str] = mapped_column(String(200), default="")

    initiative: Mapped[Initiative] = relationship(back_populates="costs")


class PsaLink(Base):
    """One object of xbr's mirrored in the PSA: a review's ticket, a task of it, a follow-up
    ticket, an opportunity. Its stamp goes with the object to the PSA, so a create whose answer
    was lost is found there, never made twice: `create_sent_at` set and no `remote_id` means
    a create may have reached the PSA, and it is looked up before it is sent again."""

    __tablename__ = "psa_links"
    __table_args__ = (UniqueConstraint("psa", "object", "local_id", name="psa_link_per_object"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    psa: Mapped[str] = mapped_column(String(20))  # connectwise, autotask, halo
    object: Mapped[str] = mapped_column(String(20))  # review, task, ticket, opportunity
    local_id: Mapped[int] = mapped_column(Integer)
    review_id: Mapped[int | None] = mapped_column(Integer, index=True)
    stamp: Mapped[str] = mapped_column(String(100), unique=True)
    remote_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # the ticket a task belongs to, in the PSA
    parent_remote_id: Mapped[str | None] = mapped_column(String(64))
    create_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # what the PSA was last told (status, hours, due date, done) and last seen saying
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PsaPull(Base):
    """How far the periodic pull from a PSA got: the newest change it has read, in the PSA's
    own clock (the next pull asks for what changed since, with a small overlap)."""

    __tablename__ = "psa_pulls"

    psa: Mapped[str] = mapped_column(String(20), primary_key=True)
    pulled_until: Mapped[datetime] = mapped_column(UTCDateTime)
    pulled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
