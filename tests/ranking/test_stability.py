"""The bootstrap: seeded draws, reproducible rankings, intervals that hold the full-data rank."""

from __future__ import annotations

import numpy as np
import pytest

import segeval
from segeval.ranking.stability import BOOTSTRAP_CHUNK, resample_counts, stability
from tests.ranking._data import matrix_reports


def spread_reports(n_subs: int = 6, n_cases: int = 40, seed: int = 0) -> dict[str, segeval.Report]:
    """Submissions of increasing skill, with per-case noise: the ranking is mostly, not fully, stable."""
    rng = np.random.default_rng(seed)
    hard = rng.normal(0, 0.1, n_cases)
    rows = {f"s{s}": np.clip(0.6 + 0.04 * s - hard + rng.normal(0, 0.05, n_cases), 0, 1).tolist()
            for s in range(n_subs)}
    return matrix_reports(rows)


def test_draws_depend_on_the_seed_alone() -> None:
    n = 2 * BOOTSTRAP_CHUNK + 30
    whole = resample_counts(17, n, seed=42)
    assert whole.shape == (n, 17) and (whole.sum(axis=1) == 17).all()
    parts = np.concatenate([resample_counts(17, n, seed=42, start=a, stop=a + 37) for a in range(0, n, 37)])
    np.testing.assert_array_equal(parts, whole)
    assert not np.array_equal(resample_counts(17, n, seed=43), whole)


def test_a_seed_gives_the_same_ranking_and_intervals() -> None:
    subs = spread_reports()
    one = segeval.rank(subs, bootstrap=300, seed=7)
    two = segeval.rank(subs, bootstrap=300, seed=7)
    assert one.stability is not None and two.stability is not None
    np.testing.assert_array_equal(one.stability.ranks, two.stability.ranks)
    assert one.to_dict() == two.to_dict()
    other = segeval.rank(subs, bootstrap=300, seed=8)
    assert other.stability is not None and not np.array_equal(other.stability.ranks, one.stability.ranks)
    assert one.settings["bootstrap"] == 300 and one.settings["seed"] == 7


@pytest.mark.parametrize("scheme", ["rank-then-aggregate", "aggregate-then-rank", "test-then-rank"])
def test_intervals_contain_the_full_data_rank(scheme: str) -> None:
    ranking = segeval.rank(spread_reports(), scheme=scheme, bootstrap=200, seed=1)
    st = ranking.stability
    assert st is not None
    assert ((st.low <= ranking.ranks) & (ranking.ranks <= st.high)).all()
    assert (st.frequencies.sum(axis=1) == 200).all()
    assert st.ranks.shape == (200, 6)
    tau = st.tau_summary()
    assert 0.5 < tau["median"] <= 1.0 and tau["n_nan"] == 0


def test_stability_summaries_by_hand() -> None:
    """Ranks of two submissions over 5 samples; percentiles as R's quantile type 7 (linear)."""
    ranks = np.array([[1, 2], [1, 2], [2, 1], [1, 2], [1, 2]])
    st = stability(ranks, np.array([1, 2]))
    assert st.median.tolist() == [1.0, 2.0]
    # Sorted [1, 1, 1, 1, 2]: the 2.5th percentile (position 0.1) is 1, the 97.5th (position 3.9) 1.9;
    # sorted [1, 2, 2, 2, 2]: 1 + 0.1 * (2 - 1) = 1.1 and 2.
    np.testing.assert_allclose(st.low, [1.0, 1.1])
    np.testing.assert_allclose(st.high, [1.9, 2.0])
    assert st.frequencies.tolist() == [[4, 1], [1, 4]]
    assert st.tau.tolist() == [1.0, 1.0, -1.0, 1.0, 1.0]
    assert st.tau_summary()["median"] == 1.0


def test_one_case_is_not_bootstrapped() -> None:
    ranking = segeval.rank(matrix_reports({"a": [0.9], "b": [0.8]}), bootstrap=100)
    assert ranking.stability is None and ranking.settings["bootstrap"] == 0
    assert any("one case cannot be resampled" in n for n in ranking.notes)


def test_tied_rankings_have_no_tau() -> None:
    ranking = segeval.rank(matrix_reports({"a": [0.5, 0.5, 0.5], "b": [0.5, 0.5, 0.5]}), bootstrap=20)
    assert ranking.stability is not None and np.isnan(ranking.stability.tau).all()
    assert any("Kendall's tau undefined in 20" in n for n in ranking.notes)
