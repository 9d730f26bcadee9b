"""The `beds` fixture: one bed per agent for a whole test module (agent CLIs start slowly)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.agents_e2e.bed import Beds


@pytest.fixture(scope="module")
def beds() -> Iterator[Beds]:
    holder = Beds()
    with holder.stack:
        yield holder
