"""Drive the web UI through Flask's test client as the users of tests/support/world.py.

Pages are parsed with the standard library's HTMLParser into a small element list, so tests can
ask for buttons, fields and table cells by their labels and ids instead of matching markup.
"""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from kflow.org import users as org_users
from kflow.runtime import Runtime
from kflow.web import create_app
from tests.support.world import PASSWORD, World

VOID = {"input", "br", "meta", "link", "img", "hr", "col", "area", "base", "source", "wbr"}
# Tags whose text reads as separate from its neighbours' (a browser would break the line).
BLOCK = {
    "p",
    "div",
    "li",
    "dt",
    "dd",
    "tr",
    "td",
    "th",
    "br",
    "h1",
    "h2",
    "h3",
    "section",
    "caption",
    "legend",
    "label",
    "option",
    "button",
    "summary",
    "blockquote",
    "ul",
    "ol",
    "dl",
}


@dataclasses.dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parent: Element | None
    children: list[Element] = dataclasses.field(default_factory=list)
    parts: list[str] = dataclasses.field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        found = []
        for child in self.children:
            if (tag is None or child.tag == tag) and all(
                child.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items()
            ):
                found.append(child)
            found.extend(child.find_all(tag, **attrs))
        return found

    def find(self, tag: str | None = None, **attrs: str) -> Element:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag}> with {attrs}"
        return found[0]

    def by_id(self, element_id: str) -> Element:
        return self.find(None, id=element_id)

    def has_id(self, element_id: str) -> bool:
        return bool(self.find_all(None, id=element_id))


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {}, None)
        self.current = self.root

    def _gap(self, tag: str) -> None:
        if tag in BLOCK:
            self.handle_data(" ")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._gap(tag)
        element = Element(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Element(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag: str) -> None:
        self._gap(tag)
        node: Element | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        node: Element | None = self.current
        while node is not None:
            node.parts.append(data)
            node = node.parent


def parse(html: str) -> Element:
    parser = _Parser()
    parser.feed(html)
    return parser.root


@dataclasses.dataclass
class Page:
    response: TestResponse

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def html(self) -> str:
        return self.response.get_data(as_text=True)

    @property
    def doc(self) -> Element:
        return parse(self.html)

    @property
    def text(self) -> str:
        return self.doc.find("main").text

    def buttons(self) -> list[str]:
        return [b.text for b in self.doc.find("main").find_all("button")]

    def trigger_forms(self) -> list[str]:
        """The triggers the page offers (hidden ``trigger`` fields of the forms in <main>)."""
        return [i.attrs["value"] for i in self.doc.find("main").find_all("input", name="trigger")]


class Ui:
    """A browser-like client: signs in with e-mail and password, keeps the session cookie."""

    def __init__(self, runtime: Runtime, world: World, *, csrf: bool = False) -> None:
        self.world = world
        self.app = create_app(runtime, config_override={"WTF_CSRF_ENABLED": csrf})
        self.client: FlaskClient = self.app.test_client()
        self.who: str | None = None

    def set_password(self, who: str) -> None:
        user = self.world.users[who]
        if not user.password_hash:
            org_users.set_password(user, PASSWORD)
            self.world.session.flush()

    def login(self, who: str) -> Page:
        self.set_password(who)
        self.client.post("/logout")
        page = self.post("/login", {"email": f"{who}@test.se", "password": PASSWORD})
        assert page.status == 303, page.html
        self.who = who
        return page

    def get(self, path: str, expect: int | None = 200, **query: Any) -> Page:
        page = Page(self.client.get(path, query_string=query or None))
        if expect is not None:
            assert page.status == expect, f"GET {path}: {page.status}\n{page.html[:3000]}"
        return page

    def post(self, path: str, data: Any, expect: int | None = None) -> Page:
        page = Page(self.client.post(path, data=data))
        if expect is not None:
            assert page.status == expect, f"POST {path}: {page.status}\n{page.html[:3000]}"
        return page

    def fire(self, case_id: int, trigger: str, expect: int | None = 303, **fields: Any) -> Page:
        """Post a case page's form for ``trigger``, with the lock version the page shows."""
        if "lock_version" not in fields:
            page = self.get(f"/arenden/{case_id}")
            form = page.doc.by_id(f"handling-{trigger}")
            fields["lock_version"] = form.find("input", name="lock_version").attrs["value"]
        return self.post(
            f"/arenden/{case_id}/handling", {"trigger": trigger, **fields}, expect=expect
        )


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no csrf_token field"
    return found.group(1)
