"""The lesion pipeline's whole-volume passes, compiled with numba: one read of each array per step.

Lesion scoring touches every voxel only a few times: to find each class's
bounding box, to cut its masks out of the label maps, to label components
(cc3d), and to measure the components (sizes and boxes) and their overlaps.
NumPy does each of these in several passes with full-size temporaries
(``lut[labels]``, ``find_objects``, ``(a > 0) & (b > 0)``); the kernels here
do each in one serial pass in memory order, skipping background voxels at
the cost of one test. Without a usable numba
(:mod:`segeval.metrics._numba`) every function falls back to NumPy and
SciPy with identical results; the tests run both.

Arrays of any memory order are walked in their own order: :func:`_walk`
transposes every array of a call alike so that the last axis is the one
with the smallest stride, and the boxes are put back in the caller's axes.
2-D arrays are walked as 3-D ones with a leading axis of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from segeval.metrics import _numba

__all__ = ["class_boxes", "component_stats", "masks_in_box", "overlap_pairs", "relabel", "renumber"]

Box = tuple[slice, ...]

# The kernels below are plain Python until `_KERNELS` compiles them (serial, nogil).


def _class_boxes_kernel(a, b, bits, lo, hi):  # type: ignore[no-untyped-def]
    """Bounding box (``lo``/``hi`` inclusive, per class) of the voxels of ``a`` or ``b`` whose label's ``bits`` has the class's bit."""
    n0, n1, n2 = a.shape
    nclass = lo.shape[0]
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                code = bits[a[i, j, k]] | bits[b[i, j, k]]
                if code == 0:
                    continue
                for c in range(nclass):
                    if (code >> np.uint64(c)) & np.uint64(1):
                        lo[c, 0] = min(lo[c, 0], i)
                        hi[c, 0] = max(hi[c, 0], i)
                        lo[c, 1] = min(lo[c, 1], j)
                        hi[c, 1] = max(hi[c, 1], j)
                        lo[c, 2] = min(lo[c, 2], k)
                        hi[c, 2] = max(hi[c, 2], k)


def _masks_kernel(a, b, member, ma, mb):  # type: ignore[no-untyped-def]
    """``ma |= member[a]`` and ``mb |= member[b]`` (boolean look-up) on zeroed masks: only their
    foreground is written, so the untouched pages of a sparse mask stay the kernel's shared zero page."""
    n0, n1, n2 = a.shape
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                if member[a[i, j, k]]:
                    ma[i, j, k] = True
                if member[b[i, j, k]]:
                    mb[i, j, k] = True


def _stats_kernel(labels, mult, sizes, lo, hi, first):  # type: ignore[no-untyped-def]
    """Voxels (``sizes[id]``), inclusive bounding box (``lo[id]``, ``hi[id]``) and first voxel in C order
    (``first[id]``, the C-order index ``i * mult[0] + j * mult[1] + k * mult[2]``) of every id > 0."""
    n0, n1, n2 = labels.shape
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                v = labels[i, j, k]
                if v == 0:
                    continue
                sizes[v] += 1
                c = i * mult[0] + j * mult[1] + k * mult[2]
                first[v] = min(first[v], c)
                lo[v, 0] = min(lo[v, 0], i)
                hi[v, 0] = max(hi[v, 0], i)
                lo[v, 1] = min(lo[v, 1], j)
                hi[v, 1] = max(hi[v, 1], j)
                lo[v, 2] = min(lo[v, 2], k)
                hi[v, 2] = max(hi[v, 2], k)


def _masked_stats_kernel(words, tail, labels, n1, n2, mult, sizes, lo, hi, first):  # type: ignore[no-untyped-def]
    """:func:`_stats_kernel` for a component map whose foreground is a mask: ``words`` (the mask's bytes
    as 8-byte words, memory order) and ``tail`` (the bytes after the last whole word) say where to look
    in ``labels`` (flat, memory order; the walk's last two axes have ``n1`` and ``n2`` voxels), so that
    background costs one test per 8 voxels."""
    nw = words.shape[0]
    for w in range(nw + tail.shape[0]):
        if w < nw:
            if words[w] == 0:
                continue
            start, stop = w * 8, w * 8 + 8
        else:
            if tail[w - nw] == 0:
                continue
            start, stop = nw * 8 + (w - nw), nw * 8 + (w - nw) + 1
        for idx in range(start, stop):
            v = labels[idx]
            if v == 0:
                continue
            k = idx % n2
            rest = idx // n2
            j = rest % n1
            i = rest // n1
            sizes[v] += 1
            c = i * mult[0] + j * mult[1] + k * mult[2]
            first[v] = min(first[v], c)
            lo[v, 0] = min(lo[v, 0], i)
            hi[v, 0] = max(hi[v, 0], i)
            lo[v, 1] = min(lo[v, 1], j)
            hi[v, 1] = max(hi[v, 1], j)
            lo[v, 2] = min(lo[v, 2], k)
            hi[v, 2] = max(hi[v, 2], k)


def _renumber_kernel(labels, lut, lo, hi, flag):  # type: ignore[no-untyped-def]
    """``labels = lut[labels]`` in place, visiting only the boxes ``lo[b]..hi[b]`` (inclusive), which hold
    every id > 0. ``flag`` (a bit no id uses) marks voxels already mapped where boxes overlap; a second
    visit clears it."""
    for b in range(lo.shape[0]):
        for i in range(lo[b, 0], hi[b, 0] + 1):
            for j in range(lo[b, 1], hi[b, 1] + 1):
                for k in range(lo[b, 2], hi[b, 2] + 1):
                    v = labels[i, j, k]
                    if v != 0 and v < flag:
                        labels[i, j, k] = lut[v] | flag
    for b in range(lo.shape[0]):
        for i in range(lo[b, 0], hi[b, 0] + 1):
            for j in range(lo[b, 1], hi[b, 1] + 1):
                for k in range(lo[b, 2], hi[b, 2] + 1):
                    v = labels[i, j, k]
                    if v >= flag:
                        labels[i, j, k] = v ^ flag


def _relabel_kernel(labels, lut, out, sizes, lo, hi):  # type: ignore[no-untyped-def]
    """``out = lut[labels]``, with the sizes and boxes of ``out``'s ids (as :func:`_stats_kernel`)."""
    n0, n1, n2 = labels.shape
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                v = labels[i, j, k]
                if v == 0:
                    out[i, j, k] = 0
                    continue
                w = lut[v]
                out[i, j, k] = w
                if w == 0:
                    continue
                sizes[w] += 1
                lo[w, 0] = min(lo[w, 0], i)
                hi[w, 0] = max(hi[w, 0], i)
                lo[w, 1] = min(lo[w, 1], j)
                hi[w, 1] = max(hi[w, 1], j)
                lo[w, 2] = min(lo[w, 2], k)
                hi[w, 2] = max(hi[w, 2], k)


def _pairs_kernel(g, p, lo, hi, width, keys):  # type: ignore[no-untyped-def]
    """``id * width + p`` of every voxel of GT id ``b + 1`` (inside its box ``lo[b]..hi[b]``) where ``p`` > 0,
    into ``keys``; returns how many."""
    c = 0
    for b in range(lo.shape[0]):
        gid = b + 1
        for i in range(lo[b, 0], hi[b, 0] + 1):
            for j in range(lo[b, 1], hi[b, 1] + 1):
                for k in range(lo[b, 2], hi[b, 2] + 1):
                    if g[i, j, k] != gid:
                        continue
                    q = p[i, j, k]
                    if q == 0:
                        continue
                    keys[c] = np.int64(gid) * width + np.int64(q)
                    c += 1
    return c


_KERNELS = _numba.KernelSet(_class_boxes_kernel, _masks_kernel, _stats_kernel, _masked_stats_kernel, _renumber_kernel, _relabel_kernel,
                            _pairs_kernel)


def _jit() -> Any:
    """The compiled kernels, or None (no usable numba, or NumPy forced)."""
    return _KERNELS.compiled() if _numba.use_jit() else None


def _order(a: np.ndarray) -> tuple[int, ...]:
    """The axes of ``a`` from the largest stride to the smallest (memory order); ties keep their order."""
    return tuple(sorted(range(a.ndim), key=lambda ax: -abs(a.strides[ax])))


def _walk(order: tuple[int, ...], *arrays: np.ndarray) -> list[np.ndarray]:
    """Each array transposed to ``order`` (memory order: last axis innermost), as 3-D."""
    out = []
    for a in arrays:
        t = a.transpose(order)
        out.append(t[np.newaxis] if t.ndim == 2 else t)
    return out


def _boxes(lo: np.ndarray, hi: np.ndarray, order: tuple[int, ...], ndim: int) -> list[Box | None]:
    """Inclusive per-row bounds in walk axes (3 columns) as boxes in the caller's axes (None when empty)."""
    cols = list(range(3 - ndim, 3))  # a 2-D walk has a leading axis of one
    out: list[Box | None] = []
    for r in range(lo.shape[0]):
        if hi[r, cols[0]] < 0:
            out.append(None)
            continue
        box: list[slice] = [slice(0, 0)] * ndim
        for col, ax in zip(cols, order):
            box[ax] = slice(int(lo[r, col]), int(hi[r, col]) + 1)
        out.append(tuple(box))
    return out


def _bounds(rows: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((rows, 3), np.iinfo(np.int64).max, dtype=np.int64), np.full((rows, 3), -1, dtype=np.int64)


def _walk_bounds(boxes: Sequence[Box], order: tuple[int, ...], ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes in the caller's axes as inclusive bounds in walk axes (the inverse of :func:`_boxes`)."""
    lo = np.zeros((len(boxes), 3), dtype=np.int64)
    hi = np.zeros((len(boxes), 3), dtype=np.int64)  # a 2-D walk's leading axis stays 0..0
    for r, box in enumerate(boxes):
        for col, ax in zip(range(3 - ndim, 3), order):
            lo[r, col], hi[r, col] = box[ax].start, box[ax].stop - 1
    return lo, hi


def _small_labels(a: np.ndarray) -> bool:
    return a.dtype in (np.uint8, np.uint16, np.bool_)


def class_boxes(pred: np.ndarray, gt: np.ndarray, classes: Sequence[Sequence[int]]) -> list[Box | None]:
    """The bounding box of each class (its labels in ``pred`` or ``gt``), None for a class in neither.

    Parameters
    ----------
    pred, gt : ndarray of int, same shape (2-D or 3-D)
        Label maps.
    classes : sequence of sequence of int
        Each class's member labels.

    Examples
    --------
    >>> g = np.zeros((4, 5, 6), np.uint8); g[1, 2, 3] = 2; g[2, 2, 4] = 1
    >>> class_boxes(np.zeros_like(g), g, [(1, 2), (2,), (3,)])
    [(slice(1, 3, None), slice(2, 3, None), slice(3, 5, None)), (slice(1, 2, None), slice(2, 3, None), slice(3, 4, None)), None]
    """
    kernels = _jit()
    if kernels is None or not (_small_labels(pred) and _small_labels(gt)) or len(classes) > 64 or pred.size == 0:
        return [_box_numpy(pred, gt, members) for members in classes]
    top = 2 if pred.dtype == np.bool_ and gt.dtype == np.bool_ else (
        256 if pred.dtype != np.uint16 and gt.dtype != np.uint16 else 65536)
    bits = np.zeros(top, dtype=np.uint64)
    for c, members in enumerate(classes):
        for m in members:
            if 0 <= m < top:
                bits[m] |= np.uint64(1) << np.uint64(c)
    order = _order(gt)
    a, b = _walk(order, pred.view(np.uint8) if pred.dtype == np.bool_ else pred,
                 gt.view(np.uint8) if gt.dtype == np.bool_ else gt)
    lo, hi = _bounds(len(classes))
    kernels._class_boxes_kernel(a, b, bits, lo, hi)
    return _boxes(lo, hi, order, gt.ndim)


def _box_numpy(pred: np.ndarray, gt: np.ndarray, members: Sequence[int]) -> Box | None:
    union = np.isin(pred, np.asarray(members)) | np.isin(gt, np.asarray(members))
    found = ndimage.find_objects(union.view(np.uint8), max_label=1)
    return found[0] if found and found[0] is not None else None


def masks_in_box(pred: np.ndarray, gt: np.ndarray, members: Sequence[int], box: Box) -> tuple[np.ndarray, np.ndarray]:
    """The class masks ``isin(pred[box], members)`` and ``isin(gt[box], members)``, contiguous, in ``gt``'s memory order.

    The layout changes no result: components are numbered in C order whatever
    the mask's layout (:func:`segeval.lesions.components.label_components`).
    """
    p, g = pred[box], gt[box]
    order_of: Literal["C", "F"] = "F" if gt.flags.f_contiguous and not gt.flags.c_contiguous else "C"
    kernels = _jit()
    if kernels is None or not (_small_labels(p) and _small_labels(g)) or g.size == 0:
        arr = np.asarray(members)
        return np.asarray(np.isin(p, arr), order=order_of), np.asarray(np.isin(g, arr), order=order_of)
    top = 256 if p.dtype != np.uint16 and g.dtype != np.uint16 else 65536
    member = np.zeros(top, dtype=np.bool_)
    member[[m for m in members if 0 <= m < top]] = True
    mp = np.zeros(g.shape, dtype=np.bool_, order=order_of)
    mg = np.zeros(g.shape, dtype=np.bool_, order=order_of)
    order = _order(mg)
    a, b, oa, ob = _walk(order, p.view(np.uint8) if p.dtype == np.bool_ else p,
                         g.view(np.uint8) if g.dtype == np.bool_ else g, mp, mg)
    kernels._masks_kernel(a, b, member, oa, ob)
    return mp, mg


def component_stats(labels: np.ndarray, n: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, list[Box], np.ndarray]:
    """Voxels per id (``sizes[0]`` the background), the box of each id 1..n, and each id's first voxel in C order.

    Parameters
    ----------
    labels : ndarray of int
        A component map (ids 0..n).
    n : int
        Its largest id.
    mask : ndarray of bool, optional
        Its foreground (the mask it was labelled from): read instead of the
        labels to skip background, when both have one contiguous layout.

    Returns
    -------
    sizes : ndarray of int64, shape (n + 1,)
    boxes : list of tuple of slice, n of them
    first : ndarray of int64, shape (n + 1,)
        ``first[i]``: the C-order index of id ``i``'s first voxel (``first[0]`` unused).

    Raises
    ------
    AssertionError
        An id in 1..n has no voxel (the ids must be contiguous).
    """
    kernels = _jit()
    if kernels is None:
        return _stats_numpy(labels, n)
    sizes = np.zeros(n + 1, dtype=np.int64)
    lo, hi = _bounds(n + 1)
    first = np.full(n + 1, np.iinfo(np.int64).max, dtype=np.int64)
    order = _order(labels)
    (walk,) = _walk(order, labels)
    c_mult = [int(np.prod(labels.shape[ax + 1:])) for ax in range(labels.ndim)]
    mult = np.array(([0] if labels.ndim == 2 else []) + [c_mult[ax] for ax in order], dtype=np.int64)
    if mask is not None and _same_contiguous(mask, labels) and mask.dtype == np.bool_:
        flat = mask.ravel(order="K").view(np.uint8)
        whole = flat.size // 8
        words = flat[:whole * 8].view(np.uint64) if flat.ctypes.data % 8 == 0 else np.zeros(0, np.uint64)
        tail = flat[words.size * 8:]
        kernels._masked_stats_kernel(words, tail, labels.ravel(order="K"), walk.shape[1], walk.shape[2],
                                     mult, sizes, lo, hi, first)
    else:
        kernels._stats_kernel(walk, mult, sizes, lo, hi, first)
    found = _boxes(lo[1:], hi[1:], order, labels.ndim)
    if any(b is None for b in found):
        raise AssertionError("component ids are not contiguous")
    sizes[0] = labels.size - int(sizes[1:].sum())
    return sizes, [b for b in found if b is not None], first


def _same_contiguous(a: np.ndarray, b: np.ndarray) -> bool:
    """Both C-contiguous or both Fortran-contiguous (one memory order, no gaps), of one shape."""
    return a.shape == b.shape and ((a.flags.c_contiguous and b.flags.c_contiguous) or
                                   (a.flags.f_contiguous and b.flags.f_contiguous))


def _stats_numpy(labels: np.ndarray, n: int) -> tuple[np.ndarray, list[Box], np.ndarray]:
    boxes = [b for b in ndimage.find_objects(labels, max_label=n) if b is not None] if n else []
    if len(boxes) != n:
        raise AssertionError("component ids are not contiguous")
    sizes = np.zeros(n + 1, dtype=np.int64)
    first = np.zeros(n + 1, dtype=np.int64)
    for i, box in enumerate(boxes, start=1):  # counted inside each box: lesions are sparse
        hits = np.argwhere(labels[box] == i)  # in C order: the first row is the first voxel
        sizes[i] = hits.shape[0]
        first[i] = np.ravel_multi_index(tuple(int(hits[0, a]) + box[a].start for a in range(labels.ndim)),
                                        labels.shape)
    sizes[0] = labels.size - int(sizes[1:].sum())
    return sizes, boxes, first


def renumber(labels: np.ndarray, lut: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """``lut[labels]``, in place where it can be (ids 1..n, each inside ``boxes[id - 1]``; ``lut[0] == 0``).

    The compiled path visits only the boxes; ``labels`` must then be this
    caller's own array (cc3d's output), which it returns changed.
    """
    kernels = _jit()
    n = len(boxes)
    if labels.dtype.kind == "u":
        flag = 1 << (8 * labels.dtype.itemsize - 1)
    else:
        flag = 1 << (8 * labels.dtype.itemsize - 2)
    if kernels is None or n >= flag or not labels.flags.writeable:
        out: np.ndarray = lut[labels]
        return out
    order = _order(labels)
    (walk,) = _walk(order, labels)
    lo, hi = _walk_bounds(boxes, order, labels.ndim)
    kernels._renumber_kernel(walk, lut.astype(labels.dtype), lo, hi, labels.dtype.type(flag))
    return labels


def relabel(labels: np.ndarray, lut: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, list[Box | None]]:
    """``lut[labels]`` (ids 0..n out), with the sizes and boxes of its ids (None: an id with no voxel)."""
    kernels = _jit()
    if kernels is None:
        out = lut[labels]
        found = ndimage.find_objects(out, max_label=n) if n else []
        sizes = np.zeros(n + 1, dtype=np.int64)
        for i, box in enumerate(found, start=1):
            if box is not None:
                sizes[i] = np.count_nonzero(out[box] == i)
        sizes[0] = out.size - int(sizes[1:].sum())
        return out, sizes, list(found)
    out = np.empty_like(labels, dtype=lut.dtype)  # same memory order
    sizes = np.zeros(n + 1, dtype=np.int64)
    lo, hi = _bounds(n + 1)
    order = _order(labels)
    src, dst = _walk(order, labels, out)
    kernels._relabel_kernel(src, lut, dst, sizes, lo, hi)
    sizes[0] = out.size - int(sizes[1:].sum())
    return out, sizes, _boxes(lo[1:], hi[1:], order, labels.ndim)


def overlap_pairs(gt: np.ndarray, pred: np.ndarray, n_pred: int, gt_boxes: Sequence[Box],
                  most: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gt id, pred id, overlapping voxels) of every pair of components that overlap, sorted by (gt, pred).

    ``gt_boxes[i - 1]`` bounds GT id ``i`` (only the boxes are visited); ``most``
    bounds the overlapping voxels (the smaller foreground).
    """
    width = n_pred + 1
    kernels = _jit()
    if kernels is None or not gt_boxes:
        both = (gt > 0) & (pred > 0)
        keys = gt[both].astype(np.int64) * width + pred[both]
    else:
        buf = np.empty(max(most, 0), dtype=np.int64)
        order = _order(gt)
        g, p = _walk(order, gt, pred)
        lo, hi = _walk_bounds(gt_boxes, order, gt.ndim)
        keys = buf[:kernels._pairs_kernel(g, p, lo, hi, np.int64(width), buf)]
    if keys.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    uniq, counts = np.unique(keys, return_counts=True)
    return uniq // width, uniq % width, counts.astype(np.int64)
