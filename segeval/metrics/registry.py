"""Every metric segeval reports: its name, kind, unit, direction, short header, formula and function.

The CLI's ``--metrics``, the report columns, the terminal headers, the gate
and the property tests all read this table, so a metric added here is known
everywhere. From a metric's name, :data:`METRICS` leads in one hop to its
formula (``reduce``, defined next to the other formulas of its kind in
:mod:`segeval.metrics.overlap` or :mod:`segeval.metrics.surface`) and to its
public function, whose docstring gives the formula, the empty-mask rule, the
references and an example; its tests are in ``tests/metrics/test_<module>.py``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from segeval import lesions
from segeval.errors import UnknownMetricError
from segeval.metrics import overlap, surface

__all__ = ["COUNT_COLUMNS", "KINDS", "METRICS", "OVERLAP_DEFAULT", "MetricSpec", "parse_metrics"]

#: ``overlap``: from the confusion matrix; ``count``/``volume``: always in a record;
#: ``surface``: from boundary distances (opt-in, it costs more); ``case``: one value per case.
#: ``lesion``: lesion-wise numbers of ``--lesions PROTOCOL`` (:mod:`segeval.lesions`).
KINDS: tuple[str, ...] = ("overlap", "count", "volume", "surface", "case", "lesion")


@dataclass(frozen=True)
class MetricSpec:
    """What a metric is and how it is computed.

    Attributes
    ----------
    name : str
        Key in reports and ``--metrics``.
    kind : str
        One of :data:`KINDS`.
    unit : str
        ``""`` for ratios, ``"voxels"``, ``"ml"`` or ``"mm"``.
    higher_is_better : bool or None
        None for descriptive quantities (counts, volumes).
    short : str
        Column header in terminal tables.
    description : str
        One line, for ``--help`` and the README.
    reduce : callable or None
        The formula: :data:`segeval.metrics.overlap.FORMULAS` (per-class
        counts in) or :data:`segeval.metrics.surface.REDUCTIONS` (a class's
        boundary distances in); None for counts and volumes, which are
        recorded, not computed.
    function : callable or None
        The public function computing it from arrays (its docstring is the
        metric's documentation).
    """

    name: str
    kind: str
    unit: str
    higher_is_better: bool | None
    short: str
    description: str
    reduce: Callable[..., Any] | None = None
    function: Callable[..., Any] | None = None


def _overlap(name: str, short: str, description: str, function: Callable[..., Any] | None = None) -> MetricSpec:
    return MetricSpec(name, "overlap", "", True, short, description, overlap.FORMULAS[name], function)


def _surface(name: str, unit: str, better: bool, short: str, description: str,
             function: Callable[..., Any]) -> MetricSpec:
    return MetricSpec(name, "surface", unit, better, short, description, surface.REDUCTIONS[name], function)


def _lesion(name: str, unit: str, better: bool, short: str, description: str) -> MetricSpec:
    # One formula gives every lesion key of a case (its matching, then its counts and means).
    return MetricSpec(name, "lesion", unit, better, short, description, lesions.case_values, lesions.lesion_metrics)


_SPECS = (
    _overlap("dice", "Dice", "2TP / (2TP + FP + FN)", overlap.dice),
    _overlap("iou", "IoU", "TP / (TP + FP + FN) (Jaccard)", overlap.iou),
    _overlap("tversky", "Tversky", "TP / (TP + alpha FP + beta FN)", overlap.tversky),
    _overlap("precision", "Prec", "TP / (TP + FP)", overlap.overlap_from_counts),
    _overlap("recall", "Recall", "TP / (TP + FN) (sensitivity)", overlap.overlap_from_counts),
    _overlap("specificity", "Spec", "TN / (TN + FP)", overlap.overlap_from_counts),
    _overlap("volume_similarity", "VolSim", "1 - |FP - FN| / (2TP + FP + FN)", overlap.overlap_from_counts),
    MetricSpec("tp", "count", "voxels", None, "TP", "true positive voxels"),
    MetricSpec("fp", "count", "voxels", None, "FP", "false positive voxels"),
    MetricSpec("fn", "count", "voxels", None, "FN", "false negative voxels"),
    MetricSpec("tn", "count", "voxels", None, "TN", "true negative voxels"),
    MetricSpec("vol_pred_ml", "volume", "ml", None, "Pred ml", "predicted volume (TP + FP) in ml"),
    MetricSpec("vol_gt_ml", "volume", "ml", None, "GT ml", "ground-truth volume (TP + FN) in ml"),
    _surface("hd", "mm", False, "HD", "Hausdorff distance: max of the two directed maxima", surface.hausdorff),
    _surface("hd95", "mm", False, "HD95", "max of the two directed 95th percentiles (MONAI, Metrics Reloaded)",
             surface.hausdorff_percentile),
    _surface("hd95_pooled", "mm", False, "HD95p", "95th percentile of both directions pooled (MedPy)",
             surface.hausdorff_percentile),
    _surface("assd", "mm", False, "ASSD", "mean of both directions' distances pooled (MedPy, MONAI)", surface.assd),
    _surface("masd", "mm", False, "MASD", "mean of the two directed means (Metrics Reloaded MASD)", surface.masd),
    _surface("nsd", "", True, "NSD", "normalized surface Dice at --tolerance mm (voxel counts)", surface.nsd),
    MetricSpec("generalized_dice", "case", "", True, "GD",
               "Sudre et al.'s class-weighted Dice over a case's labels",
               overlap.generalized_dice_from_counts, overlap.generalized_dice),
    _lesion("lesion_dice", "", True, "LDice", "lesion-wise Dice of --lesions PROTOCOL"),
    _lesion("lesion_hd95", "mm", False, "LHD95", "lesion-wise HD95 of --lesions PROTOCOL"),
    _lesion("lesion_tp", "lesions", True, "LTP", "GT lesions found"),
    _lesion("lesion_fp", "lesions", False, "LFP", "false-positive predicted components"),
    _lesion("lesion_fn", "lesions", False, "LFN", "GT lesions missed"),
    _lesion("lesion_recall", "", True, "LRecall", "object recall: found GT lesions / GT lesions"),
    _lesion("lesion_precision", "", True, "LPrec", "object precision: matched predicted components / predicted components"),
    _lesion("lesion_f1", "", True, "LF1", "detection F1 (= RQ when matching is one to one)"),
    _lesion("sq", "", True, "SQ", "segmentation quality: mean IoU of matched lesions"),
    _lesion("pq", "", True, "PQ", "panoptic quality: SQ x F1"),
)

METRICS: dict[str, MetricSpec] = {s.name: s for s in _SPECS}
#: Keys every class record holds besides its metrics.
COUNT_COLUMNS: tuple[str, ...] = tuple(s.name for s in _SPECS if s.kind in ("count", "volume"))
#: The metrics scored when ``--metrics`` is not given.
OVERLAP_DEFAULT: tuple[str, ...] = tuple(s.name for s in _SPECS if s.kind == "overlap")
_SELECTABLE = tuple(s.name for s in _SPECS if s.kind in ("overlap", "surface"))


#: What the peer tools call segeval's metrics: (tool, their name), the name as one would
#: type it in that tool (``segeval metrics`` prints them; the README's metric table says
#: where conventions differ). "~" marks a name whose number differs by the tool's
#: convention (DeepMind's surface-area weighting, a pooled percentile).
PEER_NAMES: dict[str, tuple[tuple[str, str], ...]] = {
    "dice": (("MedPy", "dc"), ("MONAI", "DiceMetric"), ("seg-metrics", "dice"), ("nnU-Net", "Dice"),
             ("Metrics Reloaded", "dsc"), ("DeepMind", "compute_dice_coefficient")),
    "iou": (("MedPy", "jc"), ("MONAI", "MeanIoU"), ("seg-metrics", "jaccard"), ("nnU-Net", "IoU"),
            ("Metrics Reloaded", "iou")),
    "tversky": (("MONAI", "1 - TverskyLoss"),),
    "precision": (("MedPy", "precision"), ("MONAI", 'ConfusionMatrixMetric("precision")'),
                  ("seg-metrics", "precision"), ("Metrics Reloaded", "positive_predictive_values")),
    "recall": (("MedPy", "recall"), ("MONAI", 'ConfusionMatrixMetric("sensitivity")'), ("seg-metrics", "recall"),
               ("Metrics Reloaded", "sensitivity")),
    "specificity": (("MedPy", "specificity"), ("MONAI", 'ConfusionMatrixMetric("specificity")'),
                    ("Metrics Reloaded", "specificity")),
    "volume_similarity": (("seg-metrics", "~vs"), ("SimpleITK", "~GetVolumeSimilarity")),
    "hd": (("MedPy", "hd"), ("MONAI", "HausdorffDistanceMetric"), ("Metrics Reloaded", "hd"),
           ("seg-metrics", "~hd"), ("DeepMind", "~compute_robust_hausdorff(d, 100)")),
    "hd95": (("MONAI", "HausdorffDistanceMetric(percentile=95)"), ("Metrics Reloaded", "hd_perc"),
             ("DeepMind", "~compute_robust_hausdorff(d, 95)")),
    "hd95_pooled": (("MedPy", "hd95"), ("seg-metrics", "~hd95")),
    "assd": (("MedPy", "assd"), ("MONAI", "SurfaceDistanceMetric(symmetric=True)"), ("Metrics Reloaded", "assd"),
             ("seg-metrics", "~msd")),
    "masd": (("Metrics Reloaded", "masd"), ("DeepMind", "~compute_average_surface_distance")),
    "nsd": (("MONAI", "SurfaceDiceMetric"), ("Metrics Reloaded", "nsd"),
            ("DeepMind", "~compute_surface_dice_at_tolerance")),
    "generalized_dice": (("MONAI", "~GeneralizedDiceScore"),),
    "lesion_dice": (("BraTS", "LesionWise_Score_Dice"), ("panoptica", "sq_dsc")),
    "lesion_hd95": (("BraTS", "LesionWise_Score_HD95"), ("panoptica", "sq_hd95")),
    "lesion_tp": (("BraTS", "Num_TP"), ("panoptica", "tp")),
    "lesion_fp": (("BraTS", "Num_FP"), ("panoptica", "fp")),
    "lesion_fn": (("BraTS", "Num_FN"), ("panoptica", "fn")),
    "lesion_recall": (("panoptica", "rec"), ("MedPy", "~1 - obj_fpr")),
    "lesion_precision": (("panoptica", "prec"), ("MedPy", "~obj_tpr")),
    "lesion_f1": (("panoptica", "rq"), ("MONAI", 'PanopticQualityMetric(metric_name="rq")')),
    "sq": (("panoptica", "sq"), ("MONAI", 'PanopticQualityMetric(metric_name="sq")')),
    "pq": (("panoptica", "pq"), ("MONAI", "PanopticQualityMetric")),
}

#: Other names users type for a metric, for "did you mean".
_ALIASES = {"dsc": "dice", "dc": "dice", "f1": "dice", "jaccard": "iou", "jc": "iou", "sensitivity": "recall",
            "tpr": "recall", "ppv": "precision", "hausdorff": "hd", "hd_perc": "hd95", "asd": "assd",
            "msd": "assd", "surface_dice": "nsd", "vs": "volume_similarity"}


def parse_metrics(names: str | Iterable[str] | None) -> tuple[str, ...]:
    """Resolve a ``--metrics`` value to the metric names to compute, in registry order.

    Parameters
    ----------
    names : str, iterable of str or None
        Comma-separated names (``"dice,hd95"``) or a list; None means the default
        overlap set. Counts and volumes are always reported and need not be named.
        ``"all"`` selects every metric; ``"surface"`` every distance metric.

    Raises
    ------
    UnknownMetricError
        Naming the unknown metric and listing the known ones.

    Examples
    --------
    >>> parse_metrics("hd95,dice")
    ('dice', 'hd95')
    """
    if names is None:
        return OVERLAP_DEFAULT
    items = [n.strip().lower() for n in (names.split(",") if isinstance(names, str) else names)]
    items = [n for n in items if n]
    chosen: set[str] = set()
    always: list[str] = []  # counts, volumes and case values, named anyway
    for item in items:
        if item == "all":
            chosen.update(_SELECTABLE)
        elif item == "surface":
            chosen.update(s.name for s in _SPECS if s.kind == "surface")
        elif item in _SELECTABLE:
            chosen.add(item)
        elif item in METRICS and METRICS[item].kind == "lesion":
            raise UnknownMetricError(f"--metrics: {item} is a lesion-wise metric; give --lesions PROTOCOL "
                                     "(e.g. brats2023), which adds all of them")
        elif item in METRICS:
            always.append(item)
        else:
            close = difflib.get_close_matches(_ALIASES.get(item, item), [*_SELECTABLE, "all", "surface"], n=1,
                                              cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownMetricError(
                f"--metrics: unknown metric {item!r}{hint} Known: {', '.join(_SELECTABLE)}, all, surface"
            )
    if not chosen and always:
        raise UnknownMetricError(
            f"--metrics: {', '.join(always)} {'is' if len(always) == 1 else 'are'} in every report already "
            "(counts and volumes need not be named); name a metric too, e.g. dice"
        )
    if not chosen:
        raise UnknownMetricError("--metrics: no metric given")
    return tuple(s.name for s in _SPECS if s.name in chosen)
