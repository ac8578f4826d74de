"""segeval.gate.stats (and segeval.summary.statistic): statistics, bootstrap intervals, Wilcoxon test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segeval.gate import bootstrap_ci, statistic, wilcoxon_p
from tests.gate._data import INF, NAN


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40),
    st.sampled_from(["mean", "median", "min", "max", "p5", "p25", "p95", "p2.5"]),
)
def test_statistic_matches_numpy(values: list[float], stat: str) -> None:
    arr = np.asarray(values)
    expected = {"mean": np.mean, "median": np.median, "min": np.min, "max": np.max}.get(stat)
    want = expected(arr) if expected else np.percentile(arr, float(stat[1:]))
    assert statistic(values, stat) == pytest.approx(float(want), rel=1e-9, abs=1e-6)


def test_statistic_nan_and_inf() -> None:
    assert statistic([1.0, NAN, 3.0], "mean") == 2.0
    assert math.isnan(statistic([NAN, NAN], "median"))
    assert statistic([1.0, INF], "mean") == INF
    assert statistic([INF, INF, 1.0], "p95") == INF  # no inf - inf = NaN in the interpolation
    assert statistic([1.0, 2.0, INF], "median") == 2.0


def test_bootstrap_is_deterministic_and_brackets_the_mean() -> None:
    d = list(np.random.default_rng(0).normal(0.01, 0.02, 40))
    a, b = bootstrap_ci(d, seed=0), bootstrap_ci(d, seed=0)
    assert a == b
    assert a[0] < float(np.mean(d)) < a[1]
    assert bootstrap_ci(d, seed=1) != a
    assert bootstrap_ci([0.2]) == (0.2, 0.2)
    assert all(math.isnan(x) for x in bootstrap_ci([1.0, INF]))


def test_wilcoxon_edge_cases() -> None:
    assert wilcoxon_p([0.0] * 5) == 1.0
    assert wilcoxon_p([]) == 1.0
    assert 0.0 < wilcoxon_p([0.1, 0.0, 0.0]) <= 1.0
    # ten positive differences, no ties: exact two-sided p = 2 / 2**10
    assert wilcoxon_p([0.01 * k for k in range(1, 11)]) == pytest.approx(2 / 1024)
    assert wilcoxon_p([-0.01 * k for k in range(1, 11)]) == pytest.approx(2 / 1024)
