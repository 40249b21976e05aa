"""The JSON API under /api/v1: bearer tokens, JSON in and out, errors as lifecycle.md §3.

kflow.web.api.base holds the blueprint and what every operation shares; the operations are in
kflow.web.api.cases, kflow.web.api.tokens, kflow.web.api.followup, kflow.web.api.results and
kflow.web.api.basis (attachments and comments),
imported here so that their routes are added.
"""

from kflow.web.api import (  # noqa: F401 (their routes are added)
    basis,
    cases,
    followup,
    results,
    tokens,
)
from kflow.web.api.base import bp

__all__ = ["bp"]
