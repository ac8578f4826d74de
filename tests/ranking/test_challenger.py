"""A worked example of challengeR's definitions, written out by hand, against ``segeval.rank``.

challengeR (wiesenfa/challengeR, ``R/rankingMethods.R``, ``R/rankNA2.R``,
``R/Aggregate.R``, ``R/testBased.R``, ``R/compareRanks.R``):

* ``rankThenAggregate(x, FUN=mean, ties.method="min")``: within each case,
  ``rankNA2`` ranks the algorithms (``rank(-x, ties.method="min")`` when
  larger is better) and a missing value takes ``max rank + 1``; the mean of
  each algorithm's ranks is ranked again, smallest first, ties "min".
* ``aggregateThenRank(x, FUN=mean, na.treat=0)``: missing values become 0,
  each algorithm's mean is ranked, largest first, ties "min".
* ``testThenRank(x, alpha=0.05, p.adjust.method="holm")``: for every ordered
  pair, ``wilcox.test(x_i, x_j, alternative="greater", exact=FALSE,
  paired=TRUE)`` (continuity corrected); the p-values of all pairs are
  adjusted together; ``prop_significance`` = significant wins / (n - 1),
  ranked largest first, ties "min" (the same order as the count of wins).
* Kendall's tau: ``cor(a, b, method="kendall")``, tau-b.

The data: three algorithms, four cases, Dice (larger is better); A1 has no
value on c3::

          c1   c2   c3   c4
    A1   0.9  0.8   NA  0.7
    A2   0.8  0.8  0.6  0.9
    A3   0.7  0.9  0.5  0.6
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import kendalltau

import segeval
from segeval.ranking.stability import kendall_tau
from tests.ranking._data import submission

DATA = {
    "A1": {"c1": 0.9, "c2": 0.8, "c3": None, "c4": 0.7},
    "A2": {"c1": 0.8, "c2": 0.8, "c3": 0.6, "c4": 0.9},
    "A3": {"c1": 0.7, "c2": 0.9, "c3": 0.5, "c4": 0.6},
}


def reports() -> dict[str, segeval.Report]:
    return {name: submission(values) for name, values in DATA.items()}


def test_rank_then_aggregate() -> None:
    """Per case (ties min; A1's missing c3 is max rank + 1 = 3)::

              c1  c2  c3  c4   mean   rank
        A1     1   2   3   2   2.00     2
        A2     2   2   1   1   1.50     1
        A3     3   1   2   3   2.25     3

    On c2 A1 and A2 tie at 0.8 and both take rank 2. segeval's missing rule
    gives A1 Dice 0 on c3, ranked after 0.6 and 0.5: the same rank 3.
    """
    ranking = segeval.rank(reports(), scheme="rank-then-aggregate", bootstrap=0)
    assert ranking.scores[0].tolist() == [2.0, 1.5, 2.25]
    assert ranking.ranks.tolist() == [2, 1, 3]
    frame = ranking.to_frame()
    assert frame["submission"].tolist() == ["A2", "A1", "A3"]
    assert frame["dice mean rank"].tolist() == [1.5, 2.0, 2.25]
    assert frame["n_missing"].tolist() == [0, 1, 0]


def test_aggregate_then_rank_with_missing_as_zero() -> None:
    """na.treat = 0: A1 (0.9 + 0.8 + 0 + 0.7) / 4 = 0.6; A2 3.1 / 4 = 0.775; A3 2.7 / 4 = 0.675.
    Ranks: A2 1, A3 2, A1 3. Medians: A1 0.75, A2 0.8, A3 0.65: A2 1, A1 2, A3 3."""
    mean = segeval.rank(reports(), scheme="aggregate-then-rank", bootstrap=0)
    np.testing.assert_allclose(mean.scores[0], [0.6, 0.775, 0.675])
    assert mean.ranks.tolist() == [3, 1, 2]
    median = segeval.rank(reports(), scheme="aggregate-then-rank", aggregate="median", bootstrap=0)
    np.testing.assert_allclose(median.scores[0], [0.75, 0.8, 0.65])
    assert median.ranks.tolist() == [2, 1, 3]


def test_skip_ranks_the_cases_every_algorithm_has() -> None:
    """--missing skip drops c3 for all (challengeR's na.rm drops only A1's row, which the other
    schemes cannot pair): means over c1, c2, c4: A1 0.8, A2 0.8333, A3 0.7333 -> A2, A1, A3."""
    ranking = segeval.rank(reports(), scheme="aggregate-then-rank", missing="skip", bootstrap=0)
    np.testing.assert_allclose(ranking.scores[0], [2.4 / 3, 2.5 / 3, 2.2 / 3])
    assert ranking.ranks.tolist() == [2, 1, 3]
    assert ranking.table.cases == ["c1", "c2", "c4"] and ranking.table.dropped == ["c3"]


def test_test_then_rank_with_four_cases_finds_nothing_significant() -> None:
    """With four cases the smallest one-sided p-value is above 0.05 (four positive differences:
    W+ = 10, mu = 5, sigma = sqrt(7.5), z = (10 - 5 - 0.5) / sigma = 1.64, p = 0.0502 before any
    adjustment), so every algorithm has 0 wins and all tie at rank 1."""
    ranking = segeval.rank(reports(), scheme="test-then-rank", p_adjust="none", bootstrap=0)
    assert ranking.scores[0].tolist() == [0, 0, 0]
    assert ranking.ranks.tolist() == [1, 1, 1]
    z = (10 - 5 - 0.5) / math.sqrt(7.5)
    assert 0.5 * math.erfc(z / math.sqrt(2)) == pytest.approx(0.0502, abs=1e-4)


def test_a_real_zero_ties_with_the_worst_value_where_challenger_ranks_na_after_it() -> None:
    """The one place the definitions part: rankNA2 ranks NA after every value, segeval's missing rule
    gives the worst value (Dice 0), which ties with a submission that really scored 0."""
    subs = {"A": submission({"c1": 0.0, "c2": 0.9}), "B": submission({"c1": None, "c2": 0.8})}
    ranking = segeval.rank(subs, bootstrap=0)
    # c1: A 0, B 0 (missing) tie at rank 1; c2: A 1, B 2. Means 1.0 and 1.5.
    assert ranking.scores[0].tolist() == [1.0, 1.5]


@pytest.mark.parametrize(
    ("boot", "full", "tau"),
    [
        # (A1, A2) discordant, (A1, A3) and (A2, A3) concordant: (2 - 1) / 3
        pytest.param([2, 1, 3], [1, 2, 3], 1 / 3, id="one-swap"),
        # tau-b with a tie in the full ranking: 2 concordant / sqrt(2 * 3)
        pytest.param([1, 2, 3], [1, 1, 3], 2 / math.sqrt(6), id="tie"),
        pytest.param([3, 2, 1], [1, 2, 3], -1.0, id="reversed"),
    ],
)
def test_kendall_tau_b(boot: list[int], full: list[int], tau: float) -> None:
    got = kendall_tau(np.array([boot], dtype=float), np.array(full, dtype=float))[0]
    assert got == pytest.approx(tau)
    assert got == pytest.approx(kendalltau(boot, full).statistic)


def test_kendall_tau_against_scipy_on_random_rankings_with_ties() -> None:
    rng = np.random.default_rng(0)
    full = rng.integers(1, 6, size=12).astype(float)
    boot = rng.integers(1, 6, size=(50, 12)).astype(float)
    expected = [kendalltau(b, full).statistic for b in boot]
    np.testing.assert_allclose(kendall_tau(boot, full), expected, rtol=1e-12)
