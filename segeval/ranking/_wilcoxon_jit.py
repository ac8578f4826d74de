"""The Wilcoxon signed-rank statistic of every pair of submissions in every bootstrap resample, compiled.

test-then-rank's bootstrap runs S(S-1)/2 paired tests per resample (1,225
for 50 submissions, so 1.2 million for 1,000 resamples, per metric). Each
pair's non-zero differences are sorted by magnitude once; a resample only
changes how many times each case is drawn, so one pass over the sorted
cases with the draw counts gives W+, the number of non-zero draws and the
tie sum (:func:`segeval.ranking.schemes.wilcoxon_greater_counts` does the
same pass in NumPy, one pair at a time, and is the reference the tests hold
this kernel to). Compiled by numba under :mod:`segeval.metrics._numba`'s
policy (lazy, ``cache=True``, ``nogil``, plain threads over pairs).
"""

from __future__ import annotations

import numpy as np

from segeval.metrics import _numba

__all__ = ["KERNELS", "pair_statistics", "sorted_pairs"]


def _pairs_part(cols: np.ndarray, nnz: np.ndarray, positive: np.ndarray, group_end: np.ndarray,
                counts_t: np.ndarray, w_plus: np.ndarray, n_drawn: np.ndarray, ties: np.ndarray,
                part: int, nparts: int) -> None:  # pragma: no cover - compiled by numba
    n_pairs = cols.shape[0]
    n_samples = counts_t.shape[1]
    # One resample per lane: the inner loops run over contiguous resamples, so they vectorise; a tile of
    # resamples keeps its draw counts (cases x tile) in cache while every pair walks them.
    tile = 128
    for lo in range(0, n_samples, tile):
        hi = min(lo + tile, n_samples)
        width = hi - lo
        before = np.zeros(width)
        t = np.zeros(width)
        pos = np.zeros(width)
        w = np.zeros(width)
        tie = np.zeros(width)
        for p in range(part, n_pairs, nparts):
            before[:] = 0.0
            w[:] = 0.0
            tie[:] = 0.0
            alone = True  # the previous position ended a group: this one starts one
            for k in range(nnz[p]):
                drawn = counts_t[cols[p, k], lo:hi]
                sign = positive[p, k]
                if alone and group_end[p, k]:
                    # A |d| no other case shares (the usual case): its t draws rank before + (t + 1) / 2.
                    for b in range(width):
                        c = float(drawn[b])
                        w[b] += (before[b] + 0.5 * c + 0.5) * c * sign
                        tie[b] += c * c * c - c
                        before[b] += c
                    continue
                if alone:
                    t[:] = 0.0
                    pos[:] = 0.0
                for b in range(width):
                    c = float(drawn[b])
                    t[b] += c
                    pos[b] += c * sign
                alone = group_end[p, k]
                if alone:
                    for b in range(width):
                        w[b] += (before[b] + (t[b] + 1.0) * 0.5) * pos[b]
                        tie[b] += t[b] * t[b] * t[b] - t[b]
                        before[b] += t[b]
            w_plus[p, lo:hi] = w
            n_drawn[p, lo:hi] = before
            ties[p, lo:hi] = tie


KERNELS = _numba.KernelSet(_pairs_part)


def sorted_pairs(diffs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each pair's non-zero differences sorted by magnitude: what the kernel walks.

    Parameters
    ----------
    diffs : ndarray, shape (P, C)
        Per pair, ``scores[i] - scores[j]`` over the cases.

    Returns
    -------
    cols : ndarray, shape (P, C), int32
        Case indexes by increasing ``|d|``, the non-zero ones first.
    nnz : ndarray, shape (P,), int64
        Non-zero differences per pair.
    positive : ndarray, shape (P, C), float64
        1.0 where ``d > 0``, in that order.
    group_end : ndarray, shape (P, C), bool
        True at the last position of each group of equal ``|d|``.
    """
    mags = np.abs(diffs)
    mags = np.where(diffs == 0, np.inf, mags)  # zeros sort last and are never walked
    cols = np.argsort(mags, axis=1, kind="stable")
    ordered = np.take_along_axis(mags, cols, axis=1)
    nnz = np.count_nonzero(diffs, axis=1).astype(np.int64)
    positive = (np.take_along_axis(diffs, cols, axis=1) > 0).astype(np.float64)
    group_end = np.ones(positive.shape, dtype=bool)
    group_end[:, :-1] = ordered[:, 1:] != ordered[:, :-1]
    return cols.astype(np.int32), nnz, positive, group_end


def pair_statistics(diffs: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W+, the number of non-zero draws and the tie sum of every pair in every resample.

    Parameters
    ----------
    diffs : ndarray, shape (P, C), float
        Per pair, the differences over the cases.
    counts : ndarray, shape (B, C), int
        Times each case is drawn per resample.

    Returns
    -------
    (w_plus, n, ties) : ndarray, shape (B, P) each, float64
        ``ties`` is the sum over groups of equal ``|d|`` of ``t^3 - t``.
    """
    cols, nnz, positive, group_end = sorted_pairs(diffs)
    n_samples, n_pairs = counts.shape[0], diffs.shape[0]
    w_plus = np.empty((n_pairs, n_samples))
    n_drawn = np.empty((n_pairs, n_samples))
    ties = np.empty((n_pairs, n_samples))
    counts_t = np.ascontiguousarray(counts.T, dtype=np.int32)  # (C, B): a case's draws in every resample
    nparts = max(1, min(_numba.cores(), n_pairs))
    _numba.in_threads(KERNELS.get()._pairs_part, nparts, cols, nnz, positive, group_end, counts_t,
                      w_plus, n_drawn, ties)
    return w_plus.T, n_drawn.T, ties.T
