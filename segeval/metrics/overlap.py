"""Overlap metrics (Dice, IoU, Tversky, ...) from voxel counts, vectorized over classes.

Two entry points share one set of formulas:

* :func:`overlap_from_counts` turns per-class TP/FP/FN/TN (from the confusion
  matrix, or soft sums) into every overlap metric at once; the empty-mask and
  zero-denominator rules of segeval live here and nowhere else.
* :func:`dice`, :func:`iou`, :func:`tversky`, :func:`generalized_dice` take
  arrays: label maps (integer or bool) are scored per label through the
  confusion matrix; float arrays with ``axis=`` are soft inputs, reduced over
  ``axis`` as training losses do.

All formulas are written against the array API (``xp`` is taken from the
inputs), so the same code runs on NumPy, CuPy or any array_api_compat namespace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from segeval._optional import array_namespace
from segeval.errors import OptionError
from segeval.metrics._checks import (
    Array,
    check_empty,
    check_smooth,
    check_weights,
    empty_value,
)
from segeval.metrics._inputs import as_arrays, label_counts, logits_kind, soft_counts

OVERLAP_METRICS: tuple[str, ...] = (
    "dice",
    "iou",
    "tversky",
    "precision",
    "recall",
    "specificity",
    "volume_similarity",
)

@dataclass(frozen=True)
class Counts:
    """Per-class counts and the options every formula reads (see :data:`FORMULAS`)."""

    tp: Array
    fp: Array
    fn: Array
    tn: Array | None
    alpha: float
    beta: float
    smooth: float
    empty: str
    xp: Any

    @property
    def both_empty(self) -> Array:
        """True where the class is absent from both volumes (TP = FP = FN = 0)."""
        return (self.tp + self.fp + self.fn) == 0

    def ratio(self, num: Array, den: Array) -> Array:
        """``num / den`` with segeval's rule for a zero denominator: the ``empty`` policy when
        both masks are empty, else 0 (so a false-positive class scores 0, never NaN)."""
        xp = self.xp
        safe = xp.where(den == 0, xp.ones_like(den), den)
        value = num / safe
        fill_empty = xp.full_like(value, empty_value(self.empty))
        return xp.where(den == 0, xp.where(self.both_empty, fill_empty, xp.zeros_like(value)), value)


def _dice(c: Counts) -> Array:
    return c.ratio(2 * c.tp + c.smooth, 2 * c.tp + c.fp + c.fn + c.smooth)


def _iou(c: Counts) -> Array:
    return c.ratio(c.tp + c.smooth, c.tp + c.fp + c.fn + c.smooth)


def _tversky(c: Counts) -> Array:
    return c.ratio(c.tp + c.smooth, c.tp + c.alpha * c.fp + c.beta * c.fn + c.smooth)


def _precision(c: Counts) -> Array:
    return c.ratio(c.tp, c.tp + c.fp)


def _recall(c: Counts) -> Array:
    return c.ratio(c.tp, c.tp + c.fn)


def _specificity(c: Counts) -> Array:
    if c.tn is None:
        raise OptionError("specificity needs true-negative counts (tn)")
    tn = c.xp.astype(c.tn, c.xp.float64)
    den = tn + c.fp
    # No negatives at all (a class filling the image): undefined, as MONAI and Metrics Reloaded say.
    return c.xp.where(den == 0, c.xp.full_like(den, float("nan")), c.ratio(tn, den))


def _volume_similarity(c: Counts) -> Array:
    # 2TP + FP + FN is zero exactly when both masks are empty.
    den = 2 * c.tp + c.fp + c.fn
    return c.ratio(den - c.xp.abs(c.fp - c.fn), den)


#: Each overlap metric's formula, by name (the registry, :mod:`segeval.metrics.registry`,
#: describes them; :func:`overlap_from_counts` evaluates them).
FORMULAS: dict[str, Callable[[Counts], Array]] = {
    "dice": _dice,
    "iou": _iou,
    "tversky": _tversky,
    "precision": _precision,
    "recall": _recall,
    "specificity": _specificity,
    "volume_similarity": _volume_similarity,
}


def overlap_from_counts(
    tp: Array,
    fp: Array,
    fn: Array,
    tn: Array | None = None,
    *,
    alpha: float = 0.3,
    beta: float = 0.7,
    smooth: float = 0.0,
    empty: str = "nan",
    metrics: Sequence[str] = OVERLAP_METRICS,
) -> dict[str, Array]:
    """Every overlap metric from per-class counts, vectorized over classes.

    Parameters
    ----------
    tp, fp, fn : array, shape (C,) or any shape
        True positives, false positives and false negatives (voxel counts, or soft
        sums for probabilistic inputs).
    tn : array, optional
        True negatives; needed only for ``specificity``.
    alpha, beta : float
        Tversky weights of FP and FN. alpha = beta = 0.5 gives Dice, 1 and 1 IoU.
    smooth : float
        Additive smoothing S in Dice, IoU and Tversky (as training losses use).
    empty : {"nan", "one", "zero"}
        Score when the class is absent from both volumes (TP = FP = FN = 0).
    metrics : sequence of str
        Which metrics to return.

    Returns
    -------
    dict of str to float64 array
        One entry per requested metric, same shape as ``tp``.

    Notes
    -----
    ``dice = (2TP + S) / (2TP + FP + FN + S)``, ``iou = (TP + S) / (TP + FP + FN + S)``,
    ``tversky = (TP + S) / (TP + alpha FP + beta FN + S)``, ``precision = TP / (TP + FP)``,
    ``recall = TP / (TP + FN)``, ``specificity = TN / (TN + FP)``,
    ``volume_similarity = 1 - |FP - FN| / (2TP + FP + FN)``.
    A zero denominator gives the ``empty`` value when both masks are empty and 0
    otherwise (so a false-positive class scores 0, never NaN); specificity
    with TN + FP = 0 (no negative voxel: the class fills the image) is NaN,
    undefined, whatever ``empty`` says.

    References
    ----------
    .. [1] A. A. Taha and A. Hanbury, "Metrics for evaluating 3D medical image
       segmentation: analysis, selection, and tool", BMC Medical Imaging 15, 2015
       (precision, recall, specificity, volume similarity).

    Examples
    --------
    >>> import numpy as np
    >>> m = overlap_from_counts(np.array([3]), np.array([1]), np.array([2]), metrics=["dice", "iou"])
    >>> round(float(m["dice"][0]), 4), round(float(m["iou"][0]), 4)
    (0.6667, 0.5)
    """
    xp = array_namespace(tp, fp, fn)
    alpha, beta = check_weights(alpha, beta)
    counts = Counts(
        xp.astype(tp, xp.float64), xp.astype(fp, xp.float64), xp.astype(fn, xp.float64), tn,
        alpha, beta, check_smooth(smooth), check_empty(empty), xp,
    )
    out: dict[str, Any] = {}
    for name in metrics:
        formula = FORMULAS.get(name)
        if formula is None:
            raise OptionError(f"not an overlap metric: {name!r}")
        out[name] = formula(counts)
    return out


# --------------------------------------------------------------------------- arrays in


def _metric(
    name: str,
    pred: Any,
    gt: Any,
    *,
    labels: Sequence[int] | None,
    ignore_label: int | None,
    axis: int | Sequence[int] | None,
    smooth: float,
    empty: str,
    alpha: float = 0.5,
    beta: float = 0.5,
    from_logits: bool | str = False,
    return_labels: bool = False,
) -> Any:
    pred, gt = as_arrays(pred, gt)
    if axis is not None:  # soft inputs; float label maps without axis must be whole
        if labels is not None or ignore_label is not None:
            raise OptionError("labels/ignore_label apply to label maps; soft inputs (axis=) take one-hot classes")
        if return_labels:
            raise OptionError("return_labels applies to label maps; soft inputs (axis=) have classes, not labels")
        tp, fp, fn = soft_counts(pred, gt, axis, from_logits)
        tn = None
    else:
        if logits_kind(from_logits) is not None:
            raise OptionError("from_logits applies to soft inputs: give axis= (the axes to sum over)")
        tp, fp, fn, tn, labels = label_counts(pred, gt, labels, ignore_label)
    values = overlap_from_counts(
        tp, fp, fn, tn, alpha=alpha, beta=beta, smooth=smooth, empty=empty, metrics=[name]
    )[name]
    if not return_labels:
        return values
    import pandas as pd

    host = np.asarray(values.get() if hasattr(values, "get") else values)  # CuPy arrays come to the host
    return pd.Series(host, index=pd.Index(list(labels or []), name="label"), name=name)


def dice(
    pred: Array,
    gt: Array,
    *,
    labels: Sequence[int] | None = None,
    ignore_label: int | None = None,
    axis: int | Sequence[int] | None = None,
    smooth: float = 0.0,
    empty: str = "nan",
    from_logits: bool | str = False,
    return_labels: bool = False,
) -> Array:
    """Dice similarity coefficient per label (label maps) or per remaining axis (soft inputs).

    Parameters
    ----------
    pred, gt : array
        Label maps (integer or bool, same shape), or, with ``axis``, probabilities
        / one-hot arrays (float) of the same shape, e.g. (batch, x, y, z, class).
    labels : sequence of int, optional
        Labels to score (label maps); default every label > 0 present in either.
    ignore_label : int, optional
        Voxels where ``gt == ignore_label`` are excluded (label maps).
    axis : int or tuple of int, optional
        Soft inputs: the axes summed over (e.g. the spatial axes); the others
        (batch, class) are kept, as in Keras.
    smooth : float
        Additive smoothing S.
    empty : {"nan", "one", "zero"}
        Score of a class absent from both.
    from_logits : {False, "sigmoid", "softmax"} or bool
        Soft inputs: ``pred`` holds logits. ``"sigmoid"`` (or True) applies a
        sigmoid to each value (independent classes, one channel per region);
        ``"softmax"`` a softmax over the class axis, the last axis that is not
        summed over (``(batch, class, x, y, z)`` with ``axis=(2, 3, 4)`` and
        ``(batch, x, y, z, class)`` with ``axis=(1, 2, 3)`` both work).
    return_labels : bool
        Label maps: return a ``pandas.Series`` indexed by label (named after
        the metric) instead of a bare array.

    Returns
    -------
    array of float64
        One value per label, in the order of ``labels``, or by default in
        ascending label order (every label > 0 in either map, minus
        ``ignore_label``); the kept axes' shape for soft inputs. A
        ``pandas.Series`` indexed by label with ``return_labels=True``.

    Notes
    -----
    ``dice = (2 TP + S) / (2 TP + FP + FN + S)``; soft inputs use
    ``TP = sum(p g)``, ``FP = sum(p (1 - g))``, ``FN = sum((1 - p) g)``, so
    ``dice = (2 sum(p g) + S) / (sum(p) + sum(g) + S)``. Pred empty and gt not
    (or the reverse): 0. Both empty: ``empty`` (NaN by default), or 1 when S > 0.

    References
    ----------
    .. [1] L. R. Dice, "Measures of the amount of ecologic association between
       species", Ecology 26(3), 1945.
    .. [2] L. Maier-Hein et al., "Metrics reloaded: recommendations for image
       analysis validation", Nature Methods 21, 2024 (DSC).

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.array([[1, 1, 0], [2, 2, 0]])
    >>> pred = np.array([[1, 0, 0], [2, 2, 2]])
    >>> dice(pred, gt).round(4)
    array([0.6667, 0.8   ])
    """
    return _metric("dice", pred, gt, labels=labels, ignore_label=ignore_label, axis=axis,
                   smooth=smooth, empty=empty, from_logits=from_logits, return_labels=return_labels)


def iou(
    pred: Array,
    gt: Array,
    *,
    labels: Sequence[int] | None = None,
    ignore_label: int | None = None,
    axis: int | Sequence[int] | None = None,
    smooth: float = 0.0,
    empty: str = "nan",
    from_logits: bool | str = False,
    return_labels: bool = False,
) -> Array:
    """Intersection over union (Jaccard index), per label or per kept axis.

    Parameters are those of :func:`dice`.

    Notes
    -----
    ``iou = (TP + S) / (TP + FP + FN + S)``; for soft inputs
    ``sum(p g) / (sum(p) + sum(g) - sum(p g))``. ``iou = dice / (2 - dice)``.
    Empty masks as in :func:`dice`.

    References
    ----------
    .. [1] P. Jaccard, "The distribution of the flora in the alpine zone",
       New Phytologist 11(2), 1912.
    .. [2] A. A. Taha and A. Hanbury, "Metrics for evaluating 3D medical image
       segmentation: analysis, selection, and tool", BMC Medical Imaging 15, 2015.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.array([[1, 1, 0], [2, 2, 0]])
    >>> pred = np.array([[1, 0, 0], [2, 2, 2]])
    >>> iou(pred, gt).round(4)
    array([0.5   , 0.6667])
    """
    return _metric("iou", pred, gt, labels=labels, ignore_label=ignore_label, axis=axis,
                   smooth=smooth, empty=empty, from_logits=from_logits, return_labels=return_labels)


def tversky(
    pred: Array,
    gt: Array,
    *,
    alpha: float = 0.3,
    beta: float = 0.7,
    labels: Sequence[int] | None = None,
    ignore_label: int | None = None,
    axis: int | Sequence[int] | None = None,
    smooth: float = 0.0,
    empty: str = "nan",
    from_logits: bool | str = False,
    return_labels: bool = False,
) -> Array:
    """Tversky index, per label or per kept axis; alpha weighs false positives, beta false negatives.

    Parameters are those of :func:`dice`, plus ``alpha`` and ``beta``.

    Notes
    -----
    ``tversky = (TP + S) / (TP + alpha FP + beta FN + S)``. alpha = beta = 0.5 is
    Dice; alpha = beta = 1 is IoU. Empty masks as in :func:`dice`.

    References
    ----------
    .. [1] A. Tversky, "Features of similarity", Psychological Review 84(4), 1977.
    .. [2] S. S. M. Salehi, D. Erdogmus and A. Gholipour, "Tversky loss function
       for image segmentation using 3D fully convolutional deep networks",
       MLMI 2017 (the alpha = 0.3, beta = 0.7 default).

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.array([[1, 1, 0], [2, 2, 0]])
    >>> pred = np.array([[1, 0, 0], [2, 2, 2]])
    >>> tversky(pred, gt, alpha=0.5, beta=0.5).round(4)
    array([0.6667, 0.8   ])
    """
    return _metric("tversky", pred, gt, labels=labels, ignore_label=ignore_label, axis=axis,
                   smooth=smooth, empty=empty, alpha=alpha, beta=beta, from_logits=from_logits,
                   return_labels=return_labels)


def generalized_dice_from_counts(tp: Array, fp: Array, fn: Array, *, eps: float | None = None) -> Array:
    """Generalized Dice (Sudre et al. 2017) over the last axis of per-class counts.

    Parameters
    ----------
    tp, fp, fn : array, shape (..., C)
        Per-class counts (or soft sums); classes on the last axis.
    eps : float, optional
        If given, weights are ``1 / ((TP + FN)^2 + eps)`` (the form many training
        losses use). If None (segeval's default), weights are ``1 / (TP + FN)^2``
        and classes absent from gt take the largest finite weight.

    Returns
    -------
    array of float64, shape (...)
        ``2 sum_c w_c TP_c / sum_c w_c (2 TP_c + FP_c + FN_c)``; NaN when every
        class is empty in both (no evidence either way).
    """
    xp = array_namespace(tp, fp, fn)
    tp = xp.astype(tp, xp.float64)
    fp = xp.astype(fp, xp.float64)
    fn = xp.astype(fn, xp.float64)
    vol_gt = tp + fn
    if tp.shape[-1] == 0:
        # No class at all (e.g. two all-background label maps) is "every class
        # empty": NaN, not NumPy's zero-size reduction error.
        return xp.full(tp.shape[:-1], float("nan"), dtype=xp.float64)
    if eps is not None:
        w = 1.0 / (vol_gt**2 + eps)
    else:
        finite = vol_gt > 0
        w_raw = 1.0 / xp.where(finite, vol_gt, xp.ones_like(vol_gt)) ** 2
        w_fin = xp.where(finite, w_raw, xp.zeros_like(w_raw))
        w_max = xp.max(w_fin, axis=-1, keepdims=True)
        # No class present in gt at all: every weight equal.
        w_max = xp.where(w_max == 0, xp.ones_like(w_max), w_max)
        w = xp.where(finite, w_raw, w_max)
    num = 2.0 * xp.sum(w * tp, axis=-1)
    den = xp.sum(w * (2.0 * tp + fp + fn), axis=-1)
    safe = xp.where(den == 0, xp.ones_like(den), den)
    return xp.where(den == 0, xp.full_like(den, float("nan")), num / safe)


def generalized_dice(
    pred: Array,
    gt: Array,
    *,
    labels: Sequence[int] | None = None,
    ignore_label: int | None = None,
    axis: int | Sequence[int] | None = None,
    eps: float | None = None,
    from_logits: bool | str = False,
) -> Array:
    """Generalized Dice (Sudre et al. 2017): one class-weighted Dice over all classes.

    Parameters
    ----------
    pred, gt : array
        Label maps (scored over ``labels``), or soft inputs with classes on the
        LAST axis and ``axis`` the axes to sum (e.g. (batch, x, y, z, class) with
        ``axis=(1, 2, 3)`` gives one value per sample).
    labels, ignore_label, from_logits
        As in :func:`dice`.
    eps : float, optional
        See :func:`generalized_dice_from_counts`.

    Returns
    -------
    float64 array
        Scalar (0-d) for label maps; the batch shape for soft inputs.

    Notes
    -----
    ``GD = 2 sum_c w_c TP_c / sum_c w_c (2 TP_c + FP_c + FN_c)`` with
    ``w_c = 1 / vol_gt_c^2``; classes absent from gt get the largest finite
    weight. All classes empty in both: NaN.

    References
    ----------
    .. [1] C. H. Sudre et al., "Generalised Dice overlap as a deep learning loss
       function for highly unbalanced segmentations", DLMIA 2017.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.array([[1, 1, 0], [2, 2, 0]])
    >>> float(generalized_dice(gt, gt))
    1.0
    """
    pred, gt = as_arrays(pred, gt)
    if axis is not None:
        tp, fp, fn = soft_counts(pred, gt, axis, from_logits)
    else:
        tp, fp, fn, _, _ = label_counts(pred, gt, labels, ignore_label)
    return generalized_dice_from_counts(tp, fp, fn, eps=eps)
