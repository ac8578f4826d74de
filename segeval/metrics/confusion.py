"""The K x K confusion matrix of two label volumes, in one pass over the voxels.

Every overlap metric of every class (and of every region, a union of classes)
is a reduction of this one matrix, so its cost does not grow with the number
of classes. See :func:`joint_counts` for how it is built; the counting
kernels are :mod:`segeval.metrics._hist_numpy` and, once numba pays for
itself, :mod:`segeval.metrics._hist_jit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from segeval.backends import to_host
from segeval.errors import InputError
from segeval.metrics import _hist_jit, _hist_numpy, _numba
from segeval.metrics._checks import Array, label_array, same_shape

__all__ = ["JointCounts", "confusion_matrix", "joint_counts", "value_counts"]

# Largest value range handled with a direct lookup table (4 Mi entries, 16 MiB).
_MAX_LUT = 1 << 22
# Largest per-thread joint histogram (entries), ~32 MiB per slice of int64.
_MAX_HIST = 1 << 22


@dataclass(frozen=True)
class JointCounts:
    """Voxel counts of every (gt value, pred value) pair present.

    Attributes
    ----------
    values : ndarray of int64, shape (K,)
        Sorted label values present in either volume (after removing ignored voxels).
    counts : ndarray of int64, shape (K, K)
        ``counts[i, j]`` = number of voxels with ``gt == values[i]`` and
        ``pred == values[j]``.
    """

    values: np.ndarray
    counts: np.ndarray

    @property
    def total(self) -> int:
        """Number of voxels counted."""
        return int(self.counts.sum())

    def select(self, labels: Sequence[int]) -> np.ndarray:
        """The sub-matrix for ``labels`` (in that order); absent labels give zero rows/columns."""
        labels_arr = np.asarray(list(labels), dtype=np.int64)
        out = np.zeros((labels_arr.size, labels_arr.size), dtype=np.int64)
        if self.values.size == 0:
            return out
        pos = np.clip(np.searchsorted(self.values, labels_arr), 0, self.values.size - 1)
        found = self.values[pos] == labels_arr
        idx = np.flatnonzero(found)
        if idx.size:
            out[np.ix_(idx, idx)] = self.counts[np.ix_(pos[idx], pos[idx])]
        return out

    def class_counts(self, classes: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
        """TP, FP, FN, TN per class, where a class is the union of its member labels.

        Parameters
        ----------
        classes : sequence of sequences of int
            Member label values of each class; a plain label is a 1-tuple, a region
            (BraTS-style union) lists several.

        Returns
        -------
        dict of str to ndarray of int64, shape (C,)
            ``tp``, ``fp``, ``fn``, ``tn``, ``n_pred`` (= tp + fp) and ``n_gt`` (= tp + fn).
        """
        rows = self.counts.sum(axis=1)
        cols = self.counts.sum(axis=0)
        if all(len(m) == 1 for m in classes):
            # Plain labels (the common case): diagonal, row and column sums, no matrix products.
            labels = np.asarray([m[0] for m in classes], dtype=np.int64)
            if self.values.size:
                pos = np.clip(np.searchsorted(self.values, labels), 0, self.values.size - 1)
                found = self.values[pos] == labels
            else:
                pos = np.zeros(labels.size, dtype=np.int64)
                found = np.zeros(labels.size, dtype=bool)
            diag = np.diagonal(self.counts)
            tp = np.where(found, diag[pos] if diag.size else 0, 0).astype(np.int64)
            n_gt = np.where(found, rows[pos] if rows.size else 0, 0).astype(np.int64)
            n_pred = np.where(found, cols[pos] if cols.size else 0, 0).astype(np.int64)
        else:
            member = np.zeros((len(classes), self.values.size), dtype=np.int64)
            for c, members in enumerate(classes):
                member[c] = np.isin(self.values, np.asarray(list(members), dtype=np.int64))
            tp = np.einsum("ci,ij,cj->c", member, self.counts, member)
            n_gt = member @ rows
            n_pred = member @ cols
        fp = n_pred - tp
        fn = n_gt - tp
        tn = self.total - tp - fp - fn
        return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "n_pred": n_pred, "n_gt": n_gt}


def _joint_hist(
    a: np.ndarray, b: np.ndarray, lut_a: np.ndarray, off_a: int, lut_b: np.ndarray, off_b: int, ka: int, kb: int
) -> np.ndarray:
    """The joint histogram of two flat arrays, compiled when :func:`_numba.use_jit` says it pays."""
    hist = _hist_jit.joint_hist if _numba.use_jit(a.shape[0]) else _hist_numpy.joint_hist
    return hist(a, b, lut_a, off_a, lut_b, off_b, ka, kb)


def _presence(a: np.ndarray, off: int, size: int) -> np.ndarray:
    """Voxel count of every value ``off .. off + size - 1`` of a flat array."""
    count = _hist_jit.presence if _numba.use_jit(a.shape[0]) else _hist_numpy.presence
    return count(a, off, size)


def _flat_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flatten both arrays in their shared memory order, without copying when possible.

    nibabel gives Fortran-ordered arrays and SimpleITK-derived ones are transposed
    views; ``reshape(-1)`` on those would silently copy the whole volume.
    """
    same_shape(pred, gt)
    if pred.flags.c_contiguous and gt.flags.c_contiguous:
        return pred.reshape(-1), gt.reshape(-1)
    if pred.flags.f_contiguous and gt.flags.f_contiguous:
        return pred.reshape(-1, order="F"), gt.reshape(-1, order="F")
    # Mixed layouts: copy one side into the other's order (one volume, once).
    order: Literal["C", "F"] = "F" if gt.flags.f_contiguous else "C"
    return (
        np.asarray(pred, order=order).reshape(-1, order=order),
        np.asarray(gt, order=order).reshape(-1, order=order),
    )


def _flat(arr: np.ndarray) -> np.ndarray:
    """One array flattened in its memory order (no copy for C or Fortran order)."""
    return arr.reshape(-1, order="F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C")


@dataclass
class _Codes:
    """How one flat array maps to histogram codes: ``lut[value - off]``."""

    data: np.ndarray
    lut: np.ndarray
    off: int
    values: np.ndarray  # label value of each code


def _raw(flat: np.ndarray) -> np.ndarray:
    """The array's values as counted: 8- and 16-bit integers (and bool) through unsigned views."""
    if flat.dtype.kind in "biu" and flat.dtype.itemsize <= 2:
        return flat.view(np.uint8 if flat.dtype.itemsize == 1 else np.uint16)
    return flat


def _range(flat: np.ndarray, name: str) -> tuple[int, int] | None:
    """(lowest, highest) value of a wide integer or whole-float array; None when it is empty.

    Raises InputError for NaN, inf or fractions, and for values outside int64.
    """
    if flat.size == 0:
        return None
    lo: float
    hi: float
    if flat.dtype.kind in "iu":
        # Integer min/max taken exactly: floats round integers above 2**53, and a
        # lookup table sized from them was too small (the kernel read out of bounds).
        lo, hi = int(flat.min()), int(flat.max())
    else:
        lo, hi, ok = _hist_numpy.minmax(flat)
        if not ok:
            raise InputError(
                f"{name}: label values must be whole numbers; found NaN, inf or a fractional value "
                "(for probabilities use the soft API with axis=, or threshold first)"
            )
    if lo < -(1 << 63) or hi >= 1 << 63:
        raise InputError(f"{name}: label values must fit in a 64-bit integer (found {lo}..{hi})")
    return int(lo), int(hi)


#: More distinct values than this, negative ones among them, is an image, not a label map.
_MAX_IMAGE_LIKE = 255


def _check_not_an_image(values: np.ndarray, name: str) -> None:
    """Refuse intensities given as labels (a CT in imagesTs/): negative values and over 255 distinct ones."""
    if values.size > _MAX_IMAGE_LIKE and values.size and int(values.min()) < 0:
        raise InputError(
            f"{name}: {values.size} distinct values from {int(values.min())} to {int(values.max())}: this looks "
            "like an image (intensities), not a label map; give the label files (e.g. labelsTs/, not imagesTs/)"
        )


def _codes(flat: np.ndarray, name: str) -> _Codes | None:
    """Build the code mapping of a flat array; None when its value range is too wide for a table."""
    data = _raw(flat)
    dtype = flat.dtype if flat.dtype.kind != "b" else np.dtype(np.uint8)
    if data.dtype == np.uint8:
        # No presence pass for 8-bit: all 256 codes fit a small histogram.
        values = np.arange(256, dtype=np.uint8).view(dtype).astype(np.int64)
        return _Codes(data, np.arange(256, dtype=np.int64), 0, values)
    if data.dtype == np.uint16:
        present = np.flatnonzero(_presence(data, 0, 1 << 16))
        lut = np.full(1 << 16, -1, dtype=np.int64)
        lut[present] = np.arange(present.size)
        values = present.astype(np.uint16).view(dtype).astype(np.int64)
        _check_not_an_image(values, name)
        return _Codes(data, lut, 0, values)
    span = _range(flat, name)
    if span is None:
        return _Codes(flat, np.zeros(1, dtype=np.int64), 0, np.zeros(0, dtype=np.int64))
    lo, hi = span
    if hi - lo + 1 > _MAX_LUT:
        return None
    present = np.flatnonzero(_presence(flat, lo, hi - lo + 1))
    lut = np.full(hi - lo + 1, -1, dtype=np.int64)
    lut[present] = np.arange(present.size)
    _check_not_an_image(present.astype(np.int64) + lo, name)
    return _Codes(flat, lut, lo, present.astype(np.int64) + lo)


def _joint_sparse(gt: np.ndarray, pred: np.ndarray, name_gt: str, name_pred: str) -> JointCounts:
    """Fallback for label values spread over a huge range: sorted unique values, chunked."""
    chunk = 1 << 20
    for arr, name in ((gt, name_gt), (pred, name_pred)):
        if arr.dtype.kind == "f":
            for lo in range(0, arr.size, chunk):
                c = arr[lo : lo + chunk]
                if not (np.all(np.isfinite(c)) and np.all(c == np.floor(c))):
                    raise InputError(f"{name}: label values must be whole numbers; found NaN, inf or a fraction")
    values = np.zeros(0, dtype=np.int64)
    for arr, name in ((gt, name_gt), (pred, name_pred)):
        own = np.zeros(0, dtype=np.int64)
        for lo in range(0, arr.size, chunk):
            own = np.union1d(own, np.unique(arr[lo : lo + chunk]).astype(np.int64))
        _check_not_an_image(own, name)
        values = np.union1d(values, own)
    k = values.size
    if k * k > _MAX_HIST * 4:
        raise InputError(
            f"{name_gt}/{name_pred}: {k} distinct label values; too many to score as classes "
            "(is this an intensity image rather than a label map?)"
        )
    flat = np.zeros(k * k, dtype=np.int64)
    for lo in range(0, gt.size, chunk):
        ig = np.searchsorted(values, gt[lo : lo + chunk].astype(np.int64))
        ip = np.searchsorted(values, pred[lo : lo + chunk].astype(np.int64))
        flat += np.bincount(ig * k + ip, minlength=k * k)
    return JointCounts(values, flat.reshape(k, k))


def joint_counts(
    pred: Any, gt: Any, *, ignore_label: int | None = None, names: tuple[str, str] = ("pred", "gt")
) -> JointCounts:
    """Count every (gt value, pred value) pair in one pass over both volumes.

    Parameters
    ----------
    pred, gt : array_like of int, bool or whole-number float, same shape
        Label volumes; dtypes may differ. Any memory order (no copy is made when
        both share one). CuPy arrays are counted on their GPU.
    ignore_label : int, optional
        Voxels where ``gt == ignore_label`` are left out of every count.
    names : (str, str)
        How to name pred and gt in error messages (e.g. their file paths).

    Returns
    -------
    JointCounts
        Values present and their joint counts.

    Notes
    -----
    Each array is mapped to compact codes (8-bit values directly; 16-bit and
    wider through a lookup table built from one presence pass), then a single
    joint histogram over the codes is accumulated in per-thread slices. Extra
    memory is a few lookup tables and histograms, independent of the volume size.
    """
    if not (_is_numpy_like(pred) and _is_numpy_like(gt)):
        joint = _joint_counts_xp(pred, gt, names)
        return _drop_ignored(joint, int(ignore_label)) if ignore_label is not None else joint
    p = label_array(pred, names[0])
    g = label_array(gt, names[1])
    fp_, fg_ = _flat_pair(p, g)
    cg = _codes(fg_, names[1])
    cp = _codes(fp_, names[0])
    if cg is None or cp is None or cg.values.size * cp.values.size > _MAX_HIST:
        joint = _joint_sparse(fg_, fp_, names[1], names[0])
    else:
        hist = _joint_hist(cg.data, cp.data, cg.lut, cg.off, cp.lut, cp.off, cg.values.size, cp.values.size)
        joint = _compact(hist, cg.values, cp.values)
    if ignore_label is not None:
        joint = _drop_ignored(joint, int(ignore_label))
    return joint


def value_counts(labels: Any, *, name: str = "labels") -> tuple[np.ndarray, np.ndarray]:
    """Every value of a label array and its voxel count, ascending (the label census).

    Parameters
    ----------
    labels : array_like of int, bool or whole-number float
        Any shape and memory order (read without a copy).
    name : str
        How to name the array in error messages.

    Returns
    -------
    (values, counts) : two ndarrays of int64
        Values present, sorted, and how many voxels hold each (values stay
        uint64 when a uint64 array holds values beyond int64).

    Examples
    --------
    >>> v, c = value_counts(np.array([[0, 2], [2, 2]], np.uint8))
    >>> v.tolist(), c.tolist()
    ([0, 2], [1, 3])
    """
    arr = np.asarray(labels)
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{name}: dtype {arr.dtype} is not a label type")
    flat = _flat(arr) if arr.ndim else arr.reshape(1)
    data = _raw(flat)
    dtype = flat.dtype if flat.dtype.kind != "b" else np.dtype(np.uint8)
    if data.dtype in (np.uint8, np.uint16):
        counts = _presence(data, 0, 1 << (8 * data.dtype.itemsize))
        present = np.flatnonzero(counts)
        values = present.astype(data.dtype).view(dtype).astype(np.int64)
        order = np.argsort(values, kind="stable")  # signed views reorder
        return values[order], counts[present][order]
    if flat.dtype == np.uint64 and flat.size and int(flat.max()) >= 1 << 63:
        values, counts = np.unique(flat, return_counts=True)  # beyond int64: kept as uint64
        return values, counts.astype(np.int64)
    span = _range(flat, name)
    if span is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo, hi = span
    if hi - lo + 1 <= _MAX_LUT:
        counts = _presence(flat, lo, hi - lo + 1)
        present = np.flatnonzero(counts)
        return present.astype(np.int64) + lo, counts[present]
    values, counts = np.unique(flat, return_counts=True)
    return values.astype(np.int64), counts.astype(np.int64)


def _compact(hist: np.ndarray, values_gt: np.ndarray, values_pred: np.ndarray) -> JointCounts:
    """Joint counts over the values actually present, from a histogram over code spaces."""
    rows = np.flatnonzero(hist.sum(axis=1))
    cols = np.flatnonzero(hist.sum(axis=0))
    # A few values: a set union (np.union1d sorts, and its first call imports numpy.ma).
    values = np.array(sorted({*values_gt[rows].tolist(), *values_pred[cols].tolist()}), dtype=np.int64)
    counts = np.zeros((values.size, values.size), dtype=np.int64)
    ri = np.searchsorted(values, values_gt[rows])
    ci = np.searchsorted(values, values_pred[cols])
    counts[np.ix_(ri, ci)] = hist[np.ix_(rows, cols)]
    return JointCounts(values, counts)


def _is_numpy_like(x: Any) -> bool:
    """NumPy arrays, scalars and nested sequences take the compiled path; other arrays (CuPy...) do not."""
    return isinstance(x, (np.ndarray, np.generic, list, tuple)) or not hasattr(x, "__array_namespace__")


def _joint_counts_xp(pred: Any, gt: Any, names: tuple[str, str]) -> JointCounts:
    """The same counts for any array-API namespace (CuPy on the GPU, array_api_strict in tests).

    One fused pass builds combined keys ``(g - gmin) * range_p + (p - pmin)`` in
    int32 and counts them with the namespace's ``bincount`` (CuPy) or
    ``unique_counts`` (the standard's portable form); only the small histogram
    comes back to the host.
    """
    from segeval._optional import array_namespace

    xp = array_namespace(pred, gt)
    for arr, name in ((pred, names[0]), (gt, names[1])):
        dt = arr.dtype
        if arr.ndim < 2:
            raise InputError(f"{name}: a label volume must be 2-D or 3-D (got a {arr.ndim}-D array)")
        if xp.isdtype(dt, "complex floating") or not (
            xp.isdtype(dt, "integral") or xp.isdtype(dt, "bool") or xp.isdtype(dt, "real floating")
        ):
            raise InputError(f"{name}: a label volume must hold integers (or whole-number floats), got dtype {dt}")
        if xp.isdtype(dt, "real floating") and (
            not bool(xp.all(xp.isfinite(arr))) or not bool(xp.all(arr == xp.floor(arr)))
        ):
            raise InputError(
                f"{name}: label values must be whole numbers; found NaN, inf or a fractional value"
            )
    same_shape(pred, gt)
    p = xp.reshape(xp.astype(pred, xp.int64) if not xp.isdtype(pred.dtype, "integral") else pred, (-1,))
    g = xp.reshape(xp.astype(gt, xp.int64) if not xp.isdtype(gt.dtype, "integral") else gt, (-1,))
    if p.shape[0] == 0:
        return JointCounts(np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.int64))
    pmin, pmax = int(xp.min(p)), int(xp.max(p))
    gmin, gmax = int(xp.min(g)), int(xp.max(g))
    rp, rg = pmax - pmin + 1, gmax - gmin + 1
    if rp * rg <= _MAX_HIST * 4:
        key_t = xp.int32 if rp * rg < (1 << 31) else xp.int64
        keys = (xp.astype(g, key_t) - gmin) * rp + (xp.astype(p, key_t) - pmin)
        hist = _count_keys(keys, rp * rg, xp).reshape(rg, rp)
        return _compact(hist, np.arange(gmin, gmax + 1, dtype=np.int64), np.arange(pmin, pmax + 1, dtype=np.int64))
    values = xp.unique_values(xp.concat([xp.unique_values(xp.astype(p, xp.int64)),
                                         xp.unique_values(xp.astype(g, xp.int64))]))
    values = xp.sort(values)
    k = int(values.shape[0])
    keys = xp.searchsorted(values, xp.astype(g, xp.int64)) * k + xp.searchsorted(values, xp.astype(p, xp.int64))
    return JointCounts(to_host(values).astype(np.int64), _count_keys(keys, k * k, xp).reshape(k, k))


def _count_keys(keys: Any, n: int, xp: Any) -> np.ndarray:
    """Host histogram of integer keys in [0, n)."""
    if hasattr(xp, "bincount"):
        return to_host(xp.bincount(keys, minlength=n)).astype(np.int64)
    uniq, cnt = xp.unique_counts(keys)
    out = np.zeros(n, dtype=np.int64)
    out[to_host(uniq).astype(np.int64)] = to_host(cnt)
    return out


def _drop_ignored(joint: JointCounts, ignore_label: int) -> JointCounts:
    """Remove the gt row of the ignore label, and values no longer present."""
    counts = joint.counts.copy()
    hit = np.flatnonzero(joint.values == ignore_label)
    if hit.size:
        counts[hit[0], :] = 0
    keep = (counts.sum(axis=0) > 0) | (counts.sum(axis=1) > 0)
    return JointCounts(joint.values[keep], counts[np.ix_(keep, keep)])


def confusion_matrix(
    pred: Array,
    gt: Array,
    *,
    labels: Sequence[int] | None = None,
    ignore_label: int | None = None,
) -> np.ndarray:
    """K x K voxel counts of every (gt class, pred class) pair, in one pass.

    Parameters
    ----------
    pred, gt : array_like of int, bool or whole-number float, same shape
        Predicted and ground-truth label volumes (dtypes may differ).
    labels : sequence of int, optional
        Classes indexing the rows and columns, in this order; default: every value
        present in either volume (background included), sorted. Voxels whose
        values are not listed are not counted.
    ignore_label : int, optional
        Voxels where ``gt == ignore_label`` are excluded.

    Returns
    -------
    ndarray of int64, shape (K, K)
        ``cm[i, j]`` = voxels with ``gt == labels[i]`` and ``pred == labels[j]``;
        rows are ground truth, columns prediction (as scikit-learn).

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.array([[0, 1], [1, 2]])
    >>> pred = np.array([[0, 1], [2, 2]])
    >>> confusion_matrix(pred, gt)
    array([[1, 0, 0],
           [0, 1, 1],
           [0, 0, 1]])
    """
    joint = joint_counts(pred, gt, ignore_label=ignore_label)
    if labels is None:
        return joint.counts
    return joint.select([int(v) for v in labels])
