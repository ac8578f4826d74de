"""What the array metrics take in: plain sequences, soft inputs (probabilities or logits), label maps.

:func:`soft_counts` reduces probabilities (or logits, through a sigmoid or a
softmax) to soft TP/FP/FN over the axes asked for; :func:`label_counts` counts
label maps through the one-pass confusion matrix. :mod:`segeval.metrics.overlap`
turns either into metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from segeval._optional import array_device, array_namespace
from segeval.errors import InputError, OptionError
from segeval.metrics._checks import same_shape

__all__ = ["as_arrays", "label_counts", "logits_kind", "soft_counts"]


def as_arrays(pred: Any, gt: Any) -> tuple[Any, Any]:
    """Plain Python sequences become NumPy arrays (array_api_compat refuses lists); arrays of any
    namespace pass through. A ragged nested list is an InputError, not NumPy's ValueError."""
    out = []
    for x, name in ((pred, "pred"), (gt, "gt")):
        if isinstance(x, (list, tuple)):
            try:
                x = np.asarray(x)
            except (ValueError, TypeError) as exc:
                raise InputError(f"{name}: cannot be read as an array ({exc})") from None
        out.append(x)
    return out[0], out[1]


def logits_kind(from_logits: bool | str | None) -> str | None:
    """``from_logits`` as ``None``, ``"sigmoid"`` or ``"softmax"`` (True means sigmoid, as before)."""
    if from_logits is None or from_logits is False:
        return None
    if from_logits is True:
        return "sigmoid"
    if isinstance(from_logits, str) and from_logits.lower() in ("sigmoid", "softmax"):
        return from_logits.lower()
    raise OptionError(f"from_logits: expected 'sigmoid', 'softmax' or False; got {from_logits!r}")


def soft_counts(
    pred: Any, gt: Any, axis: int | Sequence[int], from_logits: bool | str
) -> tuple[Any, Any, Any]:
    """Soft TP = sum(p g), FP = sum(p (1 - g)), FN = sum((1 - p) g) over ``axis``."""
    logits = logits_kind(from_logits)
    xp = array_namespace(pred, gt)
    same_shape(pred, gt)
    ax = tuple(axis) if isinstance(axis, Sequence) else (axis,)
    # Checked here: an axis out of range would raise NumPy's AxisError.
    ndim = len(pred.shape)
    in_range = all(isinstance(a, (int, np.integer)) and -ndim <= a < ndim for a in ax)
    if not in_range or len({a % ndim for a in ax}) != len(ax):
        raise OptionError(f"axis={axis!r}: expected distinct axes of a {ndim}-D input")
    p = xp.astype(pred, xp.float64)
    g = xp.astype(gt, xp.float64)
    if logits is not None and not bool(xp.all(xp.isfinite(p))):
        raise InputError("soft input holds NaN or infinite values")
    if logits == "sigmoid":
        # 1 / (1 + exp(-x)) overflows for logits < -709; this form only ever
        # takes exp of a non-positive number.
        e = xp.exp(-xp.abs(p))
        p = xp.where(p >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    elif logits == "softmax":
        kept = [a for a in range(ndim) if a not in {b % ndim for b in ax}]
        if not kept:
            raise OptionError("from_logits='softmax' needs a class axis that axis= does not sum over")
        e = xp.exp(p - xp.max(p, axis=kept[-1], keepdims=True))  # shifted: no overflow
        p = e / xp.sum(e, axis=kept[-1], keepdims=True)
    # inf would give NaN (with a RuntimeWarning) in the sums below.
    if not (bool(xp.all(xp.isfinite(p))) and bool(xp.all(xp.isfinite(g)))):
        raise InputError("soft input holds NaN or infinite values")
    tp = xp.sum(p * g, axis=ax)
    fp = xp.sum(p * (1.0 - g), axis=ax)
    fn = xp.sum((1.0 - p) * g, axis=ax)
    return tp, fp, fn


def label_counts(
    pred: Any, gt: Any, labels: Sequence[int] | None, ignore_label: int | None
) -> tuple[Any, Any, Any, Any, list[int]]:
    """Per-label TP/FP/FN/TN of label maps through the one-pass confusion matrix, and the labels."""
    from segeval.metrics.confusion import joint_counts

    xp = array_namespace(pred, gt)
    # The voxels are counted where they live (NumPy or CuPy); only the small
    # per-class counts are moved, once, back to the caller's namespace and device.
    joint = joint_counts(pred, gt, ignore_label=ignore_label)
    if labels is None:
        labels = [int(v) for v in joint.values if v > 0 and v != ignore_label]
    counts = joint.class_counts([(int(v),) for v in labels])
    device = array_device(pred)
    tp, fp, fn, tn = (xp.asarray(counts[k], device=device) for k in ("tp", "fp", "fn", "tn"))
    return tp, fp, fn, tn, [int(v) for v in labels]
