"""The held session's transaction: begun on the connection, joined by the ORM only when used.

A click's statements (kflow.hotpath) run on the held connection without the session building a
transaction of its own; commit, rollback and close must still end that transaction exactly as
they end the session's. Every test runs on SQLite and PostgreSQL (``committed_runtime``).
"""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, select, update

from kflow.org.models import Unit
from kflow.runtime import HeldSession, Runtime
from kflow.statements import Prepared

RENAME = Prepared(update(Unit).where(Unit.id == bindparam("id")).values(name=bindparam("name")))


def first_two_units(rt: Runtime) -> list[tuple[int, str]]:
    with rt.transaction(write=False) as session:
        rows = session.execute(select(Unit.id, Unit.name).order_by(Unit.id).limit(2)).all()
    return [(row.id, row.name) for row in rows]


def name_of(rt: Runtime, unit_id: int) -> str:
    with rt.transaction(write=False) as session:
        return str(session.scalar(select(Unit.name).where(Unit.id == unit_id)))


def test_hot_path_statements_commit_without_the_sessions_transaction(
    committed_runtime: Runtime,
) -> None:
    rt = committed_runtime
    [(unit_id, _name), _] = first_two_units(rt)
    with rt.transaction() as session:
        assert isinstance(session, HeldSession)
        assert session.in_transaction()  # begun on the connection before any statement
        RENAME.execute(session, {"id": unit_id, "name": "Snabbvägen"})
        assert session.get_transaction() is None  # no session bookkeeping for the click
    assert name_of(rt, unit_id) == "Snabbvägen"


def test_the_orm_joins_the_transaction_the_hot_path_wrote_in(committed_runtime: Runtime) -> None:
    rt = committed_runtime
    [(first, _), (second, _)] = first_two_units(rt)
    with rt.transaction() as session:
        RENAME.execute(session, {"id": first, "name": "Först"})
        # The ORM reads in the same transaction: it sees the uncommitted write.
        assert session.scalar(select(Unit.name).where(Unit.id == first)) == "Först"
        unit = session.get(Unit, second)
        assert unit is not None
        unit.name = "Sedan"
    assert (name_of(rt, first), name_of(rt, second)) == ("Först", "Sedan")

    with pytest.raises(RuntimeError), rt.transaction() as session:
        RENAME.execute(session, {"id": first, "name": "Aldrig"})
        unit = session.get(Unit, second)
        assert unit is not None
        unit.name = "Aldrig heller"
        session.flush()
        raise RuntimeError("the request failed")
    assert (name_of(rt, first), name_of(rt, second)) == ("Först", "Sedan")


def test_a_failure_undoes_hot_path_statements(committed_runtime: Runtime) -> None:
    rt = committed_runtime
    [(unit_id, before), _] = first_two_units(rt)
    with pytest.raises(RuntimeError), rt.transaction() as session:
        RENAME.execute(session, {"id": unit_id, "name": "Rullas tillbaka"})
        raise RuntimeError("the request failed")
    assert name_of(rt, unit_id) == before


def test_a_rollback_undoes_what_the_session_never_saw(committed_runtime: Runtime) -> None:
    """The web forms roll back a failed action and go on to show the page in the same session."""
    rt = committed_runtime
    [(unit_id, before), _] = first_two_units(rt)
    with rt.transaction() as session:
        RENAME.execute(session, {"id": unit_id, "name": "Ångras"})
        session.rollback()
        assert session.scalar(select(Unit.name).where(Unit.id == unit_id)) == before
        RENAME.execute(session, {"id": unit_id, "name": "Efter ångern"})
    assert name_of(rt, unit_id) == "Efter ångern"


def test_ending_without_a_commit_rolls_back(committed_runtime: Runtime) -> None:
    """A web request that fails before its commit gives the session back with ``end``."""
    rt = committed_runtime
    [(unit_id, before), _] = first_two_units(rt)
    session = rt.begin()
    RENAME.execute(session, {"id": unit_id, "name": "Aldrig sparad"})
    rt.end(session)
    assert name_of(rt, unit_id) == before
    with rt.transaction() as again:
        assert again is session  # the held session, free and idle again
        RENAME.execute(again, {"id": unit_id, "name": "Sparad"})
    assert name_of(rt, unit_id) == "Sparad"


def test_changes_made_after_a_commit_are_committed_too(committed_runtime: Runtime) -> None:
    """A commit inside the unit of work ends the transaction; what follows gets a new one."""
    rt = committed_runtime
    [(first, _), (second, _)] = first_two_units(rt)
    with rt.transaction() as session:
        RENAME.execute(session, {"id": first, "name": "Första commit"})
        session.commit()
        assert not session.in_transaction()
        unit = session.get(Unit, second)
        assert unit is not None
        session.commit()
        unit.name = "Ändrad utan transaktion"  # the session begins anew for it
    assert (name_of(rt, first), name_of(rt, second)) == ("Första commit", "Ändrad utan transaktion")
    with rt.transaction(write=False) as session:
        assert len(session.identity_map) == 0  # nothing of that unit of work lingers
