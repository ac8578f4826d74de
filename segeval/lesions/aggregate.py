"""One class of one case: masks in, the protocol's lesion-wise numbers (and the matching behind them) out.

The case-level formulas (``lesion_dice`` and friends) are in
:func:`case_values`; :func:`score_class` runs components, merging,
matching and aggregation for one scored class.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from segeval.lesions._kernels import class_boxes, masks_in_box
from segeval.lesions.brats2024 import CaseTissues, join_touching, relabels
from segeval.lesions.components import drop_small, grow, label_components, merge_by_dilation
from segeval.lesions.matching import Matching, match_bipartite, match_brats
from segeval.lesions.protocols import LESION_METRICS, ClassRules, LesionSettings

__all__ = ["ClassLesions", "case_values", "class_masks", "score_class"]


@dataclass
class ClassLesions:
    """The lesion-wise result of one class: its numbers, rules and matching.

    Attributes
    ----------
    values : dict of str to float
        One entry per :data:`~segeval.lesions.protocols.LESION_METRICS` key.
    rules : ClassRules
        The resolved protocol parameters.
    matching : Matching
        Lesions, false positives and the components behind them, inside ``box``.
    box : tuple of slice
        Where the matching's arrays lie in the volume (the masks' bounding box, grown).
    shape : tuple of int
        The volume's shape.
    """

    values: dict[str, float]
    rules: ClassRules
    matching: Matching
    box: tuple[slice, ...] = ()
    shape: tuple[int, ...] = ()


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def _penalised(hd95: float, penalty: float) -> float:
    return penalty if math.isinf(hd95) else hd95


def case_values(m: Matching, rules: ClassRules, empty: str = "nan") -> dict[str, float]:
    """The case's lesion-wise numbers from a matching.

    Notes
    -----
    With L the counted GT lesions (BraTS: volume over the threshold), TP those
    found, FN those missed, FP the false-positive components and M the
    predicted components matched to a counted lesion:

    * recall = TP / L (object recall), precision = M / (M + FP) (object
      precision), f1 = 2PR / (P + R) (= RQ = TP / (TP + FP/2 + FN/2) when one to
      one); with lesions on one side only, f1 = 0;
    * sq = mean IoU over found lesions (0 when none is found), pq = sq x f1;
    * BraTS protocols: lesion_dice = Σ Dice_k / (L + FP) and lesion_hd95 =
      (Σ HD95_k + penalty x FP) / (L + FP) (a missed lesion's HD95 is the
      penalty); L + FP = 0 gives Dice 1, HD95 0 and every ratio 1;
    * bipartite protocols (panoptica, iou): lesion_dice and lesion_hd95 are means
      over matched pairs (detection errors show only in f1); no pair: Dice 0,
      HD95 inf (or the penalty); no lesion on either side: ``empty``'s rule
      (NaN by default, as panoptica; ``one`` the perfect scores, ``zero`` the worst).
    """
    counted = [r for r in m.lesions if r.counted]
    found = [r for r in counted if r.found]
    tp, fn, fp = len(found), len(counted) - len(found), len(m.fp_ids)
    out = dict.fromkeys(LESION_METRICS, math.nan)
    out.update(lesion_tp=float(tp), lesion_fn=float(fn), lesion_fp=float(fp))
    nothing = not counted and fp == 0
    if nothing:
        if rules.matching == "brats":
            perfect = {"lesion_dice": 1.0, "lesion_hd95": 0.0, "lesion_recall": 1.0, "lesion_precision": 1.0,
                       "lesion_f1": 1.0, "sq": 1.0, "pq": 1.0}
            out.update(perfect)
        elif empty == "one":
            out.update(lesion_dice=1.0, lesion_hd95=0.0, lesion_recall=1.0, lesion_precision=1.0, lesion_f1=1.0,
                       sq=1.0, pq=1.0)
        elif empty == "zero":
            out.update(lesion_dice=0.0, lesion_hd95=math.inf, lesion_recall=0.0, lesion_precision=0.0,
                       lesion_f1=0.0, sq=0.0, pq=0.0)
        return out
    recall = _ratio(tp, len(counted))
    precision = _ratio(m.matched_pred, m.matched_pred + fp)
    if math.isnan(recall) or math.isnan(precision) or recall + precision == 0:
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    sq = sum(r.iou for r in found) / tp if tp else 0.0
    if rules.matching == "brats":
        n = len(counted) + fp
        dice = sum(r.dice for r in counted) / n
        hd95 = (sum(_penalised(r.hd95, rules.penalty_mm) for r in counted) + rules.penalty_mm * fp) / n
    elif tp:
        dice = sum(r.dice for r in found) / tp
        hd95 = sum(r.hd95 for r in found) / tp
    else:
        dice, hd95 = 0.0, rules.penalty_mm
    out.update(lesion_dice=dice, lesion_hd95=hd95, lesion_recall=recall, lesion_precision=precision,
               lesion_f1=f1, sq=sq, pq=sq * f1)
    return out


def score_class(
    pred: np.ndarray,
    gt: np.ndarray,
    settings: LesionSettings,
    *,
    members: Sequence[int] = (1,),
    spacing_mm: Sequence[float] = (1.0, 1.0, 1.0),
    empty: str = "nan",
    box: tuple[slice, ...] | None = None,
    shape: Sequence[int] | None = None,
    tissues: CaseTissues | None = None,
) -> ClassLesions:
    """Lesion-wise scores of one class from its two binary masks.

    Parameters
    ----------
    pred, gt : ndarray of bool, same shape (2-D or 3-D)
        The class's predicted and GT masks: of the whole volume, or, with
        ``box``, already cut to that box (:func:`class_masks` cuts them).
    settings : LesionSettings
        The protocol and its overrides.
    members : sequence of int
        The class's label values (``brats2024`` picks ET's and NETC/RC's rules by them).
    spacing_mm : sequence of float
        Voxel size per axis (volumes and distances).
    empty : {"nan", "one", "zero"}
        Bipartite protocols' value when neither mask has a lesion.
    box : tuple of slice, optional
        Where the given masks lie in a volume of ``shape`` (the box
        :func:`class_masks` gives); default: the masks are the whole volume.
    shape : sequence of int, optional
        The volume's shape, with ``box``.
    tissues : CaseTissues, optional
        The case's whole label maps (:class:`~segeval.lesions.brats2024.CaseTissues`).
        ``brats2024`` needs them for the single labels 1-4, whose lesions
        touching the same lesion of another sub-region are joined
        (:mod:`segeval.lesions.brats2024`); without them that step is skipped.
    """
    rules = settings.rules(members)
    if box is None:
        shape = tuple(gt.shape)
        box = _crop(pred, gt, rules.dilation + 2)
        pred, gt = pred[box], gt[box]
    else:
        shape = tuple(shape if shape is not None else gt.shape)
    gt_c = label_components(gt, settings.connectivity)
    pred_c = label_components(pred, settings.connectivity)
    if rules.matching == "brats":
        gt_c = merge_by_dilation(gt_c, rules.dilation, settings.connectivity)
        if rules.merge_pred:
            pred_c = merge_by_dilation(pred_c, rules.dilation, settings.connectivity)
        if rules.delete_small_pred:
            pred_c = drop_small(pred_c, rules.min_volume_mm3 / float(np.prod(spacing_mm)))
        if tissues is not None and relabels(settings, members):
            gt_c = join_touching(gt_c, box, tissues, int(members[0]), prediction=False)
            pred_c = join_touching(pred_c, box, tissues, int(members[0]), prediction=True)
        matching = match_brats(gt_c, pred_c, rules, spacing_mm)
    else:
        matching = match_bipartite(gt_c, pred_c, rules, spacing_mm)
    return ClassLesions(case_values(matching, rules, empty), rules, matching, box, shape)


def _empty_box(shape: Sequence[int]) -> tuple[slice, ...]:
    """Where a class absent from both masks is scored: the first voxel (no component anywhere)."""
    return tuple(slice(0, min(n, 1)) for n in shape)


def _crop(pred: np.ndarray, gt: np.ndarray, margin: int) -> tuple[slice, ...]:
    """The bounding box of both masks grown by ``margin`` (clipped to the image): all the work happens there.

    Dilations reach at most ``margin - 2`` voxels past a mask and boundaries
    need one more, so a side of the box is either the image's own edge, where
    the whole-volume code clips too, or out of reach: the numbers are those of
    the whole volume.
    """
    (found,) = class_boxes(pred, gt, [(1,)])
    return _empty_box(gt.shape) if found is None else grow(found, margin, gt.shape)


def class_masks(
    pred: np.ndarray, gt: np.ndarray, classes: Sequence[Sequence[int]], settings: LesionSettings,
) -> Iterator[tuple[np.ndarray, np.ndarray, tuple[slice, ...]]]:
    """Each class's two masks cut to its box (as :func:`_crop` grows it), and the box: for :func:`score_class`.

    One pass over both label maps finds every class's bounding box; each
    class's masks are then made inside its box only, laid out as the
    whole-volume masks' crops would be (so components get the same ids).

    Parameters
    ----------
    pred, gt : ndarray of int, same shape
        The label maps.
    classes : sequence of sequence of int
        Each class's member labels.
    settings : LesionSettings
        The protocol (its dilation decides the margin).
    """
    shape = tuple(gt.shape)
    for members, found in zip(classes, class_boxes(pred, gt, classes)):
        margin = settings.rules(tuple(members)).dilation + 2
        box = _empty_box(shape) if found is None else grow(found, margin, shape)
        p, g = masks_in_box(pred, gt, members, box)
        yield p, g, box
