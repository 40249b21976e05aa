"""Pages of a list: limit and offset as a person or a client gives them, checked, and a page
with its total."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from kflow.errors import ValidationError

DEFAULT_LIMIT = 50


MAX_LIMIT = 500


MAX_OFFSET = 2**31 - 1  # the largest offset every database takes


@dataclasses.dataclass
class Page:
    items: Sequence[Any]
    total: int


def page_args(limit: Any, offset: Any) -> tuple[int, int]:
    try:
        lim = DEFAULT_LIMIT if limit in (None, "") else int(limit)
        off = 0 if offset in (None, "") else int(offset)
    except (TypeError, ValueError):
        raise ValidationError("limit och offset måste vara heltal.") from None
    if not 1 <= lim <= MAX_LIMIT:
        raise ValidationError(f"limit måste vara mellan 1 och {MAX_LIMIT}.")
    if off < 0:
        raise ValidationError("offset får inte vara negativt.")
    if off > MAX_OFFSET:
        raise ValidationError(f"offset får vara högst {MAX_OFFSET}.")
    return lim, off
