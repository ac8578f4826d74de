"""BraTS 2024 GLI's relabelling: lesions of one sub-region that touch the same lesion of another become one.

rachitsaluja/BraTS-2024-Metrics ``metrics_GLI.py`` scores the single labels
NETC (1), SNFH (2), ET (3) and RC (4) on lesions that are not only merged by
dilation (and, in the prediction, cleared of small ones) but then relabelled
against the other sub-regions (``combine_lesions_tissues``): for each
partner label in turn, every lesion that touches a partner lesion (some voxel
of it is an 18-neighbour of one of the partner's, ``get_touching_labels``)
takes the label of the first such partner lesion, in the partner's label
order (``relabel_nifti_image``), so lesions whose first touched partner lesion
is the same become one lesion. The partners, in the official order:

======  ===================
label   relabelled against
======  ===================
NETC 1  ET 3, then RC 4
SNFH 2  ET 3, RC 4, NETC 1
ET 3    NETC 1, then RC 4
RC 4    ET 3, then NETC 1
======  ===================

Partner lesions are the partner's own lesions as the official code stores
them (``*_cc`` files): merged by the partner's dilation, in the prediction
with the partner's small lesions deleted, and never relabelled themselves.
Their order is that of the official label ids, the order of cc3d's scan of
the dilated mask: by the first voxel of each lesion's dilation in C order
(NIfTI voxel order ``(x, y, z)``, x slowest), which :func:`dilation_first_voxel`
computes from the voxels without dilating. WT and TC are not relabelled.
Everything works inside bounding boxes, with no per-lesion pass over the volume.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from segeval.lesions.components import (
    Box,
    Components,
    class_mask,
    drop_small,
    grow,
    label_components,
    merge_by_dilation,
    union_box,
)
from segeval.lesions.protocols import LesionSettings

__all__ = ["PARTNERS", "CaseTissues", "dilation_first_voxel", "join_touching", "partner_lesions", "relabels",
           "touching_pairs"]

#: Label -> the labels its lesions are relabelled against, in the official order (BraTS-GLI 2024:
#: 1 NETC, 2 SNFH, 3 ET, 4 RC).
PARTNERS: dict[int, tuple[int, ...]] = {1: (3, 4), 2: (3, 4, 1), 3: (1, 4), 4: (3, 1)}


def relabels(settings: LesionSettings, members: Sequence[int]) -> bool:
    """Whether a class of label values ``members`` is relabelled: ``brats2024`` and one label of :data:`PARTNERS`."""
    return settings.protocol == "brats2024" and len(members) == 1 and int(members[0]) in PARTNERS


def _structure(ndim: int) -> np.ndarray:
    """``generate_binary_structure(ndim, 2)``: the official touching test's and dilation's neighbourhood."""
    structure: np.ndarray = ndimage.generate_binary_structure(ndim, 2)
    return structure


def dilation_first_voxel(comps: Components, iterations: int, origin: Sequence[int], shape: Sequence[int]) -> np.ndarray:
    """The C-order index, in the volume, of the first voxel of every component's dilation.

    The dilation is ``iterations`` times the 18-connected cross, clipped to
    the volume, as ``binary_dilation`` gives it; cc3d numbers the dilated
    mask's components by this voxel, so sorting by it gives the official ids'
    order. Computed from the components' voxels: the cross dilated ``d`` times
    holds the offsets ``o`` with ``max|o_i| <= d`` and ``sum|o_i| <= 2d``, so
    the smallest point reached from a voxel ``s`` lowers its first axis by
    ``min(d, s_0)``, then each next axis as far as ``d``, the image edge and
    what is left of the ``2d`` budget allow.

    Parameters
    ----------
    comps : Components
        Components in a box of the volume (an id with no voxel gets the largest int64).
    iterations : int
        Dilation iterations ``d``.
    origin : sequence of int
        Volume index of the box's first voxel.
    shape : sequence of int
        The volume's shape.

    Returns
    -------
    ndarray of int64, shape (comps.n + 1,)
        Entry ``i`` for component ``i`` (entry 0 unused).

    Examples
    --------
    >>> from segeval.lesions.components import label_components
    >>> m = np.zeros((9, 9, 9), bool); m[4, 4, 4] = True
    >>> int(dilation_first_voxel(label_components(m), 2, (0, 0, 0), m.shape)[1]) == int(np.ravel_multi_index((2, 2, 4), m.shape))
    True
    """
    first = np.full(comps.n + 1, np.iinfo(np.int64).max, dtype=np.int64)
    if comps.n == 0:
        return first
    d = max(int(iterations), 0)
    ids_of: list[np.ndarray] = []
    pts_of: list[np.ndarray] = []
    for i, b in enumerate(comps.boxes, start=1):  # each component's voxels, found inside its box
        if comps.sizes[i] == 0:
            continue
        where = np.nonzero(comps.labels[b] == i)
        ids_of.append(np.full(where[0].size, i, dtype=np.int64))
        pts_of.append(np.stack([w.astype(np.int64) + (s.start + int(o)) for w, s, o in zip(where, b, origin)]))
    if not ids_of:
        return first
    ids = np.concatenate(ids_of)
    pts = np.concatenate(pts_of, axis=1)
    budget = np.full(pts.shape[1], 2 * d, dtype=np.int64)
    low = np.empty_like(pts)
    for a in range(pts.shape[0]):
        step = np.minimum(np.minimum(pts[a], d), budget)
        low[a] = pts[a] - step
        budget -= step
    keys = np.ravel_multi_index(tuple(low), tuple(int(n) for n in shape))
    np.minimum.at(first, ids, keys)
    return first


def touching_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Every pair ``(a id, b id)`` of components of ``a`` and ``b`` that touch (``get_touching_labels``).

    Two components touch when a voxel of one is an 18-neighbour (or the same
    voxel) of a voxel of the other: ``binary_dilation(mask1, structure) & mask2``
    with ``structure = generate_binary_structure(3, 2)``. Looked up from
    ``a``'s voxels only: one gather of ``b`` per neighbour offset.

    Parameters
    ----------
    a, b : ndarray of int, same shape
        Component ids (0 background) over the same box.

    Returns
    -------
    ndarray of int64, shape (k, 2)
        The distinct touching pairs, sorted.

    Examples
    --------
    >>> a = np.zeros((1, 6), int); b = np.zeros((1, 6), int)
    >>> a[0, 0], b[0, 1], b[0, 4] = 1, 7, 8
    >>> touching_pairs(a, b).tolist()
    [[1, 7]]
    """
    where = np.nonzero(a)
    if where[0].size == 0 or not b.any():
        return np.zeros((0, 2), dtype=np.int64)
    structure = _structure(a.ndim)
    offsets = np.argwhere(structure) - np.array(structure.shape) // 2               # (m, ndim)
    moved = np.stack(where)[None, :, :].astype(np.int64) + offsets[:, :, None]      # (m, ndim, k)
    shape = np.array(a.shape)[None, :, None]
    inside = np.all((moved >= 0) & (moved < shape), axis=1)                        # (m, k)
    ids = np.broadcast_to(a[where], inside.shape)[inside]
    other = b[tuple(moved[:, ax, :][inside] for ax in range(a.ndim))]
    hit = other > 0
    if not hit.any():
        return np.zeros((0, 2), dtype=np.int64)
    pairs: np.ndarray = np.unique(np.stack([ids[hit], other[hit]], axis=1).astype(np.int64), axis=0)
    return pairs


def partner_lesions(
    labels: np.ndarray, label: int, settings: LesionSettings, spacing_mm: Sequence[float], *, prediction: bool,
    found: Box | None = None,
) -> tuple[Components, Box, np.ndarray]:
    """One label's lesions as the official code stores them (``*_cc``), in their box, with their order keys.

    Merged by the label's dilation; in the prediction, lesions at or under the
    label's threshold are deleted (``save_tmp_files``).

    ``found``, the label's bounding box when the caller knows it (``find_objects``
    of the label map), saves a pass over the volume; None when the label is absent.

    Returns
    -------
    (Components, box, ndarray)
        The lesions inside ``box`` (the label's bounding box grown by its
        dilation and 2, clipped), the box, and :func:`dilation_first_voxel`
        of each (the official ids' order).
    """
    rules = settings.rules((label,))
    if found is None:
        located = ndimage.find_objects(class_mask(labels, (label,)).view(np.uint8), max_label=1)
        found = located[0] if located else None
    if found is None:
        box = tuple(slice(0, 0) for _ in labels.shape)
        empty = Components(np.zeros((0,) * labels.ndim, dtype=np.int32), 0, np.zeros(1, np.int64), [])
        return empty, box, np.zeros(1, dtype=np.int64)
    box = grow(found, rules.dilation + 2, labels.shape)
    mask = class_mask(labels[box], (label,))
    comps = merge_by_dilation(label_components(mask, settings.connectivity), rules.dilation, settings.connectivity)
    if prediction and rules.delete_small_pred:
        comps = drop_small(comps, rules.min_volume_mm3 / float(np.prod(spacing_mm)))
    keys = dilation_first_voxel(comps, rules.dilation, [s.start for s in box], labels.shape)
    return comps, box, keys


def _label_boxes(labels: np.ndarray, max_label: int) -> list[Box | None]:
    """Bounding box of each label 1..max_label of a label map (None when absent), in one pass."""
    if labels.dtype.kind not in "iu" or labels.dtype == np.uint64:  # bool, or ids find_objects cannot take
        labels = labels.astype(np.int64)
    if labels.dtype.kind == "i" and labels.size and int(labels.min()) < 0:
        labels = np.where(labels < 0, 0, labels)
    found: list[Box | None] = list(ndimage.find_objects(labels, max_label=max_label))
    return found + [None] * (max_label - len(found))


class CaseTissues:
    """One case's label maps, and each label's official lesions (:func:`partner_lesions`) computed once.

    Built once per case by :func:`segeval.lesions.lesion_metrics` and the
    scoring pipeline's lesion hook, and handed to every class's
    :func:`~segeval.lesions.aggregate.score_class`: the classes NETC, SNFH, ET
    and RC share their partners' lesions.

    Parameters
    ----------
    pred, gt : ndarray of int
        The whole label maps.
    settings : LesionSettings
        The protocol and connectivity.
    spacing_mm : sequence of float
        Voxel size (the prediction's size threshold).
    """

    def __init__(self, pred: np.ndarray, gt: np.ndarray, settings: LesionSettings,
                 spacing_mm: Sequence[float]) -> None:
        self.pred, self.gt, self.settings = pred, gt, settings
        self.spacing_mm = tuple(float(v) for v in spacing_mm)
        self._memo: dict[tuple[int, bool], tuple[Components, Box, np.ndarray]] = {}
        self._boxes: dict[bool, list[Box | None]] = {}

    def lesions(self, label: int, *, prediction: bool) -> tuple[Components, Box, np.ndarray]:
        """:func:`partner_lesions` of ``label`` in the prediction or the GT (computed on first use)."""
        key = (int(label), bool(prediction))
        if key not in self._memo:
            labels = self.pred if prediction else self.gt
            if prediction not in self._boxes:  # every label's box in one pass over the map
                self._boxes[prediction] = _label_boxes(labels, max(PARTNERS))
            found = self._boxes[prediction][label - 1] if 1 <= label <= len(self._boxes[prediction]) else None
            self._memo[key] = partner_lesions(labels, label, self.settings, self.spacing_mm,
                                              prediction=prediction, found=found)
        return self._memo[key]


def _intersect(a: Box, b: Box) -> Box | None:
    out = tuple(slice(max(x.start, y.start), min(x.stop, y.stop)) for x, y in zip(a, b))
    return None if any(s.start >= s.stop for s in out) else out


def _shift(box: Box, origin: Box) -> Box:
    return tuple(slice(s.start - o.start, s.stop - o.start) for s, o in zip(box, origin))


def _touching_lesions(comps: Components, box: Box, p_comps: Components, p_box: Box) -> np.ndarray:
    """:func:`touching_pairs` of two label maps' lesions, each lying in its own box of the volume.

    Looked for around each lesion only: a partner voxel touching lesion ``i``
    lies in ``i``'s box grown by one voxel, and inside ``p_box`` (which holds
    every partner voxel with a margin), so that region of both maps is enough.
    """
    found: list[np.ndarray] = []
    for i, b in enumerate(comps.boxes, start=1):
        if comps.sizes[i] == 0:
            continue
        near = tuple(slice(s.start + o.start, s.stop + o.start)
                     for s, o in zip(grow(b, 1, comps.labels.shape), box))  # in the volume
        common = _intersect(near, p_box)
        if common is None:
            continue
        other = p_comps.labels[_shift(common, p_box)]
        if not other.any():
            continue
        found.append(touching_pairs(comps.labels[_shift(common, box)], other))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs: np.ndarray = np.unique(np.concatenate(found), axis=0)
    return pairs


def join_touching(comps: Components, box: Box, tissues: CaseTissues, label: int, *, prediction: bool) -> Components:
    """``combine_lesions_*``: the lesions of ``label`` after the official relabelling against its partners.

    Parameters
    ----------
    comps : Components
        The label's lesions inside ``box``, merged by dilation (and filtered, for a prediction).
    box : tuple of slice
        Where ``comps`` lies in the volume (it holds every lesion, grown by at least 2).
    tissues : CaseTissues
        The case's label maps and their lesions (each partner's, by its own dilation and threshold).
    label : int
        The lesions' label, a key of :data:`PARTNERS`.
    prediction : bool
        Whether the lesions are the prediction's (its partners lose their small lesions) or the GT's.

    Returns
    -------
    Components
        ``comps`` itself when nothing merges; else the merged lesions, ids 1..n
        in the order of their first original id, boxes the union of their parts'.

    Notes
    -----
    Per partner, in :data:`PARTNERS`' order: each current lesion touching a
    partner lesion is keyed by the first of them in the partner's order, and
    lesions with the same key become one. A lesion that touches nothing keeps
    its label. (The official code skips the step when a single pair touches,
    which merges nothing anyway.) The key is a partner lesion itself, not a
    chain: lesions A and B stay apart when A touches partner lesions 1 and 2
    and B touches 2 only.
    """
    group = np.arange(comps.n + 1, dtype=np.int64)
    if comps.n == 0:
        return comps
    for partner in PARTNERS[label]:
        p_comps, p_box, keys = tissues.lesions(partner, prediction=prediction)
        if p_comps.n == 0:
            continue
        pairs = _touching_lesions(comps, box, p_comps, p_box)
        if pairs.shape[0] < 2:
            continue
        g = group[pairs[:, 0]]
        first = np.full(comps.n + 1, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, g, keys[pairs[:, 1]])
        touched = np.unique(g)
        # the lesions keyed by the same partner lesion join the lowest of them
        uniq, inverse = np.unique(first[touched], return_inverse=True)
        rep = np.full(uniq.size, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(rep, inverse, touched)
        new = np.arange(comps.n + 1, dtype=np.int64)
        new[touched] = rep[inverse]
        group = new[group]
    present = comps.sizes > 0
    present[0] = False
    roots = np.unique(group[present])
    if roots.size == int(present.sum()):
        return comps  # nothing merged
    lut = np.zeros(comps.n + 1, dtype=np.int64)
    lut[present] = np.searchsorted(roots, group[present]) + 1
    n = int(roots.size)
    out_labels = lut.astype(comps.labels.dtype)[comps.labels]  # n <= comps.n: the ids' dtype holds them
    sizes = np.zeros(n + 1, dtype=np.int64)
    np.add.at(sizes, lut[present], comps.sizes[present])
    sizes[0] = out_labels.size - int(sizes[1:].sum())
    parts: list[list[Box]] = [[] for _ in range(n)]
    for i in np.flatnonzero(present):
        parts[lut[i] - 1].append(comps.boxes[i - 1])
    return Components(out_labels, n, sizes, [union_box(p) for p in parts])
