"""Every metric segeval reports: name, kind, unit and which direction is better.

The CLI's ``--metrics``, the report columns, the gate and the property tests
all read this table, so a metric added here is known everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from segeval.errors import UnknownMetricError


@dataclass(frozen=True)
class MetricSpec:
    """What a metric is.

    Attributes
    ----------
    name : str
        Key in reports and ``--metrics``.
    kind : {"overlap", "count", "volume", "surface"}
        Where it is computed: from the confusion matrix (overlap, count, volume) or
        from boundary distances (surface, opt-in because it costs more).
    unit : str
        "" for ratios, "voxels", "ml" or "mm".
    higher_is_better : bool or None
        None for descriptive quantities (counts, volumes).
    description : str
        One line, for ``--help`` and the README.
    """

    name: str
    kind: str
    unit: str
    higher_is_better: bool | None
    description: str


_SPECS = [
    MetricSpec("dice", "overlap", "", True, "2TP / (2TP + FP + FN)"),
    MetricSpec("iou", "overlap", "", True, "TP / (TP + FP + FN) (Jaccard)"),
    MetricSpec("tversky", "overlap", "", True, "TP / (TP + alpha FP + beta FN)"),
    MetricSpec("precision", "overlap", "", True, "TP / (TP + FP)"),
    MetricSpec("recall", "overlap", "", True, "TP / (TP + FN) (sensitivity)"),
    MetricSpec("specificity", "overlap", "", True, "TN / (TN + FP)"),
    MetricSpec("volume_similarity", "overlap", "", True, "1 - |FP - FN| / (2TP + FP + FN)"),
    MetricSpec("tp", "count", "voxels", None, "true positive voxels"),
    MetricSpec("fp", "count", "voxels", None, "false positive voxels"),
    MetricSpec("fn", "count", "voxels", None, "false negative voxels"),
    MetricSpec("tn", "count", "voxels", None, "true negative voxels"),
    MetricSpec("vol_pred_ml", "volume", "ml", None, "predicted volume (TP + FP) in ml"),
    MetricSpec("vol_gt_ml", "volume", "ml", None, "ground-truth volume (TP + FN) in ml"),
    MetricSpec("hd", "surface", "mm", False, "Hausdorff distance: max of the two directed maxima"),
    MetricSpec("hd95", "surface", "mm", False, "max of the two directed 95th percentiles (MONAI, DeepMind)"),
    MetricSpec("hd95_pooled", "surface", "mm", False, "95th percentile of both directions pooled (MedPy)"),
    MetricSpec("assd", "surface", "mm", False, "mean of both directions' distances pooled (MedPy, MONAI)"),
    MetricSpec("masd", "surface", "mm", False, "mean of the two directed means (Metrics Reloaded MASD)"),
    MetricSpec("nsd", "surface", "", True, "normalized surface Dice at --tolerance mm (voxel counts)"),
]

METRICS: dict[str, MetricSpec] = {s.name: s for s in _SPECS}
COUNT_COLUMNS: tuple[str, ...] = ("tp", "fp", "fn", "tn", "vol_pred_ml", "vol_gt_ml")
OVERLAP_DEFAULT: tuple[str, ...] = tuple(s.name for s in _SPECS if s.kind == "overlap")


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
    """
    if names is None:
        return OVERLAP_DEFAULT
    items = [n.strip().lower() for n in (names.split(",") if isinstance(names, str) else names)]
    items = [n for n in items if n]
    chosen: set[str] = set()
    always: list[str] = []  # counts and volumes named anyway
    for item in items:
        if item == "all":
            chosen.update(s.name for s in _SPECS if s.kind in ("overlap", "surface"))
        elif item == "surface":
            chosen.update(s.name for s in _SPECS if s.kind == "surface")
        elif item in METRICS:
            if METRICS[item].kind in ("overlap", "surface"):
                chosen.add(item)
            else:
                always.append(item)
        else:
            known = ", ".join(s.name for s in _SPECS if s.kind in ("overlap", "surface"))
            raise UnknownMetricError(f"--metrics: unknown metric {item!r}; known: {known}, all, surface")
    if not chosen and always:
        raise UnknownMetricError(
            f"--metrics: {', '.join(always)} {'is' if len(always) == 1 else 'are'} in every report already "
            "(counts and volumes need not be named); name a metric too, e.g. dice"
        )
    if not chosen:
        raise UnknownMetricError("--metrics: no metric given")
    return tuple(s.name for s in _SPECS if s.name in chosen)
