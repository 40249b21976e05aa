"""Fixtures of the web tests (tests/web/ and its api/ and ui/ folders)."""

from __future__ import annotations

import pytest
from werkzeug.security import generate_password_hash

from kflow.runtime import Runtime
from tests.support.ui_support import Ui
from tests.support.world import PASSWORD, World


@pytest.fixture
def cheap_ui(runtime: Runtime, world: World) -> Ui:
    """A browser; users sign in with a cheap password hash (scrypt is slow and beside the point)."""
    cheap = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    for user in world.users.values():
        user.password_hash = cheap
    world.session.flush()
    return Ui(runtime, world)
