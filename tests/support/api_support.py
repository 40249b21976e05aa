"""Drive the JSON API over HTTP (Flask's test client) as the users of tests/support/world.py.

Every response any API test receives is checked against the OpenAPI document: the route and
method must be documented, the status code must be listed for that operation, and the body must
match the documented schema, with no undocumented fields. So the document is kept true by every
API test, not only by tests/web/api/test_openapi.py.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from werkzeug.exceptions import HTTPException

from kflow.accounts import tokens as api_tokens
from kflow.org import units as org_units
from kflow.org import users as org_users
from kflow.runtime import Runtime
from kflow.web import create_app
from kflow.web.api.openapi import openapi_document
from tests.support.world import World

_PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>")


def strict(schema: Any) -> Any:
    """A copy of ``schema`` where every object with declared properties allows no others."""
    if isinstance(schema, dict):
        out = {key: strict(value) for key, value in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


class OpenApiChecker:
    """Checks real responses against an OpenAPI document (by default kflow's own)."""

    def __init__(self, app: Flask, document: dict[str, Any] | None = None) -> None:
        self.app = app
        self.document = document if document is not None else openapi_document()
        self.components = strict(copy.deepcopy(self.document.get("components", {})))
        self.checked: list[tuple[str, str, int]] = []

    def template(self, method: str, path: str) -> str | None:
        """The documented path template the app routes ``path`` to (None: no route)."""
        adapter = self.app.url_map.bind("localhost")
        try:
            rule, args = adapter.match(path, method=method, return_rule=True)
        except HTTPException:
            return None
        template = rule.rule
        if "collection" in args:
            template = template.replace("<collection>", args["collection"])
        return _PLACEHOLDER.sub(r"{\1}", template)

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        root = {**strict(copy.deepcopy(schema)), "components": self.components}
        return Draft202012Validator(root, format_checker=FormatChecker())

    def check(self, method: str, path: str, status: int, body: Any) -> None:
        template = self.template(method, path.split("?", 1)[0])
        operation = (self.document["paths"].get(template or "") or {}).get(method.lower())
        if operation is None:
            # Not an API operation (unknown collection, wrong method): only a §3 error may come.
            assert status in (404, 405), f"{method} {path} is undocumented but answered {status}"
            schema = self.document["components"]["schemas"]["Error"]
        else:
            responses = operation["responses"]
            key = str(status) if str(status) in responses else "default"
            assert key in responses, (
                f"{method} {template} answered {status}, which the document does not list "
                f"(it lists {sorted(responses)}): {body}"
            )
            content = responses[key].get("content", {}).get("application/json")
            if content is None:
                assert body is None or status < 300, f"{method} {template} {status}: {body}"
                self.checked.append((method, template or path, status))
                return
            schema = content["schema"]
        errors = sorted(self.validator(schema).iter_errors(body), key=str)
        assert not errors, f"{method} {path} {status} does not match the document: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
        )
        self.checked.append((method, template or path, status))


@dataclasses.dataclass
class Reply:
    status: int
    json: Any
    headers: Any

    @property
    def code(self) -> str | None:
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), dict):
            return str(self.json["error"].get("code"))
        return None


class Api:
    """HTTP as the users of a World; each user gets a real API token on first use."""

    def __init__(self, runtime: Runtime, world: World) -> None:
        self.world = world
        self.app = create_app(runtime)
        self.client: FlaskClient = self.app.test_client()
        self.checker = OpenApiChecker(self.app)
        self.tokens: dict[str, str] = {}

    def token(self, who: str) -> str:
        if who not in self.tokens:
            _, plain = api_tokens.create_token(self.world.session, self.world.users[who], "tests")
            self.world.session.flush()
            self.tokens[who] = plain
        return self.tokens[who]

    def add_user(self, who: str, role: str, unit: str) -> None:
        """A further user (e-mail ``who``@test.se) holding ``role`` in ``unit``."""
        session = self.world.session
        user = org_users.create_user(session, f"{who}@test.se", who)
        session.flush()
        org_users.grant(session, user, role, org_units.unit_by_code(session, unit))
        session.flush()
        self.world.users[who] = user

    def request(
        self,
        method: str,
        path: str,
        *,
        who: str | None = None,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
        expect: int | None = None,
    ) -> Reply:
        headers = dict(headers or {})
        if who is not None:
            headers.setdefault("Authorization", f"Bearer {self.token(who)}")
        kwargs: dict[str, Any] = {"headers": headers, "query_string": query}
        if json is not None:
            kwargs["json"] = json
        elif data is not None:
            kwargs["data"] = data
        response = self.client.open(path, method=method, **kwargs)
        assert response.mimetype == "application/json", (method, path, response.mimetype)
        body = None if response.status_code == 204 else response.get_json()
        assert response.status_code != 204 or not response.data, (method, path)
        reply = Reply(response.status_code, body, response.headers)
        self.checker.check(method, path, reply.status, reply.json)
        if expect is not None:
            assert reply.status == expect, f"{method} {path} as {who}: {reply.status} {reply.json}"
        return reply

    def get(self, path: str, who: str | None, expect: int | None = 200, **query: Any) -> Any:
        return self.request("GET", path, who=who, query=query, expect=expect).json

    def post(self, path: str, who: str | None, body: Any, expect: int | None = 200) -> Any:
        return self.request("POST", path, who=who, json=body, expect=expect).json

    def fire(
        self,
        collection: str,
        case_id: int,
        trigger: str,
        who: str,
        expect: int | None = 200,
        **body: Any,
    ) -> Any:
        return self.post(
            f"/api/v1/{collection}/{case_id}/transitions",
            who,
            {"trigger": trigger, **body},
            expect=expect,
        )

    def error(
        self, method: str, path: str, who: str | None, status: int, code: str, **kwargs: Any
    ) -> Reply:
        """Make a request that must fail with ``status`` and the §3 error ``code``."""
        reply = self.request(method, path, who=who, **kwargs)
        assert (reply.status, reply.code) == (status, code), (
            f"{method} {path} as {who}: expected {status} {code}, got {reply.status} {reply.json}"
        )
        message = reply.json["error"]["message"]
        assert isinstance(message, str) and len(message) > 10, reply.json
        return reply

    def fire_error(
        self,
        collection: str,
        case_id: int,
        trigger: str,
        who: str,
        status: int,
        code: str,
        **body: Any,
    ) -> Reply:
        return self.error(
            "POST",
            f"/api/v1/{collection}/{case_id}/transitions",
            who,
            status,
            code,
            json={"trigger": trigger, **body},
        )

    def case(self, collection: str, case_id: int, who: str) -> Any:
        return self.get(f"/api/v1/{collection}/{case_id}", who)

    def history(self, collection: str, case_id: int, who: str, **query: Any) -> Any:
        return self.get(f"/api/v1/{collection}/{case_id}/history", who, **query)

    def items(self, path: str, who: str, **query: Any) -> list[Any]:
        """Every item of a list endpoint (follows the pages)."""
        query.setdefault("limit", 500)
        first = self.get(path, who, **query)
        items = list(first["items"])
        while len(items) < first["total"]:
            page = self.get(path, who, **{**query, "offset": len(items)})
            assert page["items"], "a list promised more items than it gave"
            items += page["items"]
        assert len(items) == first["total"]
        return items
