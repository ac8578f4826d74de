"""How stable a ranking is: bootstrap resamples of the cases, rank intervals, Kendall's tau.

As challengeR's ``bootstrap()`` (``R/Bootstrap.R``): each of B samples draws
the C cases with replacement, the whole ranking (every metric, then the
final rank) is made again on the sample, and the B rankings give each
submission's median rank, its 95% rank interval (2.5th and 97.5th
percentiles, linear interpolation as R's default ``quantile``), how often
it takes each rank (the blob plot), and Kendall's tau (tau-b, R's
``cor(method="kendall")``) between each bootstrap ranking and the full one.

A sample is a row of draw counts (how many times each case is drawn), not
a copy of the data: the schemes reweight ranks they computed once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BOOTSTRAP_CHUNK", "Stability", "kendall_tau", "resample_counts", "stability"]

#: Samples drawn per child generator: the draws depend on the seed alone, never on memory or chunking.
BOOTSTRAP_CHUNK = 100


def resample_counts(n_cases: int, n_samples: int, *, seed: int, start: int = 0,
                    stop: int | None = None) -> np.ndarray:
    """Draw counts of samples ``start`` to ``stop`` of a seeded bootstrap of ``n_cases`` cases.

    Sample k is drawn by the ``k // BOOTSTRAP_CHUNK``-th child of
    ``numpy.random.SeedSequence(seed)`` (``rng.integers(0, n_cases, size=(chunk, n_cases))``),
    so any block of samples is the same whether drawn alone or with the others.

    Parameters
    ----------
    n_cases : int
        C, the cases resampled with replacement.
    n_samples : int
        B, the whole bootstrap's size.
    seed : int
        The seed (``--seed``).
    start, stop : int
        The block of samples wanted; default all.

    Returns
    -------
    ndarray, shape (stop - start, C), int32
        Row k: how many times each case is drawn in sample ``start + k`` (each row sums to C).

    Examples
    --------
    >>> counts = resample_counts(5, 3, seed=1)
    >>> counts.shape, counts.sum(axis=1).tolist()
    ((3, 5), [5, 5, 5])
    >>> bool((resample_counts(5, 3, seed=1, start=1)[0] == counts[1]).all())
    True
    """
    stop = n_samples if stop is None else min(stop, n_samples)
    children = np.random.SeedSequence(seed).spawn(max(1, -(-n_samples // BOOTSTRAP_CHUNK)))
    out = np.zeros((max(0, stop - start), n_cases), dtype=np.int32)
    first = start // BOOTSTRAP_CHUNK
    for chunk in range(first, -(-stop // BOOTSTRAP_CHUNK) if stop > 0 else 0):
        lo = chunk * BOOTSTRAP_CHUNK
        size = min(BOOTSTRAP_CHUNK, n_samples - lo)
        draws = np.random.default_rng(children[chunk]).integers(0, n_cases, size=(size, n_cases))
        rows = np.arange(lo, lo + size)
        keep = (rows >= start) & (rows < stop)
        flat = (np.arange(size)[:, None] * n_cases + draws).ravel()
        block = np.bincount(flat, minlength=size * n_cases).reshape(size, n_cases)
        out[rows[keep] - start] = block[keep]
    return out


def kendall_tau(rankings: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between each row of ``rankings`` and ``reference`` (``scipy.stats.kendalltau``'s).

    Parameters
    ----------
    rankings : ndarray, shape (B, S)
        Bootstrap rankings.
    reference : ndarray, shape (S,)
        The full-data ranking.

    Returns
    -------
    ndarray, shape (B,)
        NaN where a ranking has no variability (every submission tied), as in challengeR.

    Notes
    -----
    Over the S(S-1)/2 pairs of submissions, with a = sign of the reference's
    difference and b the ranking's: tau-b = sum(a b) / sqrt(n_a n_b), n_a and
    n_b the pairs not tied in each. Computed for all rows at once (SciPy's
    function takes one pair of rankings a call, about a millisecond each).

    Examples
    --------
    >>> kendall_tau(np.array([[1, 2, 3], [3, 2, 1], [1, 1, 1]]), np.array([1, 2, 3])).tolist()
    [1.0, -1.0, nan]
    """
    rankings = np.asarray(rankings, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    i, j = np.triu_indices(reference.size, k=1)
    a = np.sign(reference[i] - reference[j])
    n_a = float(np.count_nonzero(a))
    out = np.empty(rankings.shape[0], dtype=np.float64)
    step = max(1, 4_000_000 // max(1, i.size))
    for start in range(0, rankings.shape[0], step):
        block = rankings[start:start + step]
        b = np.sign(block[:, i] - block[:, j])
        n_b = np.count_nonzero(b, axis=1).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:start + step] = (b @ a) / np.sqrt(n_a * n_b)
    out[~np.isfinite(out)] = np.nan
    return out


@dataclass
class Stability:
    """A ranking's bootstrap stability.

    Attributes
    ----------
    ranks : ndarray, shape (B, S)
        The final rank of each submission in each bootstrap sample.
    median : ndarray, shape (S,)
        Median bootstrap rank.
    low, high : ndarray, shape (S,)
        2.5th and 97.5th percentiles of the bootstrap ranks (the 95% rank interval).
    frequencies : ndarray, shape (S, S), int
        ``frequencies[s, r - 1]``: samples in which submission s took rank r.
    tau : ndarray, shape (B,)
        Kendall's tau-b of each bootstrap ranking against the full one (NaN: every submission tied).
    """

    ranks: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    frequencies: np.ndarray
    tau: np.ndarray

    def tau_summary(self) -> dict[str, float | int]:
        """Mean, median, 25th and 75th percentiles of Kendall's tau (NaN excluded), and n_nan."""
        valid = self.tau[~np.isnan(self.tau)]
        if not valid.size:
            return {"mean": float("nan"), "median": float("nan"), "q25": float("nan"),
                    "q75": float("nan"), "n_nan": int(self.tau.size)}
        q25, median, q75 = np.percentile(valid, [25.0, 50.0, 75.0])
        return {"mean": float(valid.mean()), "median": float(median), "q25": float(q25),
                "q75": float(q75), "n_nan": int(self.tau.size - valid.size)}


def stability(ranks: np.ndarray, reference: np.ndarray) -> Stability:
    """Summaries of bootstrap rankings ``ranks`` (B, S) against the full ranking ``reference`` (S,).

    Examples
    --------
    >>> st = stability(np.array([[1, 2], [1, 2], [2, 1], [1, 2]]), np.array([1, 2]))
    >>> st.median.tolist(), st.frequencies.tolist(), st.tau.tolist()
    ([1.0, 2.0], [[3, 1], [1, 3]], [1.0, 1.0, -1.0, 1.0])
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    n_subs = ranks.shape[1]
    low, median, high = np.percentile(ranks, [2.5, 50.0, 97.5], axis=0)
    freq = np.zeros((n_subs, n_subs), dtype=np.int64)
    whole = ranks.astype(np.int64) - 1
    for s in range(n_subs):
        freq[s] = np.bincount(whole[:, s], minlength=n_subs)[:n_subs]
    return Stability(ranks=ranks, median=median, low=low, high=high, frequencies=freq,
                     tau=kendall_tau(ranks, np.asarray(reference, dtype=np.float64)))
