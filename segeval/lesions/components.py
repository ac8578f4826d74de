"""Connected components of a binary mask, merged by dilation as BraTS merges them, with their boxes and sizes.

Components come from ``connected-components-3d`` (cc3d), the library BraTS
and panoptica use, so ids follow its scan order. Every step works inside
each component's bounding box (grown by the dilation), never once per lesion
over the whole volume: this is what makes segeval's lesion scoring fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from segeval._optional import import_optional
from segeval.lesions._kernels import component_stats, relabel, renumber

__all__ = ["Components", "class_mask", "dilate_in_box", "drop_small", "grow", "label_components", "merge_by_dilation",
           "union_box"]

Box = tuple[slice, ...]


@dataclass(frozen=True)
class Components:
    """Labelled components of one mask.

    Attributes
    ----------
    labels : ndarray of unsigned int (cc3d's) or int32, the mask's shape
        0 background, 1..n the components.
    n : int
        Number of components.
    sizes : ndarray of int64, shape (n + 1,)
        Voxels per id (``sizes[0]`` is the background).
    boxes : list of tuple of slice
        ``boxes[i - 1]`` bounds component ``i``.
    """

    labels: np.ndarray
    n: int
    sizes: np.ndarray
    boxes: list[Box]


def _cc3d() -> Any:
    return import_optional("cc3d")


def _connectivity(ndim: int, connectivity: int) -> int:
    if ndim == 2:
        return 4 if connectivity == 6 else 8
    return connectivity


def _finish(labels: np.ndarray, n: int, mask: np.ndarray | None = None) -> Components:
    """Sizes and boxes of a component map, its ids renumbered in C order of their first voxels if need be.

    cc3d numbers components in its scan order, which follows the mask's
    memory order; renumbering makes the ids those of a C-order scan (the
    official code's, which labels C-ordered masks) for a mask of any layout.
    """
    if labels.dtype.kind != "u" and labels.dtype != np.int32:
        labels = labels.astype(np.int32)  # cc3d's unsigned ids are kept as they are (no copy of the volume)
    sizes, boxes, first = component_stats(labels, n, mask)
    rank = np.argsort(first[1:], kind="stable")
    if n and np.any(rank != np.arange(n)):
        lut = np.zeros(n + 1, dtype=labels.dtype)
        lut[rank + 1] = np.arange(1, n + 1, dtype=labels.dtype)
        labels = renumber(labels, lut, boxes)
        sizes = np.concatenate([sizes[:1], sizes[1:][rank]])
        boxes = [boxes[r] for r in rank]
    return Components(labels, n, sizes, boxes)


def label_components(mask: np.ndarray, connectivity: int = 26) -> Components:
    """Connected components of a boolean mask (cc3d), numbered in C order of their first voxels.

    Parameters
    ----------
    mask : ndarray of bool, 2-D or 3-D
        Foreground.
    connectivity : {6, 18, 26}
        Neighbourhood in 3-D; a 2-D mask uses 4 for 6 and 8 otherwise.

    Examples
    --------
    >>> m = np.zeros((5, 5, 5), bool); m[0, 0, 0] = m[1, 1, 1] = m[4, 4, 4] = True
    >>> label_components(m, 26).n, label_components(m, 6).n
    (2, 3)
    """
    cc3d = _cc3d()
    mask = np.asarray(mask, dtype=bool)
    labels, n = cc3d.connected_components(mask, connectivity=_connectivity(mask.ndim, connectivity), return_N=True)
    return _finish(labels, int(n), mask)


def class_mask(labels: np.ndarray, members: Sequence[int]) -> np.ndarray:
    """``np.isin(labels, members)`` by a lookup table when the labels are small unsigned ints (one gather)."""
    if labels.dtype in (np.uint8, np.uint16) and labels.size > 0:
        lut = np.zeros(int(np.iinfo(labels.dtype).max) + 1, dtype=bool)
        lut[[m for m in members if 0 <= m < lut.size]] = True
        mask: np.ndarray = lut[labels]
        return mask
    return np.isin(labels, np.asarray(members))


def grow(box: Box, margin: int, shape: Sequence[int]) -> Box:
    """``box`` widened by ``margin`` voxels on every side, clipped to the image."""
    return tuple(slice(max(s.start - margin, 0), min(s.stop + margin, n)) for s, n in zip(box, shape))


def union_box(boxes: Sequence[Box]) -> Box:
    """The smallest box holding every box of ``boxes`` (at least one)."""
    return tuple(slice(min(b[a].start for b in boxes), max(b[a].stop for b in boxes)) for a in range(len(boxes[0])))


def _cross(ndim: int) -> np.ndarray:
    """BraTS's structuring element: ``generate_binary_structure(3, 2)``, the 18-connected cross."""
    cross: np.ndarray = ndimage.generate_binary_structure(ndim, 2)
    return cross


def dilate_in_box(labels: np.ndarray, ids: Sequence[int] | int, box: Box, iterations: int) -> tuple[Box, np.ndarray]:
    """The dilation (18-connected cross, ``iterations`` times) of the components ``ids``, inside their grown box.

    Returns the grown box and the dilated mask over it: exactly the whole-volume
    ``binary_dilation`` restricted to that box, since the dilation cannot reach past it.
    """
    grown = grow(box, iterations, labels.shape)
    sub = labels[grown]
    mask = sub == ids if isinstance(ids, (int, np.integer)) else np.isin(sub, np.asarray(ids))
    if iterations > 0:
        mask = ndimage.binary_dilation(mask, structure=_cross(labels.ndim), iterations=iterations)
    return grown, mask


def merge_by_dilation(comps: Components, iterations: int, connectivity: int = 26) -> Components:
    """BraTS's merging: components whose dilations touch become one lesion (ids of the dilated mask's components).

    The dilated mask is the union of each component's dilation (computed in its
    grown box); its components, labelled like the official code's, give every
    original component its lesion id. Voxels themselves are unchanged.

    Examples
    --------
    >>> m = np.zeros((12, 6, 6), bool); m[1:3, 1:3, 1:3] = True; m[6:8, 1:3, 1:3] = True
    >>> merge_by_dilation(label_components(m), 1).n, merge_by_dilation(label_components(m), 2).n
    (2, 1)
    """
    if iterations <= 0 or comps.n == 0:
        return comps
    dilated = np.zeros(comps.labels.shape, dtype=bool)
    for i, box in enumerate(comps.boxes, start=1):
        grown, mask = dilate_in_box(comps.labels, i, box, iterations)
        dilated[grown] |= mask
    merged = label_components(dilated, connectivity)
    lut = np.zeros(comps.n + 1, dtype=merged.labels.dtype)
    for i, box in enumerate(comps.boxes, start=1):
        sub = comps.labels[box]
        lut[i] = merged.labels[box][sub == i][0]
    labels, sizes, found = relabel(comps.labels, lut, merged.n)
    if any(b is None for b in found):  # every merged component holds an original one
        raise AssertionError("component ids are not contiguous")
    return Components(labels, merged.n, sizes, [b for b in found if b is not None])


def drop_small(comps: Components, max_voxels: float) -> Components:
    """Components of at most ``max_voxels`` voxels removed (BraTS 2024's prediction filter), ids kept."""
    small = np.flatnonzero(comps.sizes[1:] <= max_voxels) + 1
    if small.size == 0:
        return comps
    lut = np.arange(comps.n + 1, dtype=comps.labels.dtype)
    lut[small] = 0
    labels, sizes, _ = relabel(comps.labels, lut, comps.n)
    return Components(labels, comps.n, sizes, comps.boxes)
