"""The API fuzzed from its own OpenAPI document with schemathesis, in-process over WSGI.

For every operation of ``/api/v1/openapi.json`` (loaded from the Flask app itself, no server),
schemathesis generates requests from the document: valid ones and, in its negative mode, ones
that break it (wrong types, out-of-range numbers, missing fields, odd strings). Each response
must pass:

* ``not_a_server_error``: no 5xx, whatever was sent;
* ``status_code_conformance``: the status is one the document lists for the operation;
* ``content_type_conformance``: the content type is the documented one;
* ``response_schema_conformance``: the body matches the documented schema.

It runs as three callers: a user holding every role at the root (so most triggers are allowed
and requests go deep), a user without any role, and no token at all. The data is a real
organisation with cases in many states (tests/support/world.py); some requests name those
cases' ids, the rest are whatever Hypothesis draws. Generation is derandomized and uses no
example database, so a CI run is the same every time; the example counts keep the file to well
under a minute.

Schemathesis' coverage phase then walks the boundaries of every operation that filters a list
(each parameter missing, empty, at and past its minimum and maximum, of the wrong type, and the
methods the path does not take), with three checks more:

* ``negative_data_rejection``: what the document forbids (an empty filter, an ``offset`` past
  its maximum) is refused with a 4xx;
* ``positive_data_acceptance``: what it allows is answered, except a 422 for a unit code that
  does not exist (the document cannot say which codes do);
* ``unsupported_method``: a method the path does not take is 405 with an ``Allow`` header.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from werkzeug.exceptions import HTTPException

from kflow.accounts import tokens as api_tokens
from kflow.cases.models import FollowUpReport
from kflow.documents.attachments import attach
from kflow.documents.storage import FileStore
from kflow.followup import measurements
from kflow.followup.indicators import define_indicator
from kflow.followup.lists import create_indicator_list
from kflow.org import users as org_users
from kflow.org.roles import Role
from kflow.runtime import Runtime
from kflow.tools.migrate import upgrade
from kflow.tools.seed import seed
from kflow.web import create_app
from kflow.web.api.openapi import openapi_document
from tests.conftest import make_settings
from tests.support import files
from tests.support.world import World

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Security parameters are left to us: each run sends its caller's token (or none) itself.
CONFIG = schemathesis.Config.from_dict(
    {"seed": 20261122, "generation": {"with-security-parameters": False}}
)
COLLECTIONS = {
    "knowledge-supports": "knowledge_support",
    "consultation-responses": "consultation_response",
    "regional-adaptations": "regional_adaptation",
    "local-implementations": "local_implementation",
    "indicator-lists": "indicator_list",
    "follow-up-reports": "follow_up_report",
}
OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in openapi_document()["paths"].items()
    for method in item
    if method in {"get", "post", "put", "patch", "delete"}
)
PUBLIC = {("GET", "/healthz"), ("GET", "/api/v1/openapi.json")}
# Operations that change cases: a caller without roles must never succeed at them.
CASE_WRITES = {(m, p) for m, p in OPERATIONS if m == "POST" and "token" not in p}
# KFLOW_FUZZ_SCALE=10 fuzzes ten times deeper (by hand, not in CI).
SCALE = int(os.environ.get("KFLOW_FUZZ_SCALE", "1"))
BROAD_EXAMPLES = 30 * SCALE
NARROW_EXAMPLES = 5 * SCALE


def label(operation: tuple[str, str]) -> str:
    return f"{operation[0]} {operation[1]}"


@pytest.fixture(scope="module")
def fuzz(database):
    """A database of its own that really commits (the fuzzing changes it from test to test),
    the app on it, its schema as schemathesis loads it over WSGI, and tokens for two users."""
    settings = make_settings()
    runtime = Runtime.create(settings.replace(database_url=database.new_database("fuzz")))
    upgrade(runtime.engine)
    with runtime.transaction() as session:
        seed(session, settings.organisation_path)
    with runtime.transaction() as session:
        world = World.build(session, settings)
        broad = org_users.create_user(session, "alla-roller@test.se", "Alla Roller")
        session.flush()
        for role in Role:
            org_users.grant(session, broad, role, world.units["sverige"])
        world.users["broad"] = broad
        # Cases in many states and on every tier, so generated ids and triggers hit real ones.
        ks = world.ks_in("published")
        ra = world.adaptation_in("implementing", ks)
        li = world.implementation_in("acknowledged", ra)
        consultation = world.ks_in("consultation")
        cases = [ks, ra, li, world.adaptation(ks, "skane"), consultation, world.create_ks()]
        cases.append(world.case_of("consultation_response", consultation, "vgr"))
        case_ids: dict[str, list[int]] = {}
        for case in cases:
            case_ids.setdefault(case.type, []).append(case.id)
        # An indicator and a measurement, so their paths reach real rows too.
        indicator = define_indicator(
            session, world.authority("npo-lead"), ks, name="Andel", unit_of_measure="procent"
        )
        measured = measurements.report(
            session, world.authority("vgr-coordinator"), indicator, world.units["vgr-psyk-1"],
            settings=settings, period="2026-Q1", value=50,
        )  # fmt: skip
        listed = create_indicator_list(
            session, world.authority("vgr-coordinator"), owner="vgr", year=2026, scope="alla",
            title="Fuzz",
        )  # fmt: skip
        target = {"indicator": indicator.id, "unit": "vgr-psyk-1", "target_value": 50}
        world.fire(listed, "set_target", "vgr-coordinator", params=target)
        case_ids["indicator_list"] = [listed.id]
        report = FollowUpReport(
            owner_id=world.units["vgr-psyk-1"].id,
            recipient_id=world.units["vgr-rpo-psyk"].id,
            region_id=world.units["vgr"].id,
            period="2026-T2",
        )
        session.add(report)
        session.flush()
        case_ids["follow_up_report"] = [report.id]
        case_ids["indicator_id"] = [indicator.id]
        case_ids["measurement_id"] = [measured.id]
        # An attachment, so that its download reaches a real file.
        attached = attach(
            session, world.authority("npo-lead"), ks, filename="a.pdf", data=files.PDF,
            store=FileStore(settings.attachments_dir), max_mb=1,
        )  # fmt: skip
        case_ids["attachment_id"] = [attached.id]
        tokens = {}
        for who in ("broad", "nobody"):
            token, plain = api_tokens.create_token(session, world.users[who], "fuzz")
            session.flush()
            tokens[who] = (token.id, plain)
    app = create_app(runtime)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=CONFIG)
    yield Fuzz(app, schema, tokens, case_ids)
    runtime.engine.dispose()


class Fuzz:
    def __init__(self, app, schema, tokens, case_ids) -> None:
        self.app = app
        self.schema = schema
        self.tokens = tokens
        self.case_ids = case_ids

    def strategy(self, operation: tuple[str, str], who: str | None) -> st.SearchStrategy[Any]:
        method, path = operation
        op = self.schema[path][method]
        modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
        strategies = [op.as_strategy(mode) for mode in modes]
        if "{case_id}" in path:
            # Half the time a real case of the collection: deep into the services, not 404.
            ids = self.case_ids[COLLECTIONS[path.split("/")[3]]]
            strategies += [
                st.sampled_from(ids).flatmap(functools.partial(_with_case_id, op, mode))
                for mode in modes
            ]
        for name in ("indicator_id", "measurement_id", "attachment_id"):
            if f"{{{name}}}" in path:
                strategies += [
                    st.sampled_from(self.case_ids[name]).flatmap(
                        functools.partial(_with_path_id, op, mode, name)
                    )
                    for mode in modes
                ]
        strategy = st.one_of(strategies)
        if "{token_id}" in path and who is not None:
            own = self.tokens[who][0]
            strategy = strategy.filter(lambda case: case.path_parameters.get("token_id") != own)
        return strategy

    def run(
        self,
        operation: tuple[str, str],
        who: str | None,
        examples: int,
        extra: Callable[[Any, Any], None] | None = None,
    ) -> list[int]:
        """Fuzz ``operation`` as ``who``; the status codes of the responses."""
        headers = {"Authorization": f"Bearer {self.tokens[who][1]}"} if who else {}
        seen = []

        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=self.strategy(operation, who))
        def check(case: Any) -> None:
            response = case.call_and_validate(app=self.app, headers=headers, checks=CHECKS)
            seen.append(response.status_code)
            if extra is not None:
                extra(case, response)

        check()
        return seen


def _with_case_id(op: Any, mode: GenerationMode, case_id: int) -> Any:
    return op.as_strategy(mode, path_parameters={"case_id": case_id})


def _with_path_id(op: Any, mode: GenerationMode, name: str, value: int) -> Any:
    return op.as_strategy(mode, path_parameters={name: value})


UNKNOWN_UNIT = "det finns ingen enhet med koden"


def positive_data_accepted(ctx: Any, response: Any, case: Any) -> bool | None:
    """``positive_data_acceptance``, but a unit code the document allows need not exist."""
    if response.status_code == 422 and UNKNOWN_UNIT in response.text:
        return None
    return positive_data_acceptance(ctx, response, case)


BOUNDARY_CHECKS = [
    *CHECKS,
    negative_data_rejection,
    positive_data_accepted,
    unsupported_method,
]
# The operations that filter a list (a query parameter besides limit and offset), and the inbox
# for paging alone.
FILTERING = sorted(
    (method.upper(), path)
    for path, item in openapi_document()["paths"].items()
    for method, operation in item.items()
    if path == "/api/v1/inbox"
    or {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    - {"limit", "offset"}
)


@pytest.mark.parametrize("operation", OPERATIONS, ids=label)
def test_fuzz(fuzz, operation):
    """As a user with every role, as a user with none, and with no token."""
    routes = fuzz.app.url_map.bind("localhost")

    def changes_nothing(case: Any, response: Any) -> None:
        if operation in CASE_WRITES:
            assert response.status_code >= 400, (case.formatted_path, case.body)

    def refused(case: Any, response: Any) -> None:
        if operation in PUBLIC:
            return
        try:
            routes.match(case.formatted_path, method=operation[0])
        except HTTPException:
            return  # the path matched no route (a non-numeric id, say): 404 before any login
        assert response.status_code == 401, (case.formatted_path, response.status_code)

    statuses = fuzz.run(operation, "broad", BROAD_EXAMPLES)
    if operation[0] == "GET":  # the fuzzing reached past validation, not only 4xx
        assert any(200 <= status < 300 for status in statuses), statuses
    assert fuzz.run(operation, "nobody", NARROW_EXAMPLES, changes_nothing)
    assert fuzz.run(operation, None, NARROW_EXAMPLES, refused)


@pytest.mark.parametrize("operation", FILTERING, ids=label)
def test_coverage_boundaries(fuzz, operation):
    """Every boundary case schemathesis' coverage phase makes, as the user with every role."""
    method, path = operation
    op = fuzz.schema[path][method]
    config = fuzz.schema.config.generation_for(operation=op)
    headers = {"Authorization": f"Bearer {fuzz.tokens['broad'][1]}"}
    statuses = []
    for case in fuzz.schema.iter_coverage_cases(
        op,
        generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=config,
    ):
        response = case.call_and_validate(app=fuzz.app, headers=headers, checks=BOUNDARY_CHECKS)
        statuses.append(response.status_code)
    # The boundaries were reached: answered lists, refused values, refused methods.
    assert {200, 405, 422} <= set(statuses), sorted(set(statuses))
