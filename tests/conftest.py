"""Shared fixtures: a seeded generator and the two kernel paths (compiled and NumPy)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from segeval.metrics import _numba


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so that every random volume is reproducible."""
    return np.random.default_rng(20240611)


@pytest.fixture(
    params=[
        pytest.param("numba", id="numba"),
        pytest.param("numpy", id="numpy"),
    ]
)
def kernels(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a test once on the numba kernels and once on the NumPy fallback (every kernel of segeval)."""
    if request.param == "numba" and not _numba.HAVE_NUMBA:
        pytest.skip("numba is not importable (or SEGEVAL_NO_NUMBA is set)")
    # Small test arrays would take the NumPy path in a cold process; force the choice.
    with _numba.forced(request.param == "numba"):
        yield str(request.param)
