"""TUI fixtures: the test's daemon seeded with the fixed records, and the app opened on it."""

from __future__ import annotations

import pytest

from tests.harness import Daemon
from tests.tui.helpers import Tui, seed


@pytest.fixture
def seeded(daemon: Daemon) -> Daemon:
    """The `daemon` fixture holding the fixed SEED records."""
    seed(daemon)
    return daemon


@pytest.fixture
def tui(daemon: Daemon) -> Tui:
    """Opens the app on the `daemon` fixture, so on the seeded one when a test also asks for `seeded`."""
    return Tui(daemon)
