"""The schema is built by migrations, and the migrations agree with the models, on both engines."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import kflow.cases.models
import kflow.schema
from kflow.db import Base, make_engine
from kflow.tools.migrate import alembic_config, check, downgrade, upgrade


def _diff(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_server_default": True})
        return list(compare_metadata(context, Base.metadata))


def test_single_head(database):
    script = ScriptDirectory.from_config(alembic_config(database.engine))
    assert len(script.get_heads()) == 1


def test_upgrade_to_head_matches_models_and_downgrade_to_base_empties(database):
    engine = make_engine(database.new_database("migrate"))
    try:
        upgrade(engine)
        assert _diff(engine) == []
        check(engine)  # alembic check: no new upgrade operations
        tables = set(sa.inspect(engine).get_table_names())
        assert {"cases", "case_events", "units", "unit_closure", "outbox", "reminders"} <= tables
        downgrade(engine, "base")
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)  # and back up again: every downgrade() really undoes its upgrade()
        assert _diff(engine) == []
    finally:
        engine.dispose()


def test_each_revision_downgrades_one_step(database):
    engine = make_engine(database.new_database("steps"))
    script = ScriptDirectory.from_config(alembic_config(engine))
    revisions = [rev.revision for rev in script.walk_revisions()][::-1]
    try:
        for revision in revisions:
            upgrade(engine, revision)
        for revision in reversed(revisions):
            downgrade(engine, "-1")
            with engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
            expected = (
                revisions[revisions.index(revision) - 1] if revision != revisions[0] else None
            )
            assert current == expected
    finally:
        engine.dispose()


def test_models_differ_is_detected(database):
    """The drift check can fail: a table missing from the schema is reported."""
    engine = make_engine(database.new_database("drift"))
    try:
        upgrade(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE notifications")
        with pytest.raises(Exception, match="add_table"):
            check(engine)
    finally:
        engine.dispose()


def test_duplicate_fanout_is_impossible_in_the_schema(session, world):
    ks = world.ks_in("published")
    adaptation = world.adaptation(ks)
    table = kflow.cases.models.Case.__table__
    with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
        session.execute(
            table.insert().values(
                type="regional_adaptation",
                state="received",
                lock_version=1,
                owner_id=adaptation.owner_id,
                region_id=adaptation.region_id,
                knowledge_support_id=ks.id,
                adapted_version=1,
                created_at=adaptation.created_at,
                updated_at=adaptation.updated_at,
            )
        )
