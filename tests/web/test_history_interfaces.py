"""The history cannot be changed or deleted through any interface (issue 6).

No route can: the URL map offers no method that could (enumerated, so a new route is checked
too), and every route that writes only ever adds rows, which real requests show. Below the
application, the database refuses it: UPDATE and DELETE on both engines
(tests/cases/test_history_immutable.py), TRUNCATE on PostgreSQL, and removing a case or a user that
the history refers to.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kflow.cases.events import CaseEvent
from kflow.runtime import Runtime
from kflow.web import create_app
from tests.support.api_support import Api
from tests.support.ui_support import Ui
from tests.support.world import World

SAFE = {"GET", "HEAD", "OPTIONS"}
# Every route that may write, and what it writes. None of them touches an existing history row;
# the ones that fire triggers or create cases add rows.
WRITERS = {
    ("POST", "api.create_knowledge_support"): "a case and its 'create' history row",
    ("POST", "api.fire"): "the case, cases below it, and new history rows",
    ("POST", "api.create_token"): "an API token",
    ("DELETE", "api.revoke_token"): "revoked_at of the caller's own token",
    ("POST", "auth.login"): "login failures (throttling)",
    ("POST", "auth.logout"): "nothing in the database",
    ("POST", "cases.fire"): "the case, cases below it, and new history rows",
    ("POST", "inbox.confirm_acknowledge"): "nothing (bulk Kvittera's confirmation page)",
    ("POST", "inbox.acknowledge"): "acknowledged local implementations, history rows; all or none",
    ("POST", "inbox.create_feed"): "a calendar feed (the user's previous one revoked)",
    ("POST", "inbox.revoke_feed"): "revoked_at of the user's calendar feed",
    ("POST", "cases.report_measurement"): "a measurement (and the case's due date)",
    ("POST", "cases.correct_measurement"): "a correcting measurement (the corrected row is kept)",
    ("POST", "api.create_measurement"): "a measurement",
    ("POST", "api.correct_measurement"): "a correcting measurement (the corrected row is kept)",
    ("POST", "api.import_measurements"): "measurements, all or none",
    ("POST", "api.create_indicator"): "an indicator",
    ("POST", "api.create_indicator_list"): "a case and its 'create' history row",
    ("POST", "create.new"): "a case and its 'create' history row",
    ("POST", "create.define_indicator"): "an indicator",
    ("POST", "admin.create_unit"): "a unit",
    ("POST", "admin.create_user"): "a user",
    ("POST", "admin.grant"): "a membership",
    ("POST", "admin.revoke"): "deletes a membership",
    ("POST", "admin.create_token"): "an API token",
    ("POST", "admin.revoke_token"): "revoked_at of a token",
    ("POST", "admin.edit_user"): "a user's name and HSA-id, and account history rows",
    ("POST", "admin.deactivate_user"): "is_active, ends sessions, revokes tokens; an account event",
    ("POST", "admin.activate_user"): "is_active, and an account history row",
    ("POST", "admin.set_password"): "a password hash, ends sessions; an account history row",
    ("POST", "basis.upload"): "an attachment (and its file in the file store)",
    ("POST", "basis.comment"): "a comment (no history row, no change to the case)",
    ("POST", "api.knowledge_support_attachments"): "an attachment (and its file)",
    ("POST", "api.adaptation_attachments"): "an attachment (and its file)",
    ("POST", "api.case_comments"): "a comment (no history row, no change to the case)",
    ("POST", "account.create_token"): "an API token of the user's own",
    ("POST", "account.revoke_token"): "revoked_at of the user's own token",
    ("POST", "account.change_password"): "a password hash, ends other sessions; an account event",
    ("POST", "account.sign_out_everywhere"): "ends the user's sessions; an account event",
    ("POST", "passwords.send"): "a reset link and its mail in the outbox; an account event",
    ("POST", "passwords.reset"): "a password hash, the link used, sessions ended; an account event",
}


def history(session: Session) -> list[tuple[Any, ...]]:
    session.expire_all()
    table = CaseEvent.__table__
    return [tuple(row) for row in session.execute(sa.select(table).order_by(table.c.id))]


def test_no_route_offers_a_way_to_change_history(runtime: Runtime) -> None:
    app = create_app(runtime)
    writers = set()
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) - SAFE
        assert not methods & {"PUT", "PATCH"}, rule.rule
        if "history" in rule.rule:
            assert methods == set(), f"{rule.rule} must be read-only"
        writers |= {(method, rule.endpoint) for method in methods}
    assert writers == set(WRITERS), "a new writing route: add it to WRITERS, saying what it writes"
    assert [key for key in WRITERS if key[0] == "DELETE"] == [("DELETE", "api.revoke_token")]


def test_writes_through_the_api_and_the_ui_only_append(
    runtime: Runtime, world: World, session: Session
) -> None:
    ra = world.adaptation_in("adopted")
    li = world.implementation(world.adaptation_in("implementing"))
    before = history(session)
    assert len(before) > 20
    api = Api(runtime, world)
    api.fire("regional-adaptations", ra.id, "start_adaptation", "vgr-coordinator")
    api.fire("regional-adaptations", ra.id, "adopt", "vgr-coordinator", expect=403)
    ui = Ui(runtime, world)
    ui.login("local-lead")
    ui.fire(li.id, "acknowledge")
    after = history(session)
    assert after[: len(before)] == before, "an existing history row changed or disappeared"
    added = after[len(before) :]
    triggers = [row[CaseEvent.__table__.c.keys().index("trigger")] for row in added]
    assert triggers == ["start_adaptation", "acknowledge"]


@pytest.mark.parametrize("what", ["case", "user"])
def test_history_cannot_be_removed_with_what_it_refers_to(
    session: Session, world: World, what: str
) -> None:
    ks = world.ks_in("drafting")
    before = history(session)
    statement = (
        sa.text("DELETE FROM cases WHERE id = :id").bindparams(id=ks.id)
        if what == "case"
        else sa.text("DELETE FROM users WHERE id = :id").bindparams(id=world.users["npo-chair"].id)
    )
    with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
        session.execute(statement)
    assert history(session) == before


# SQLite has no TRUNCATE; a DELETE without WHERE fires its triggers (test_history_immutable.py).
@pytest.mark.only_on("postgresql")
def test_postgresql_refuses_truncate(session: Session, world: World) -> None:
    world.ks_in("drafting")
    before = history(session)
    for statement in ("TRUNCATE case_events", "TRUNCATE cases CASCADE"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), session.begin_nested():
            session.execute(sa.text(statement))
        assert history(session) == before
