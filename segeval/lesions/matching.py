"""Matching predicted components to GT lesions, by each protocol's rule, and the scores of every lesion.

:func:`match_brats` is BraTS's rule (a GT lesion owns every predicted
component touching its dilation); :func:`match_bipartite` is panoptica's and
the panoptic-quality rule (one to one, maximum total score). Both return a
:class:`Matching`: one :class:`LesionRow` per GT lesion and the ids of the
false-positive components. Per-lesion work happens inside bounding boxes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from segeval.lesions._kernels import overlap_pairs
from segeval.lesions.components import Components, dilate_in_box, grow, union_box
from segeval.lesions.protocols import ClassRules

__all__ = ["LesionRow", "Matching", "match_bipartite", "match_brats"]


@dataclass
class LesionRow:
    """One GT lesion and what the protocol matched to it.

    Attributes
    ----------
    lesion : int
        GT lesion id (after merging).
    gt_voxels : int
        Its voxels.
    pred_ids : list of int
        Predicted component ids matched to it (several under BraTS's rule).
    pred_voxels, overlap : int
        Voxels of the union of those components, and of its intersection with the lesion.
    dice, iou, hd95 : float
        Of the lesion against that union (Dice 0, IoU 0, HD95 inf when nothing matched).
    counted : bool
        False for a GT lesion at or under the size threshold (BraTS: dropped from the scores).
    """

    lesion: int
    gt_voxels: int
    pred_ids: list[int]
    pred_voxels: int
    overlap: int
    dice: float
    iou: float
    hd95: float
    counted: bool = True

    @property
    def found(self) -> bool:
        """Whether any predicted component was matched."""
        return bool(self.pred_ids)


@dataclass
class Matching:
    """A protocol's verdict for one class of one case.

    Attributes
    ----------
    lesions : list of LesionRow
        One per GT lesion, by id.
    fp_ids : list of int
        Predicted component ids that are false positives.
    pred : Components
        The predicted components as matched (after any merging and deletion).
    gt : Components
        The GT lesions.
    matched_pred : int
        Predicted components matched to a counted lesion.
    """

    lesions: list[LesionRow]
    fp_ids: list[int]
    pred: Components
    gt: Components
    matched_pred: int = 0
    notes: list[str] = field(default_factory=list)


def _deepmind_hd95(pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float], percentile: float) -> float:
    """DeepMind's ``compute_robust_hausdorff`` (BraTS's lesion HD95), via segeval's surfel module."""
    from segeval.metrics.surfels import robust_hausdorff, surfel_distances

    return float(robust_hausdorff(surfel_distances(pred, gt, spacing), percentile))


def _pooled_hd95(pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float], percentile: float) -> float:
    """panoptica's HD95: the percentile of both directions' voxel-boundary distances pooled (MedPy's hd95).

    segeval's distance-transform producer (:mod:`segeval.metrics.boundaries`) on a pair's box, which already
    has the one-voxel background margin that producer grows its box by.
    """
    from segeval.metrics.boundaries import boundary_edt, mask_boundaries

    bp, bg = mask_boundaries(pred, gt, ndimage)
    d_pg, d_gp = boundary_edt(bp, bg, spacing, ndimage)
    return float(np.percentile(np.concatenate([d_pg, d_gp]), percentile))


def _hd95(kind: str, pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float], percentile: float) -> float:
    if not pred.any() or not gt.any():
        return math.inf
    fn = _deepmind_hd95 if kind == "deepmind" else _pooled_hd95
    return fn(pred, gt, spacing, percentile)


def _pair_scores(
    gt: Components, pred: Components, k: int, ids: Sequence[int], rules: ClassRules,
    spacing: Sequence[float], percentile: float,
) -> tuple[int, int, float, float, float]:
    """(pred voxels, overlap, dice, iou, hd95) of GT lesion ``k`` against the union of components ``ids``."""
    g_size = int(gt.sizes[k])
    if not ids:
        return 0, 0, 0.0, 0.0, math.inf
    box = grow(union_box([gt.boxes[k - 1], *(pred.boxes[i - 1] for i in ids)]), 1, gt.labels.shape)
    g = gt.labels[box] == k
    p = np.isin(pred.labels[box], np.asarray(ids)) if len(ids) > 1 else pred.labels[box] == ids[0]
    p_size = int(pred.sizes[np.asarray(ids)].sum())
    inter = int(np.count_nonzero(g & p))
    dice = 2.0 * inter / (p_size + g_size)
    iou = inter / (p_size + g_size - inter)
    return p_size, inter, dice, iou, _hd95(rules.hd95, p, g, spacing, percentile)


def match_brats(
    gt: Components, pred: Components, rules: ClassRules, spacing: Sequence[float], *, percentile: float = 95.0,
) -> Matching:
    """BraTS's rule: GT lesion k owns every predicted component with a voxel in k's dilation.

    Parameters
    ----------
    gt : Components
        GT lesions, already merged by dilation.
    pred : Components
        Predicted components (merged and filtered for brats2024).
    rules : ClassRules
        ``dilation`` and ``min_volume_mm3`` are used.
    spacing : sequence of float
        Voxel size in mm (lesion volumes and HD95).

    Notes
    -----
    Dice_k = 2|P_k ∩ G_k| / (|P_k| + |G_k|) with P_k the union of k's components
    (whole, also where they leave the dilation); HD95_k is DeepMind's
    ``compute_robust_hausdorff(·, 95)``, inf when P_k is empty. A component
    may belong to several lesions. Components touching no dilated lesion are
    false positives, whatever their size; lesions of at most
    ``min_volume_mm3`` are marked not counted (their components are not FPs).
    """
    voxel_mm3 = float(np.prod(spacing))
    rows: list[LesionRow] = []
    touched: set[int] = set()
    touched_counted: set[int] = set()
    for k, box in enumerate(gt.boxes, start=1):
        grown, region = dilate_in_box(gt.labels, k, box, rules.dilation)
        hits = np.unique(pred.labels[grown][region])
        ids = [int(i) for i in hits if i != 0]
        touched.update(ids)
        counted = float(gt.sizes[k]) * voxel_mm3 > rules.min_volume_mm3
        if counted:
            touched_counted.update(ids)
        p_size, inter, dice, iou, hd95 = _pair_scores(gt, pred, k, ids, rules, spacing, percentile)
        rows.append(LesionRow(k, int(gt.sizes[k]), ids, p_size, inter, dice, iou, hd95, counted))
    present = [i for i in range(1, pred.n + 1) if pred.sizes[i] > 0]
    fps = [i for i in present if i not in touched]
    return Matching(rows, fps, pred, gt, matched_pred=len(touched_counted))


def _overlaps(gt: Components, pred: Components) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gt id, pred id, overlapping voxels) of every pair that overlaps."""
    most = min(gt.labels.size - int(gt.sizes[0]), pred.labels.size - int(pred.sizes[0]))
    return overlap_pairs(gt.labels, pred.labels, pred.n, gt.boxes, most)


def match_bipartite(
    gt: Components, pred: Components, rules: ClassRules, spacing: Sequence[float], *, percentile: float = 95.0,
) -> Matching:
    """One-to-one matching maximising the total score (panoptica's MaxBipartiteMatching).

    Pairs that overlap and whose ``rules.metric`` (Dice or IoU) beats
    ``rules.threshold`` (Dice: ``>=``, as panoptica; IoU: ``>``, the panoptic-quality
    convention) cost 1 - score, every other pair 1 + 1e-6; the Hungarian
    assignment (SciPy's ``linear_sum_assignment``) keeps the pairs with cost
    below 1. At IoU thresholds of 0.5 or more at most one pair per lesion
    qualifies, so this is the plain IoU > T matching of panoptic quality.
    """
    from scipy.optimize import linear_sum_assignment

    g_ids, p_ids, inter = _overlaps(gt, pred)
    g_size = gt.sizes[g_ids].astype(np.float64)
    p_size = pred.sizes[p_ids].astype(np.float64)
    if rules.metric == "dice":
        score = 2.0 * inter / (g_size + p_size)
        ok = score >= rules.threshold
    else:
        score = inter / (g_size + p_size - inter)
        ok = score > rules.threshold
    pairs: dict[int, int] = {}
    if ok.any():
        rows_g = np.unique(g_ids[ok])
        cols_p = np.unique(p_ids[ok])
        cost = np.full((rows_g.size, cols_p.size), 1.0 + 1e-6)
        cost[np.searchsorted(rows_g, g_ids[ok]), np.searchsorted(cols_p, p_ids[ok])] = 1.0 - score[ok]
        r, c = linear_sum_assignment(cost)
        for i, j in zip(r, c):
            if cost[i, j] < 1.0:
                pairs[int(rows_g[i])] = int(cols_p[j])
    rows = []
    for k in range(1, gt.n + 1):
        ids = [pairs[k]] if k in pairs else []
        p_vox, ov, dice, iou, hd95 = _pair_scores(gt, pred, k, ids, rules, spacing, percentile)
        rows.append(LesionRow(k, int(gt.sizes[k]), ids, p_vox, ov, dice, iou, hd95, True))
    matched = set(pairs.values())
    fps = [i for i in range(1, pred.n + 1) if i not in matched]
    return Matching(rows, fps, pred, gt, matched_pred=len(matched))
