"""Shared fixtures: a seeded generator and the two joint-histogram code paths."""

from __future__ import annotations

import numpy as np
import pytest

from segeval.metrics import _kernels


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so that every random volume is reproducible."""
    return np.random.default_rng(20240611)


def use_numpy_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Route joint_counts through the pure-NumPy kernels (as SEGEVAL_NO_NUMBA=1 does at import)."""
    monkeypatch.setattr(_kernels, "joint_hist", _kernels._joint_hist_py)
    monkeypatch.setattr(_kernels, "presence", _kernels._presence_py)
    monkeypatch.setattr(_kernels, "minmax", _kernels._minmax_py)


@pytest.fixture(
    params=[
        pytest.param("numba", id="numba"),
        pytest.param("numpy", id="numpy"),
    ]
)
def kernels(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test once on the numba kernels and once on the NumPy fallback."""
    if request.param == "numba":
        if not _kernels.HAVE_NUMBA:
            pytest.skip("numba is not importable (or SEGEVAL_NO_NUMBA is set)")
        # Small test arrays would take the NumPy path in a cold process; force numba.
        monkeypatch.setattr(_kernels, "joint_hist", _kernels._joint_hist_nb)
        monkeypatch.setattr(_kernels, "presence", _kernels._presence_nb)
        monkeypatch.setattr(_kernels, "minmax", _kernels._minmax_nb)
    else:
        use_numpy_kernels(monkeypatch)
    return str(request.param)
