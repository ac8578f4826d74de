"""Fixtures for the batch tests: the messy pred/gt scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.batching._data import make_scenario


@pytest.fixture
def scenario(tmp_path: Path) -> dict[str, Any]:
    return make_scenario(tmp_path)
