"""The three ranking schemes of challengeR, on arrays: submissions x cases in, ranks out.

Every function takes ``scores`` of shape ``(S, C)`` (S submissions, C cases)
already oriented so that **higher is better** (a distance is negated first)
and holding no NaN (the missing rule has been applied), and optionally
``counts`` of shape ``(B, C)``: how many times each case is drawn in each of
B bootstrap samples (all ones is the full data). They return shape ``(B, S)``.

Definitions (challengeR, ``R/rankingMethods.R``, ``R/rankNA2.R``,
``R/testBased.R``; ties always get the minimum rank, ``ties.method="min"``):

* **aggregate-then-rank**: each submission's mean (or median) over cases,
  ranked; rank 1 is the best aggregate.
* **rank-then-aggregate**: within each case the submissions are ranked, then
  each submission's ranks are averaged (or their median taken) over the
  cases, and the averages are ranked (smallest first).
* **test-then-rank**: for each ordered pair (i, j), a one-sided paired
  Wilcoxon signed-rank test of "i is better than j" (normal approximation
  with continuity and tie corrections, zero differences dropped: R's
  ``wilcox.test(exact=FALSE, paired=TRUE)``, SciPy's
  ``wilcoxon(method="asymptotic")``); the S(S-1) p-values are adjusted
  together (Holm, or none); a submission's score is the number of others it
  beats at ``alpha``, and the scores are ranked (most wins first).

The bootstrap versions never build a resampled matrix when they need not:
a rank-then-aggregate mean is ``counts @ ranks.T``, and the Wilcoxon
statistic of a resample is read off the cumulative counts of the cases
sorted once by absolute difference.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = ["AGGREGATES", "SCHEMES", "aggregate_then_rank", "holm", "min_rank", "rank_then_aggregate",
           "test_then_rank", "wilcoxon_greater", "wilcoxon_greater_counts", "wins"]

SCHEMES: tuple[str, ...] = ("rank-then-aggregate", "aggregate-then-rank", "test-then-rank")
AGGREGATES: tuple[str, ...] = ("mean", "median")
#: Elements of a temporary resampled array built at once (bounded memory for large challenges).
_CHUNK_ELEMENTS = 8_000_000


def min_rank(scores: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """Ranks along ``axis``, 1 for the highest score; ties take the minimum rank (R's ``ties.method="min"``).

    Parameters
    ----------
    scores : ndarray, float
        Higher is better; no NaN.
    axis : int
        The axis along which submissions lie.

    Returns
    -------
    ndarray, float64, same shape
        1 + the number of strictly higher scores along ``axis``
        (``scipy.stats.rankdata(-scores, method="min")``, without importing SciPy's stats).

    Examples
    --------
    >>> min_rank(np.array([0.9, 0.7, 0.9, 0.1])).tolist()
    [1.0, 3.0, 1.0, 4.0]
    """
    x = np.moveaxis(-np.asarray(scores, dtype=np.float64), axis, -1)
    order = np.argsort(x, axis=-1, kind="stable")
    ordered = np.take_along_axis(x, order, axis=-1)
    n = x.shape[-1]
    position = np.broadcast_to(np.arange(n, dtype=np.float64), x.shape)
    if n:
        starts = np.concatenate([np.ones(x.shape[:-1] + (1,), dtype=bool),
                                 ordered[..., 1:] != ordered[..., :-1]], axis=-1)
        # Each element's rank is the position of the first element of its tie group, plus one.
        first = np.maximum.accumulate(np.where(starts, position, 0.0), axis=-1) + 1.0
    else:
        first = position.copy()
    ranks = np.empty_like(first)
    np.put_along_axis(ranks, order, first, axis=-1)
    return np.moveaxis(ranks, -1, axis)


def _ones(scores: np.ndarray) -> np.ndarray:
    return np.ones((1, scores.shape[1]), dtype=np.float64)


def _resampled_statistic(values: np.ndarray, counts: np.ndarray, aggregate: str, *,
                         integers: bool = False) -> np.ndarray:
    """``aggregate`` over the cases of each resample: shape (B, S) from values (S, C) and counts (B, C).

    ``integers``: the values are whole numbers (ranks), whose weighted sums any order gives exactly.
    """
    n_cases = values.shape[1]
    if aggregate == "mean":
        weights = np.asarray(counts, dtype=np.float64)
        if integers:  # sums of whole numbers are exact in any order
            exact: np.ndarray = (weights @ values.T) / n_cases
            return exact
        # A matrix product may sum two equal rows in different orders and split them by an ulp: each
        # distinct row is summed once, so that submissions with the same values tie.
        distinct, inverse = np.unique(values, axis=0, return_inverse=True)
        out: np.ndarray = ((weights @ distinct.T) / n_cases)[:, inverse.reshape(-1)]
        return out
    if aggregate != "median":
        raise ValueError(f"unknown aggregate {aggregate!r}; expected one of {', '.join(AGGREGATES)}")
    # The median needs the drawn values: build each resample's index list from its counts.
    cases = np.arange(n_cases)
    result = np.empty((counts.shape[0], values.shape[0]), dtype=np.float64)
    step = max(1, _CHUNK_ELEMENTS // max(1, values.shape[0] * n_cases))
    for start in range(0, counts.shape[0], step):
        block = counts[start:start + step].astype(np.int64)
        idx = np.stack([np.repeat(cases, row) for row in block])  # (b, C): the drawn cases
        result[start:start + step] = np.median(values[:, idx], axis=2).T
    return result


def aggregate_then_rank(scores: np.ndarray, counts: np.ndarray | None = None, *,
                        aggregate: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """challengeR's ``aggregateThenRank(FUN=mean|median, ties.method="min")``.

    Parameters
    ----------
    scores : ndarray, shape (S, C), float
        Higher is better, no NaN.
    counts : ndarray, shape (B, C), optional
        Times each case is drawn per bootstrap sample; default: the full data once.
    aggregate : {"mean", "median"}
        The statistic over cases.

    Returns
    -------
    (aggregates, ranks) : ndarray, shape (B, S) each
        The oriented aggregate (higher is better) and its min-rank.

    Examples
    --------
    >>> agg, ranks = aggregate_then_rank(np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.3]]))
    >>> agg.round(2).tolist(), ranks.tolist()
    ([[0.5, 0.5, 0.25]], [[1.0, 1.0, 3.0]])
    """
    counts = _ones(scores) if counts is None else counts
    agg = _resampled_statistic(scores, counts, aggregate)
    return agg, min_rank(agg, axis=1)


def rank_then_aggregate(scores: np.ndarray, counts: np.ndarray | None = None, *,
                        aggregate: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """challengeR's ``rankThenAggregate(FUN=mean|median, ties.method="min")``.

    Parameters
    ----------
    scores : ndarray, shape (S, C), float
        Higher is better, no NaN.
    counts : ndarray, shape (B, C), optional
        Times each case is drawn per bootstrap sample; default: the full data once.
    aggregate : {"mean", "median"}
        The statistic of a submission's per-case ranks.

    Returns
    -------
    (mean_ranks, ranks) : ndarray, shape (B, S) each
        The aggregated per-case rank (lower is better) and its min-rank.

    Examples
    --------
    >>> agg, ranks = rank_then_aggregate(np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.3]]))
    >>> agg.tolist(), ranks.tolist()
    ([[2.0, 1.5, 2.5]], [[2.0, 1.0, 3.0]])
    """
    counts = _ones(scores) if counts is None else counts
    per_case = min_rank(scores, axis=0)  # once: a resample only reweights the cases
    agg = _resampled_statistic(per_case, counts, aggregate, integers=True)
    return agg, min_rank(-agg, axis=1)


def holm(p: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """Holm's step-down adjusted p-values along ``axis`` (R's ``p.adjust(method="holm")``).

    The k-th smallest of the m p-values becomes ``max over i <= k of
    min(1, (m - i + 1) p_(i))``. NaN p-values stay NaN and are not counted
    in m, as in R.

    Examples
    --------
    >>> holm(np.array([0.01, 0.04, 0.03, 0.005])).round(3).tolist()
    [0.03, 0.06, 0.06, 0.02]
    """
    p = np.moveaxis(np.asarray(p, dtype=np.float64), axis, -1)
    order = np.argsort(p, axis=-1, kind="stable")  # NaN last
    sorted_p = np.take_along_axis(p, order, axis=-1)
    m = np.sum(~np.isnan(p), axis=-1, keepdims=True)
    factor = m - np.arange(p.shape[-1])
    with np.errstate(invalid="ignore"):
        stepped = np.minimum(1.0, factor * sorted_p)
    stepped = np.where(np.isnan(sorted_p), np.nan, stepped)
    stepped = np.fmax.accumulate(stepped, axis=-1)
    stepped = np.where(np.isnan(sorted_p), np.nan, stepped)
    out = np.empty_like(stepped)
    np.put_along_axis(out, order, stepped, axis=-1)
    return np.moveaxis(out, -1, axis)


def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(n, k=1)
    return i, j


def wilcoxon_greater(scores: np.ndarray) -> np.ndarray:
    """One-sided paired Wilcoxon p-values of "row i is better than row j" for every i != j (SciPy).

    Parameters
    ----------
    scores : ndarray, shape (S, C), float
        Higher is better, no NaN.

    Returns
    -------
    ndarray, shape (S, S)
        ``p[i, j]``: ``scipy.stats.wilcoxon(scores[i] - scores[j], alternative="greater",
        method="asymptotic", correction=True)`` (zero differences dropped); NaN on the
        diagonal and where every difference is zero.
    """
    from scipy.stats import wilcoxon

    n = scores.shape[0]
    p = np.full((n, n), np.nan)
    i, j = _pairs(n)
    if i.size == 0:
        return p
    diffs = scores[i] - scores[j]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-zero pairs: NaN, which no test wins
        for alternative, (a, b) in (("greater", (i, j)), ("less", (j, i))):
            res = wilcoxon(diffs, alternative=alternative, method="asymptotic", correction=True,
                           zero_method="wilcox", axis=1)
            p[a, b] = np.asarray(res.pvalue, dtype=np.float64)
    return p


def wilcoxon_greater_counts(diffs: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The p-values of :func:`wilcoxon_greater` for one pair, on every bootstrap resample at once.

    Parameters
    ----------
    diffs : ndarray, shape (C,), float
        ``scores[i] - scores[j]`` over the cases.
    counts : ndarray, shape (B, C)
        Times each case is drawn in each resample.

    Returns
    -------
    (p_greater, p_less) : ndarray, shape (B,) each
        The p-values of "i better than j" and of "j better than i", NaN where a
        resample's differences are all zero.

    Notes
    -----
    The cases with a non-zero difference are sorted once by ``|d|``; in a
    resample, a group of equal ``|d|`` drawn ``t`` times in all, after ``T``
    smaller draws, has the average rank ``T + (t + 1) / 2``. So
    ``W+ = sum over groups of rank x (draws with d > 0)``, ``n`` is the
    number of non-zero draws, and with ``mu = n(n+1)/4``,
    ``sigma^2 = n(n+1)(2n+1)/24 - sum(t^3 - t)/48``, the one-sided
    p-values are ``Phi(-(W+ - mu - 1/2) / sigma)`` and ``Phi((W+ - mu + 1/2) / sigma)``.
    """
    nonzero = np.flatnonzero(diffs != 0)
    n_b = counts.shape[0]
    if nonzero.size == 0:
        nan = np.full(n_b, np.nan)
        return nan, nan.copy()
    mags = np.abs(diffs[nonzero])
    order = np.argsort(mags, kind="stable")
    mags = mags[order]
    cols = nonzero[order]
    positive = diffs[cols] > 0
    # The last position of each group of equal |d|.
    ends = np.flatnonzero(np.append(mags[1:] != mags[:-1], True))
    drawn = counts[:, cols].astype(np.float64)
    cum = np.cumsum(drawn, axis=1)[:, ends]  # draws up to the end of each group
    t = np.diff(cum, axis=1, prepend=0.0)
    cum_pos = np.cumsum(drawn * positive, axis=1)[:, ends]
    pos = np.diff(cum_pos, axis=1, prepend=0.0)
    rank = cum - t + (t + 1.0) / 2.0
    w_plus = np.sum(rank * pos, axis=1)
    return _one_sided(w_plus, cum[:, -1], np.sum(t**3 - t, axis=1))


def _one_sided(w_plus: np.ndarray, n: np.ndarray, ties: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normal-approximation p-values of W+ (continuity and tie corrected) for "greater" and "less"."""
    from scipy.special import ndtr

    mu = n * (n + 1.0) / 4.0
    var = n * (n + 1.0) * (2.0 * n + 1.0) / 24.0 - ties / 48.0
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(var)
        p_greater = np.asarray(ndtr(-(w_plus - mu - 0.5) / sd), dtype=np.float64)
        p_less = np.asarray(ndtr((w_plus - mu + 0.5) / sd), dtype=np.float64)
    empty = n == 0
    p_greater[empty] = np.nan
    p_less[empty] = np.nan
    return p_greater, p_less


def _bootstrap_p(scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``p[b, i, j]``: the one-sided p-value of "i better than j" in resample b, shape (B, S, S)."""
    from segeval.metrics import _numba

    n = scores.shape[0]
    p = np.full((counts.shape[0], n, n), np.nan)
    i, j = _pairs(n)
    if i.size == 0:
        return p
    if _numba.use_jit():
        from segeval.ranking import _wilcoxon_jit

        w_plus, n_drawn, ties = _wilcoxon_jit.pair_statistics(scores[i] - scores[j], counts)
        p[:, i, j], p[:, j, i] = _one_sided(w_plus, n_drawn, ties)
        return p
    for a, b in zip(i, j):
        p[:, a, b], p[:, b, a] = wilcoxon_greater_counts(scores[a] - scores[b], counts)
    return p


def _holm_significant(p: np.ndarray, alpha: float) -> np.ndarray:
    """``holm(p) <= alpha`` along the last axis, from one sort of the values (no index shuffling).

    Holm rejects the k smallest p-values, k the first position (0-based) where ``(m - k) p_(k) > alpha``;
    a p-value equal to the last one rejected is rejected too, so the rejected set is
    ``p <= p_(k - 1)``.
    """
    ordered = np.sort(p, axis=-1)  # NaN last
    m = np.sum(~np.isnan(p), axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        fails = ~((m - np.arange(p.shape[-1])) * ordered <= alpha)
    k = np.where(fails.any(axis=-1), fails.argmax(axis=-1), p.shape[-1])
    last = np.take_along_axis(ordered, np.maximum(k - 1, 0)[..., None], axis=-1)
    threshold = np.where(k[..., None] > 0, last, -np.inf)
    with np.errstate(invalid="ignore"):
        out: np.ndarray = p <= threshold
    return out


def wins(p: np.ndarray, *, alpha: float, p_adjust: str) -> np.ndarray:
    """How many others each submission beats: ``p[..., i, j]`` (adjusted) at most ``alpha``.

    Parameters
    ----------
    p : ndarray, shape (..., S, S)
        ``p[i, j]``: the p-value of "i is better than j"; the diagonal is ignored.
    alpha : float
        The level.
    p_adjust : {"holm", "none"}
        Holm adjusts the S(S-1) p-values of one ranking together, as challengeR's ``p.adjust``.

    Returns
    -------
    ndarray, shape (..., S), float64
    """
    n = p.shape[-1]
    off = ~np.eye(n, dtype=bool)
    flat = p[..., off]  # (..., S(S-1)), row-major: i then j
    if p_adjust == "holm":
        significant = _holm_significant(flat, alpha)
    elif p_adjust == "none":
        with np.errstate(invalid="ignore"):
            significant = flat <= alpha
    else:
        raise ValueError(f"unknown p-value adjustment {p_adjust!r}; expected holm or none")
    beats = np.zeros(p.shape, dtype=bool)
    beats[..., off] = significant
    out: np.ndarray = beats.sum(axis=-1).astype(np.float64)
    return out


def test_then_rank(scores: np.ndarray, counts: np.ndarray | None = None, *, alpha: float = 0.05,
                   p_adjust: str = "holm") -> tuple[np.ndarray, np.ndarray]:
    """challengeR's ``testThenRank(alpha, p.adjust.method, ties.method="min")``.

    Parameters
    ----------
    scores : ndarray, shape (S, C), float
        Higher is better, no NaN.
    counts : ndarray, shape (B, C), optional
        Times each case is drawn per bootstrap sample; default: the full data,
        tested with SciPy itself.
    alpha : float
        The level of each one-sided test.
    p_adjust : {"holm", "none"}
        Adjustment of the S(S-1) p-values of a ranking.

    Returns
    -------
    (wins, ranks) : ndarray, shape (B, S) each
        Significant wins (higher is better) and their min-rank.

    Examples
    --------
    >>> good = np.linspace(0.80, 0.90, 12); poor = good - np.linspace(0.05, 0.2, 12)
    >>> n_wins, ranks = test_then_rank(np.stack([poor, good]))
    >>> n_wins.tolist(), ranks.tolist()
    ([[0.0, 1.0]], [[2.0, 1.0]])
    """
    if not 0.0 < alpha < 1.0 or math.isnan(alpha):
        raise ValueError(f"alpha must be in (0, 1); got {alpha}")
    if counts is None:
        p = wilcoxon_greater(scores)[None]
    else:
        p = _bootstrap_p(scores, counts)
    won = wins(p, alpha=alpha, p_adjust=p_adjust)
    return won, min_rank(won, axis=1)


test_then_rank.__test__ = False  # type: ignore[attr-defined]  # a scheme, not a pytest test
