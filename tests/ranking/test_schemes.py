"""The schemes on arrays: min ranks, Holm, the Wilcoxon p-values against SciPy, and each scheme's winner."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.stats import rankdata, wilcoxon

from segeval.metrics import _numba
from segeval.ranking import _wilcoxon_jit, schemes
from segeval.ranking.stability import resample_counts

# Three schemes, three winners (submissions T, R, M, D over 30 cases, higher is better):
# M has the best mean (three big wins), R is first in most cases (21 of 30, narrowly), and T is the
# only one that beats two others significantly (M in 27 of 30 cases, and D); R and M beat only D.
T = [0.8] * 27 + [0.6] * 3
R = [0.81] * 21 + [0.7] * 6 + [0.55] * 3
M = [0.78] * 27 + [0.9] * 3
D = [0.5] * 30
WINNERS = np.array([T, R, M, D])


def test_min_rank_is_rankdata_min_of_the_negated_scores() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, size=(7, 40)).astype(float)  # many ties
    for axis in (0, 1):
        expected = rankdata(-x, method="min", axis=axis)
        np.testing.assert_array_equal(schemes.min_rank(x, axis=axis), expected)
    assert schemes.min_rank(np.array([0.9, 0.9, 0.9])).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        # R: p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "holm") -> 0.05 0.08 0.09 0.09 0.09
        pytest.param([0.01, 0.02, 0.03, 0.04, 0.05], [0.05, 0.08, 0.09, 0.09, 0.09], id="step-down"),
        # the largest p-value times 1 can be below the running maximum: it takes the maximum
        pytest.param([0.04, 0.001, 0.3], [0.08, 0.003, 0.3], id="unsorted"),
        pytest.param([0.6, 0.7], [1.0, 1.0], id="capped-at-1"),
        # NaN is kept and not counted in m: p.adjust(c(0.01, NA, 0.04), "holm") -> 0.02 NA 0.04
        pytest.param([0.01, math.nan, 0.04], [0.02, math.nan, 0.04], id="nan-not-counted"),
    ],
)
def test_holm(p: list[float], expected: list[float]) -> None:
    np.testing.assert_allclose(schemes.holm(np.array(p)), expected, rtol=1e-12)


def test_holm_row_by_row() -> None:
    p = np.array([[0.01, 0.02], [0.5, 0.01]])
    np.testing.assert_allclose(schemes.holm(p, axis=1), [[0.02, 0.02], [0.5, 0.02]])


def test_wilcoxon_by_hand() -> None:
    """|d| sorted: 0.5-, 0.7+, 1.0-, 1.5+, 1.5+, 2.0+, 2.5+, 3.0+: ranks 1, 2, 3, 4.5, 4.5, 6, 7, 8.
    W+ = 32, n = 8, mu = 18, sigma^2 = 8*9*17/24 - (2^3 - 2)/48 = 50.875; z = (32 - 18 - 0.5) / sigma."""
    d = np.array([1.5, 1.5, -0.5, 2.0, 2.5, -1.0, 3.0, 0.7])
    z = (32 - 18 - 0.5) / math.sqrt(50.875)
    p_greater = 0.5 * math.erfc(z / math.sqrt(2))
    scores = np.stack([d, np.zeros_like(d)])
    p = schemes.wilcoxon_greater(scores)
    assert p[0, 1] == pytest.approx(p_greater, rel=1e-12)
    g, lo = schemes.wilcoxon_greater_counts(d, np.ones((1, d.size)))
    assert g[0] == pytest.approx(p_greater, rel=1e-12)
    assert lo[0] == pytest.approx(p[1, 0], rel=1e-12)
    assert p_greater == pytest.approx(0.02920, abs=1e-5)


def test_wilcoxon_pairs_are_scipys_one_sided_tests() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 25)).round(1)  # ties and zero differences
    p = schemes.wilcoxon_greater(x)
    for i in range(5):
        for j in range(5):
            if i == j:
                assert math.isnan(p[i, j])
                continue
            ref = wilcoxon(x[i], x[j], alternative="greater", method="asymptotic", correction=True).pvalue
            assert p[i, j] == pytest.approx(ref, rel=1e-12)


def test_wilcoxon_on_resamples_is_scipy_on_the_resampled_cases() -> None:
    rng = np.random.default_rng(2)
    d = rng.normal(size=40).round(1)
    d[:3] = 0.0
    counts = resample_counts(40, 60, seed=3)
    g, lo = schemes.wilcoxon_greater_counts(d, counts)
    for b, row in enumerate(counts):
        drawn = np.repeat(d, row)
        assert g[b] == pytest.approx(wilcoxon(drawn, alternative="greater", method="asymptotic",
                                              correction=True).pvalue, rel=1e-12)
        assert lo[b] == pytest.approx(wilcoxon(drawn, alternative="less", method="asymptotic",
                                               correction=True).pvalue, rel=1e-12)


def test_all_zero_differences_win_nothing() -> None:
    x = np.array([[0.5, 0.6, 0.7], [0.5, 0.6, 0.7]])
    assert np.isnan(schemes.wilcoxon_greater(x)[0, 1])
    assert np.isnan(schemes.wilcoxon_greater_counts(x[0] - x[1], np.ones((2, 3)))[0]).all()
    wins, ranks = schemes.test_then_rank(x)
    assert wins.tolist() == [[0.0, 0.0]] and ranks.tolist() == [[1.0, 1.0]]


@pytest.mark.skipif(not _numba.HAVE_NUMBA, reason="numba is not installed")
def test_compiled_bootstrap_wilcoxon_equals_numpy() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(6, 30)).round(1)
    counts = resample_counts(30, 40, seed=5).astype(np.float64)
    with _numba.forced(False):
        plain = schemes._bootstrap_p(x, counts)
    with _numba.forced(True):
        compiled = schemes._bootstrap_p(x, counts)
    np.testing.assert_allclose(compiled, plain, rtol=1e-12, equal_nan=True)
    w_plus, n, ties = _wilcoxon_jit.pair_statistics((x[0] - x[1])[None], np.ones((1, 30), dtype=np.int32))
    d = (x[0] - x[1])[x[0] != x[1]]
    ranks = rankdata(np.abs(d))
    assert w_plus[0, 0] == pytest.approx(ranks[d > 0].sum()) and n[0, 0] == d.size
    _, t = np.unique(np.abs(d), return_counts=True)
    assert ties[0, 0] == pytest.approx(float((t**3 - t).sum()))


def test_each_scheme_has_its_own_winner() -> None:
    agg, atr = schemes.aggregate_then_rank(WINNERS)
    np.testing.assert_allclose(agg[0], [0.78, 0.762, 0.792, 0.5])  # means
    assert atr[0].tolist() == [2, 3, 1, 4]  # M
    mean_rank, rta = schemes.rank_then_aggregate(WINNERS)
    # R: 21 cases first, 9 third = 48/30; T: 21 second, 6 first, 3 second = 54/30; M: 63+12+3 = 78/30
    np.testing.assert_allclose(mean_rank[0], [1.8, 1.6, 2.6, 4.0])
    assert rta[0].tolist() == [2, 1, 3, 4]  # R
    wins, ttr = schemes.test_then_rank(WINNERS)
    assert wins[0].tolist() == [2, 1, 1, 0]  # T beats M and D; R and M beat D only
    assert ttr[0].tolist() == [1, 2, 2, 4]  # T; R and M tie and take the minimum rank
    _, median_atr = schemes.aggregate_then_rank(WINNERS, aggregate="median")
    assert median_atr[0].tolist() == [2, 1, 3, 4]


def test_test_then_rank_counts_holm_adjusted_scipy_tests() -> None:
    """The wins, counted here from SciPy's p-values and Holm written out, against the scheme."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(5, 30)) + np.arange(5)[:, None] * 0.25
    pairs = [(i, j) for i in range(5) for j in range(5) if i != j]
    p = np.array([wilcoxon(x[i], x[j], alternative="greater", method="asymptotic", correction=True).pvalue
                  for i, j in pairs])
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for k, idx in enumerate(order):
        running = max(running, min(1.0, (len(p) - k) * p[idx]))
        adjusted[idx] = running
    for adjust, values in (("holm", adjusted), ("none", p)):
        expected = np.zeros(5)
        for (i, _), v in zip(pairs, values):
            expected[i] += v <= 0.05
        wins, ranks = schemes.test_then_rank(x, p_adjust=adjust)
        assert wins[0].tolist() == expected.tolist()
        assert ranks[0].tolist() == rankdata(-expected, method="min").tolist()
    assert schemes.test_then_rank(x, p_adjust="none")[0].sum() >= schemes.test_then_rank(x)[0].sum()


@pytest.mark.parametrize("scheme", ["aggregate-then-rank", "rank-then-aggregate", "test-then-rank"])
@pytest.mark.parametrize("aggregate", ["mean", "median"])
def test_resampled_ranking_is_the_ranking_of_the_resampled_cases(scheme: str, aggregate: str) -> None:
    """The bootstrap's shortcut (draw counts, ranks computed once) against re-ranking the drawn cases."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 8, size=(5, 24)) / 8.0  # ties within cases
    counts = resample_counts(24, 12, seed=8)

    def run(values: np.ndarray, c: np.ndarray | None) -> np.ndarray:
        if scheme == "aggregate-then-rank":
            return schemes.aggregate_then_rank(values, c, aggregate=aggregate)[1]
        if scheme == "rank-then-aggregate":
            return schemes.rank_then_aggregate(values, c, aggregate=aggregate)[1]
        return schemes.test_then_rank(values, c)[1]

    fast = run(x, counts.astype(np.float64))
    for b, row in enumerate(counts):
        drawn = x[:, np.repeat(np.arange(24), row)]
        np.testing.assert_array_equal(fast[b], run(drawn, None)[0])


@pytest.mark.parametrize("scheme", ["aggregate-then-rank", "rank-then-aggregate"])
def test_identical_submissions_tie_in_every_resample(scheme: str) -> None:
    """A matrix product sums two equal columns in different orders (here OpenBLAS splits submissions
    0 and 49 by an ulp: ``counts @ x.T``); the means must still be equal, and tie."""
    rng = np.random.default_rng(9)
    x = rng.random((50, 500))
    x[49] = x[0]
    counts = resample_counts(500, 150, seed=10).astype(np.float64)
    run = schemes.aggregate_then_rank if scheme == "aggregate-then-rank" else schemes.rank_then_aggregate
    agg, ranks = run(x, counts)
    np.testing.assert_array_equal(agg[:, 0], agg[:, 49])
    np.testing.assert_array_equal(ranks[:, 0], ranks[:, 49])


def test_holm_decisions_from_one_sort_equal_the_adjusted_p_values() -> None:
    rng = np.random.default_rng(11)
    p = rng.uniform(0, 0.08, size=(400, 30)) ** rng.uniform(0.5, 3, size=(400, 1))
    p[rng.uniform(size=p.shape) < 0.05] = np.nan
    p[:, 5] = p[:, 4]  # ties
    expected = schemes.holm(p, axis=1) <= 0.05
    np.testing.assert_array_equal(schemes._holm_significant(p, 0.05), expected)
    assert expected.any() and not expected.all()


def _matrices() -> st.SearchStrategy[np.ndarray]:
    """Small submissions x cases matrices on a quarter grid (sums and differences exact, many ties)."""
    shapes = st.tuples(st.integers(2, 6), st.integers(2, 12))
    return shapes.flatmap(lambda shape: hnp.arrays(np.float64, shape,
                                                   elements=st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])))


@settings(max_examples=25, deadline=None)
@given(x=_matrices(), seed=st.integers(0, 2**16))
def test_rankings_follow_the_submissions_and_ignore_a_per_case_offset(x: np.ndarray, seed: int) -> None:
    """Every scheme: ranks in 1..S with a 1 among them; permuting the submissions permutes their ranks.
    The rank-based schemes ignore an offset added to every submission's value on a case (a hard case)."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(x.shape[0])
    offset = rng.integers(-3, 4, size=x.shape[1]).astype(np.float64)  # exact on the quarter grid
    for scheme in (schemes.aggregate_then_rank, schemes.rank_then_aggregate, schemes.test_then_rank):
        ranks = scheme(x)[1][0]
        assert ranks.min() == 1 and ranks.max() <= x.shape[0]
        np.testing.assert_array_equal(scheme(x[perm])[1][0], ranks[perm])
    for scheme in (schemes.rank_then_aggregate, schemes.test_then_rank):
        np.testing.assert_array_equal(scheme(x + offset)[1][0], scheme(x)[1][0])
