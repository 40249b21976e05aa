"""What every command shares: the runtime, and errors as one sentence and a non-zero exit."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from kflow.config import ConfigError
from kflow.errors import KflowError
from kflow.runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])


def runtime() -> Runtime:
    """The command's runtime: the one given to the root command (tests), or one made now."""
    ctx = click.get_current_context()
    root = ctx.find_root()
    if root.obj is None:
        root.obj = Runtime.create()
    rt: Runtime = root.obj
    return rt


def friendly(func: F) -> F:
    """Turn kflow's and the database's errors into one sentence on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KflowError as exc:
            raise click.ClickException(f"{exc.message} ({exc.code})") from None
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:  # e.g. the SQLite file's directory cannot be created
            where = f" {exc.filename}" if exc.filename else ""
            raise click.ClickException(f"Could not use{where}: {exc.strerror or exc}.") from None
        except (OperationalError, ProgrammingError) as exc:
            # SQLite reports a missing table as OperationalError, PostgreSQL as ProgrammingError;
            # the driver's text may run over several lines (hints, the failing SQL): keep the first.
            reason = (str(exc.orig).strip().splitlines() or ["unknown error"])[0].rstrip(".")
            raise click.ClickException(
                f"The database could not be used: {reason}. Is it migrated (kflow db upgrade)?"
            ) from None

    return wrapper  # type: ignore[return-value]
