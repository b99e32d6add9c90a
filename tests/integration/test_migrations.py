"""The schema as Alembic builds it: up, down and up again, equal to the models, and the rules
the database itself enforces (an append-only audit log, one open review per client and type)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from states.calendar.opening import start_review
from states.errors import InvalidInput, XbrError
from states.lifecycle.decisions import DecisionKind, DecisionRequest, decide
from states.store import db
from states.store.db import head_revision
from states.store.models import AuditEntry, Base, Review
from states.templates.schema import Template
from tests.conftest import UowFactory

TABLES = {
    "psa_links",
    "psa_pulls",
    "clients",
    "evidence",
    "findings",
    "tickets",
    "assessments",
    "answers",
    "standard_versions",
    "initiatives",
    "cost_lines",
    "link_uses",
    "signin_requests",
    "web_sessions",
    "people",
    "person_roles",
    "client_roles",
    "reviews",
    "review_tasks",
    "decisions",
    "audit_log",
    "outbox",
    "installation",
}


@pytest.fixture
def bare_engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database: no migration has run."""
    engine = db.make_engine(database_url)
    yield engine
    engine.dispose()


def revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def leftovers(engine: Engine) -> list[str]:
    """Every schema object besides Alembic's own bookkeeping: tables, indexes, triggers,
    sequences and functions."""
    if engine.dialect.name == "sqlite":
        query = "SELECT type || ' ' || name FROM sqlite_master WHERE tbl_name != 'alembic_version'"
    else:
        query = """
            SELECT c.relkind::text || ' ' || c.relname FROM pg_class c
            WHERE c.relnamespace = 'public'::regnamespace
              AND c.relname NOT IN ('alembic_version', 'alembic_version_pkc')
            UNION ALL
            SELECT 'function ' || p.proname FROM pg_proc p
            WHERE p.pronamespace = 'public'::regnamespace
            UNION ALL
            SELECT 'trigger ' || t.tgname FROM pg_trigger t WHERE NOT t.tgisinternal
        """
    with engine.connect() as conn:
        return sorted(conn.scalars(text(query)))


def test_upgrade_downgrade_upgrade_round_trips(bare_engine: Engine) -> None:
    db.upgrade(bare_engine)
    assert set(inspect(bare_engine).get_table_names()) == TABLES | {"alembic_version"}
    assert revision(bare_engine) == head_revision()
    assert any(item.startswith("trigger audit_log") for item in leftovers(bare_engine))

    db.downgrade(bare_engine, "base")
    assert inspect(bare_engine).get_table_names() == ["alembic_version"]
    assert leftovers(bare_engine) == []
    assert revision(bare_engine) is None

    db.upgrade(bare_engine)
    assert set(inspect(bare_engine).get_table_names()) == TABLES | {"alembic_version"}
    assert revision(bare_engine) == head_revision()
    db.require_current_schema(bare_engine)


def test_the_head_revision_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    assert db.head_revision() == ScriptDirectory(str(db.MIGRATIONS)).get_current_head()


def test_an_uninitialised_database_is_refused_until_upgraded(bare_engine: Engine) -> None:
    with pytest.raises(XbrError, match=r"not initialised; run `xbr init`"):
        db.require_current_schema(bare_engine)

    db.upgrade(bare_engine)
    db.require_current_schema(bare_engine)

    db.downgrade(bare_engine, "base")
    with pytest.raises(XbrError, match="xbr init"):
        db.require_current_schema(bare_engine)


def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


REWRITES = [
    "UPDATE audit_log SET comment = 'rewritten'",
    "UPDATE audit_log SET actor = 'someone-else@msp.example' WHERE trigger = 'start'",
    "DELETE FROM audit_log",
    "DELETE FROM audit_log WHERE trigger = 'start'",
]


def audit_rows(uow: UowFactory) -> list[tuple[object, ...]]:
    with uow() as work:
        return [
            (a.id, a.review_id, a.trigger, a.actor, a.comment, a.from_state, a.to_state)
            for a in work.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def test_the_database_refuses_to_rewrite_the_audit_log(
    engine: Engine, uow: UowFactory, catalog: dict[str, Template], subtests: pytest.Subtests
) -> None:
    review_id = start_review(uow(), "Client qbr", catalog, "qbr")
    before = audit_rows(uow)
    assert before, "starting a review writes an audit row"

    for statement in REWRITES:
        with subtests.test(statement):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
            assert audit_rows(uow) == before

    with subtests.test("through the ORM"), uow() as work:
        work.session.delete(work.session.scalars(select(AuditEntry)).first())
        with pytest.raises(DBAPIError, match="append-only"):
            work.commit()
    assert audit_rows(uow) == before

    with subtests.test("appending still works"):
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_log (review_id, at, trigger, actor, comment) "
                    "VALUES (:id, CURRENT_TIMESTAMP, 'note', 'olga@msp.example', 'by hand')"
                ),
                {"id": review_id},
            )
        after = audit_rows(uow)
        assert after[: len(before)] == before
        assert [row[2] for row in after[len(before) :]] == ["note"]


def _copy_review(engine: Engine, review_id: int, status: str) -> None:
    """A second review row of the same client and type, straight into the table."""
    columns = (
        "client_id, type, template, template_snapshot, period, round, meeting_at, wake_at, "
        "phase_entered_at, created_at, closed_at, budget_hours, actual_hours, version"
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO reviews (status, {columns}) "
                f"SELECT :status, {columns} FROM reviews WHERE id = :id"
            ),
            {"status": status, "id": review_id},
        )


def test_one_open_review_per_client_and_type(
    engine: Engine, uow: UowFactory, catalog: dict[str, Template]
) -> None:
    first = start_review(uow(), "Client qbr", catalog, "qbr")

    with pytest.raises(InvalidInput, match=f"already has open qbr review {first}"):
        start_review(uow(), "Client qbr", catalog, "qbr")
    # the index holds even for a writer that skips the service's own check
    with pytest.raises(IntegrityError):
        _copy_review(engine, first, "scheduling")
    _copy_review(engine, first, "closed")

    decide(
        uow(),
        DecisionRequest(
            first, DecisionKind.CANCEL, "olga@msp.example", comment="client asked to skip it"
        ),
    )
    second = start_review(uow(), "Client qbr", catalog, "qbr")

    with uow() as work:
        statuses = dict(work.session.execute(select(Review.id, Review.status)).all())
    assert statuses[first] == "cancelled"
    assert statuses[second] == "needed"
    assert sorted(statuses.values()) == ["cancelled", "closed", "needed"]


def test_ad_hoc_reviews_may_overlap(
    engine: Engine, uow: UowFactory, catalog: dict[str, Template]
) -> None:
    ids = [start_review(uow(), "Client ad-hoc", catalog, "ad-hoc") for _ in range(3)]
    _copy_review(engine, ids[0], "prep")

    with uow() as work:
        open_ad_hoc = work.session.scalar(
            select(func.count())
            .select_from(Review)
            .where(Review.type == "ad-hoc", Review.status.not_in(["closed", "cancelled"]))
        )
    assert len(set(ids)) == 3
    assert open_ad_hoc == 4


def test_clients_added_before_slugs_were_kept_get_theirs(bare_engine: Engine) -> None:
    """0007 fills the new slug column from each existing client's name; a client whose name
    would share a slug with one of them is then refused through the index."""
    from states import directory
    from states.store.models import Client
    from states.templates.catalog import load_catalog

    db.upgrade(bare_engine, "0006")
    with bare_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO clients (name, cadence, template, timezone, active, created_at) "
                "VALUES (:name, 'quarterly', 'qbr', 'Europe/Berlin', true, CURRENT_TIMESTAMP)"
            ),
            [{"name": "Acme Law, LLP"}, {"name": "Bright Dental"}],
        )
    db.upgrade(bare_engine)
    with bare_engine.connect() as conn:
        slugs = dict(conn.execute(select(Client.name, Client.slug)).all())
    assert slugs == {"Acme Law, LLP": "acme-law-llp", "Bright Dental": "bright-dental"}
    with pytest.raises(InvalidInput, match="would share the folder and tag 'acme-law-llp'"):
        directory.add_client(db.UnitOfWork(bare_engine), "ACME law LLP", "quarterly", "qbr",
                             "Europe/Berlin", load_catalog())  # fmt: skip
    added = directory.add_client(db.UnitOfWork(bare_engine), "Cedar Vets", "quarterly", "qbr",
                                 "Europe/Berlin", load_catalog())  # fmt: skip
    assert added.slug == "cedar-vets"
