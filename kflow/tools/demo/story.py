"""What a demo story says: a knowledge support, the state to drive it to, and how each region
adapts it. Days are counted back from the day the demo is loaded ("120" = 120 days ago)."""

from __future__ import annotations

import dataclasses

# Local implementation: unit code -> state to leave it in.
Locals = dict[str, str]


@dataclasses.dataclass(frozen=True)
class Regional:
    """One region's adaptation of a published knowledge support."""

    region: str
    until: str  # the state to leave it in
    start: int  # days ago of its first step
    gap: int = 20  # days between its steps
    locals: Locals = dataclasses.field(default_factory=dict)
    assign: str | None = None  # a regional group to assign it to first


@dataclasses.dataclass(frozen=True)
class Story:
    title: str
    kind: str
    owner: str
    until: str  # knowledge-support state to drive it to
    start: int  # days ago it was identified
    description: str | None = None
    regional: tuple[Regional, ...] = ()
    # For a story left in consultation: the channel, and the deadline in days from today
    # (None: the default from the consultation calendar).
    channel: str = "remiss"
    deadline_in: int | None = None
    # How the four demo regions answer consultations (kflow.tools.demo.texts.RESPONSE_PATTERNS).
    responses: int = 0
