"""``among(column, name)``: a column's value is one of a list given at execution as ``name``.

On SQLite it is SQLAlchemy's expanding ``IN``, one placeholder per value. On PostgreSQL it is
``column = ANY(:name)`` with the whole list bound as one array: the same condition (PostgreSQL
plans an ``IN`` list as ``= ANY`` of an array anyway, with the values known), but one
placeholder instead of hundreds. A region's list statements name their units a few hundred
times; psycopg turns every placeholder into its own before sending a statement (in Python, and
uncached for statements that long), which cost about 9 ms a statement on Försenade at 3.1
million cases.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator


class Among(ColumnElement[bool]):
    """See the module docstring; build with :func:`among`."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition already (SQLite would add "= 1" otherwise)
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.name = name


def among(column: Any, name: str) -> ColumnElement[bool]:
    return Among(column, name)


def few(column: Any, name: str) -> ColumnElement[bool]:
    """An ``IN`` list on every engine, for lists that are short and most often one value (a
    person's regions): PostgreSQL reads ``IN`` of one value as ``=`` and can then read an
    index in order (Försenade's first page), which it cannot for ``= ANY`` of an array."""
    return column.in_(bindparam(name, expanding=True))  # type: ignore[no-any-return]


@compiles(Among)
def _expanding(element: Among, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw))


class _Values(TypeDecorator[Any]):
    """An array parameter that takes any collection (a tuple or set as well as a list)."""

    impl = ARRAY
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return None if value is None else list(value)


@compiles(Among, "postgresql")
def _array(element: Among, compiler: Any, **kw: Any) -> str:
    values = bindparam(element.name, type_=_Values(element.column.type))
    return str(compiler.process(element.column == any_(values), **kw))
