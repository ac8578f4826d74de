"""The paired statistics of a baseline comparison: bootstrap interval and Wilcoxon test.

The statistics over cases themselves (mean, median, percentiles) are
:func:`segeval.summary.statistic`, shared with the batch summary.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

__all__ = ["BOOTSTRAP_SAMPLES", "SIGNIFICANCE", "bootstrap_ci", "wilcoxon_p"]

#: Two-sided Wilcoxon level at which a drop counts as significant.
SIGNIFICANCE = 0.05
BOOTSTRAP_SAMPLES = 10_000


def bootstrap_ci(diffs: Sequence[float], *, seed: int = 0, samples: int = BOOTSTRAP_SAMPLES,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of paired differences (deterministic for a seed).

    NaN bounds when a difference is infinite (the mean has no interval then).

    Examples
    --------
    >>> bootstrap_ci([0.5] * 10)
    (0.5, 0.5)
    """
    import numpy as np

    arr = np.asarray(diffs, dtype=np.float64)
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        return (math.nan, math.nan)
    if arr.size == 1 or np.all(arr == arr[0]):
        return (float(arr[0]), float(arr[0]))
    rng = np.random.default_rng(seed)
    chunk = max(1, 4_000_000 // arr.size)  # bounded memory for large reports
    means = np.empty(samples, dtype=np.float64)
    for start in range(0, samples, chunk):
        stop = min(samples, start + chunk)
        idx = rng.integers(0, arr.size, size=(stop - start, arr.size))
        means[start:stop] = arr[idx].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return (float(lo), float(hi))


def wilcoxon_p(diffs: Sequence[float]) -> float:
    """Two-sided paired Wilcoxon signed-rank p-value of differences (SciPy); 1 when all are zero.

    Examples
    --------
    >>> wilcoxon_p([0.0, 0.0, 0.0])
    1.0
    """
    nonzero = [d for d in diffs if d != 0.0 and not math.isnan(d)]
    if not nonzero:
        return 1.0
    # The test ranks |d|: an infinite change (a distance went to inf) is the largest rank.
    finite = [abs(d) for d in nonzero if math.isfinite(d)]
    largest = (max(finite) if finite else 0.0) * 2 + 1.0
    nonzero = [d if math.isfinite(d) else math.copysign(largest, d) for d in nonzero]
    from scipy.stats import wilcoxon

    # Zeros are dropped (Wilcoxon's convention). The exact null distribution for
    # small samples without ties; otherwise the normal approximation with the tie
    # correction (SciPy's "auto" can take seconds on tied data).
    exact = len(nonzero) <= 50 and len({abs(d) for d in nonzero}) == len(nonzero)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = wilcoxon(nonzero, method="exact" if exact else "approx")
    p = float(res.pvalue)
    return 1.0 if math.isnan(p) else p
