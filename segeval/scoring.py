"""Score one case: two label volumes in, one record per scored class out.

:func:`score_case` is the single place where the confusion matrix, the
overlap metrics and (on request) the surface distances meet. It is used by
:func:`segeval.score` (one pair, paths or arrays), by ``segeval score`` and by
every worker of ``segeval batch``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from segeval.errors import OptionError
from segeval.labels import LabelSpec, ScoredClass
from segeval.metrics.confusion import joint_counts
from segeval.metrics.overlap import (
    EMPTY_POLICIES,
    OVERLAP_METRICS,
    generalized_dice_from_counts,
    overlap_from_counts,
)
from segeval.metrics.registry import METRICS, parse_metrics
from segeval.report.schema import CaseResult, Report
from segeval.volume import LabelVolume


@dataclass(frozen=True)
class ScoreSettings:
    """Every option that changes a number (recorded in each report's ``settings``).

    Attributes
    ----------
    spec : LabelSpec
        Labels, names, regions, ignore label, background.
    metrics : tuple of str
        Metrics to compute (counts and volumes are always reported).
    alpha, beta : float
        Tversky weights of FP and FN.
    smooth : float
        Additive smoothing of Dice, IoU and Tversky.
    empty : {"nan", "one", "zero"}
        Score of a class absent from both volumes.
    tolerance_mm : float
        NSD tolerance.
    percentile : float
        Percentile of ``hd95`` and ``hd95_pooled``.
    spacing_mm : tuple of float or None
        Spacing override (``.npy``/``.npz`` inputs, or forcing one).
    inf_distance : str or float or None
        Replacement for infinite distances (one mask empty): ``"diagonal"``
        (the image diagonal in mm), a number, or None to keep ``inf``.
    """

    spec: LabelSpec = field(default_factory=LabelSpec)
    metrics: tuple[str, ...] = tuple(OVERLAP_METRICS)
    alpha: float = 0.3
    beta: float = 0.7
    smooth: float = 0.0
    empty: str = "nan"
    tolerance_mm: float = 1.0
    percentile: float = 95.0
    spacing_mm: tuple[float, ...] | None = None
    inf_distance: str | float | None = None

    def __post_init__(self) -> None:
        if self.empty not in EMPTY_POLICIES:
            raise OptionError(f"--empty: expected one of nan, one, zero; got {self.empty!r}")
        # Fix (tests): "x < 0" let NaN and inf through; they gave NaN scores.
        if not all(math.isfinite(v) and v >= 0 for v in (self.alpha, self.beta)):
            raise OptionError(f"--alpha/--beta: must be >= 0 (got {self.alpha}, {self.beta})")
        if not (math.isfinite(self.smooth) and self.smooth >= 0):
            raise OptionError(f"--smooth: must be >= 0 (got {self.smooth})")
        if not self.tolerance_mm >= 0:
            raise OptionError(f"--tolerance: must be >= 0 mm (got {self.tolerance_mm})")
        if not 0 < self.percentile <= 100:
            raise OptionError(f"--percentile: must be in (0, 100] (got {self.percentile})")
        if self.spacing_mm is not None and any(not s > 0 for s in self.spacing_mm):
            raise OptionError(f"--spacing: every value must be > 0 mm (got {self.spacing_mm})")
        if isinstance(self.inf_distance, str) and self.inf_distance != "diagonal":
            raise OptionError(f"--inf-distance: 'diagonal' or a number, got {self.inf_distance!r}")

    @property
    def surface_metrics(self) -> tuple[str, ...]:
        """The requested distance metrics."""
        return tuple(m for m in self.metrics if METRICS[m].kind == "surface")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings for the report."""
        out: dict[str, Any] = dict(self.spec.to_dict())
        out.update(
            metrics=list(self.metrics),
            alpha=self.alpha,
            beta=self.beta,
            smooth=self.smooth,
            empty=self.empty,
            tolerance_mm=self.tolerance_mm,
            percentile=self.percentile,
            spacing_mm=list(self.spacing_mm) if self.spacing_mm is not None else None,
            inf_distance=self.inf_distance,
        )
        return out


def _records(
    classes: list[ScoredClass],
    counts: Mapping[str, np.ndarray],
    values: Mapping[str, np.ndarray],
    voxel_ml: float,
    metrics: Sequence[str],
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i, cls in enumerate(classes):
        row: dict[str, Any] = {"label": cls.key, "name": cls.name}
        if cls.is_region:
            row["members"] = list(cls.members)
        for m in metrics:
            row[m] = float(values[m][i])
        for k in ("tp", "fp", "fn", "tn"):
            row[k] = int(counts[k][i])
        row["vol_pred_ml"] = float(counts["n_pred"][i]) * voxel_ml
        row["vol_gt_ml"] = float(counts["n_gt"][i]) * voxel_ml
        rows.append(row)
    return rows


def score_case(
    pred: LabelVolume,
    gt: LabelVolume,
    settings: ScoreSettings | None = None,
    *,
    case: str | None = None,
    device: str = "cpu",
) -> CaseResult:
    """Score one pair of label volumes.

    Parameters
    ----------
    pred, gt : LabelVolume
        Same shape; geometry is checked by the caller (``volume.check_same_geometry``).
        Spacing is taken from ``gt`` unless ``settings.spacing_mm`` overrides it.
    settings : ScoreSettings, optional
        Defaults: every label > 0, the overlap metrics.
    case : str, optional
        Case id for the report (default: gt's file name, or ``"case"``).
    device : {"cpu", "gpu"}
        ``"gpu"``: the labels cross to the GPU once (in their stored dtype) and
        the confusion matrix and distance transforms run there with CuPy.

    Returns
    -------
    CaseResult
        One record per scored class, with every requested metric, the counts and
        the volumes in ml, plus the case's generalized Dice.
    """
    settings = settings or ScoreSettings()
    spec = settings.spec
    # --spacing is for inputs that carry none (.npy/.npz); a header's spacing wins.
    spacing = gt.spacing_mm if gt.spacing_given else (settings.spacing_mm or gt.spacing_mm)
    if len(spacing) != gt.labels.ndim:
        raise OptionError(
            f"--spacing: {len(spacing)} values given for a {gt.labels.ndim}-D volume ({gt.path or 'gt'})"
        )
    names = (pred.path or "pred", gt.path or "gt")
    p_arr, g_arr = _on_device(pred.labels, gt.labels, device)
    joint = joint_counts(p_arr, g_arr, ignore_label=spec.ignore_label, names=names)
    classes = spec.resolve([int(v) for v in joint.values])
    counts = joint.class_counts([c.members for c in classes])
    overlap_names = [m for m in settings.metrics if METRICS[m].kind == "overlap"]
    values: dict[str, np.ndarray] = overlap_from_counts(
        counts["tp"], counts["fp"], counts["fn"], counts["tn"],
        alpha=settings.alpha, beta=settings.beta, smooth=settings.smooth,
        empty=settings.empty, metrics=overlap_names,
    )
    if settings.surface_metrics:
        values.update(_surface(p_arr, g_arr, gt.shape, classes, spacing, settings))
    voxel_ml = float(np.prod(spacing)) / 1000.0
    plain = [i for i, c in enumerate(classes) if not c.is_region and c.key != 0]
    gd = generalized_dice_from_counts(
        counts["tp"][plain], counts["fp"][plain], counts["fn"][plain]
    ) if plain else np.float64("nan")
    notes = []
    if not gt.spacing_given and settings.spacing_mm is None:
        notes.append("no voxel spacing in the input; 1 mm assumed (give --spacing)")
    return CaseResult(
        case=case or _case_name(gt),
        pred=pred.path,
        gt=gt.path,
        shape=list(gt.shape),
        spacing=[float(s) for s in spacing],
        labels=_records(classes, counts, values, voxel_ml, settings.metrics),
        generalized_dice=float(gd),
        notes=notes,
    )


def _case_name(gt: LabelVolume) -> str:
    if gt.path is None:
        return "case"
    from segeval.io import case_id

    return case_id(gt.path)


def _on_device(pred: Any, gt: Any, device: str) -> tuple[Any, Any]:
    """Both label arrays where the work runs: unchanged for the CPU, one transfer each for the GPU."""
    if device == "cpu":
        return pred, gt
    if device != "gpu":
        raise OptionError(f"--device: expected cpu or gpu here, got {device!r}")
    from segeval._optional import import_optional

    cupy = import_optional("cupy")
    return cupy.asarray(pred), cupy.asarray(gt)


def _surface(
    pred: Any,
    gt: Any,
    shape: Sequence[int],
    classes: list[ScoredClass],
    spacing: Sequence[float],
    settings: ScoreSettings,
) -> dict[str, np.ndarray]:
    """Distance metrics for every class, with the ignore label and ``--inf-distance`` applied.

    NumPy arrays use the KD-tree path; CuPy arrays the distance-transform path
    (same numbers, see :mod:`segeval.metrics.surface_edt`).
    """
    on_gpu = type(pred).__module__.startswith("cupy")
    xp: Any = __import__("cupy") if on_gpu else np
    p, g = pred, gt
    if p.dtype.kind == "f":  # whole-number floats (checked by the confusion pass)
        p = p.astype(xp.int64)
    if g.dtype.kind == "f":
        g = g.astype(xp.int64)
    if settings.spec.ignore_label is not None:
        # Predictions inside ignored regions say nothing: drop them before boundaries are found.
        p = xp.where(g == settings.spec.ignore_label, 0, p)
    kwargs: dict[str, Any] = {
        "classes": [c.members for c in classes],
        "spacing_mm": spacing,
        "tolerance_mm": settings.tolerance_mm,
        "percentile": settings.percentile,
        "metrics": settings.surface_metrics,
        "empty": settings.empty,
    }
    if on_gpu:
        from segeval.metrics.surface_edt import surface_metrics_edt

        out = surface_metrics_edt(p, g, **kwargs)
    else:
        from segeval.metrics.surface import surface_metrics

        out = surface_metrics(p, g, **kwargs)
    if settings.inf_distance is not None:
        if settings.inf_distance == "diagonal":
            fill = math.sqrt(sum((n * s) ** 2 for n, s in zip(shape, spacing)))
        else:
            fill = float(settings.inf_distance)
        out = {k: (np.where(np.isinf(v), fill, v) if k != "nsd" else v) for k, v in out.items()}
    return out


def score(
    pred: Any,
    gt: Any,
    *,
    labels: Sequence[int] | Mapping[str, int] | None = None,
    regions: Mapping[str, Sequence[int]] | None = None,
    ignore_label: int | None = None,
    include_background: bool = False,
    label_names: Mapping[int, str] | None = None,
    metrics: str | Sequence[str] | None = None,
    alpha: float = 0.3,
    beta: float = 0.7,
    smooth: float = 0.0,
    empty: str = "nan",
    spacing_mm: Sequence[float] | None = None,
    tolerance_mm: float = 1.0,
    percentile: float = 95.0,
    inf_distance: str | float | None = None,
    check_geometry: bool = True,
    device: str = "cpu",
) -> Report:
    """Score a prediction against a ground truth: paths or arrays in, a report out.

    Parameters
    ----------
    pred, gt : str, Path, ndarray or LabelVolume
        Label volumes; files are read by suffix (NIfTI, NRRD, MetaImage, NumPy).
    labels : sequence of int or mapping of name to int, optional
        Labels to score (default every label > 0 present in either volume).
    regions : mapping of name to sequence of int, optional
        Unions of labels scored as one class each (BraTS WT/TC/ET style).
    ignore_label : int, optional
        Ground-truth value whose voxels are excluded from every count.
    include_background : bool
        Also score label 0.
    label_names : mapping of int to str, optional
        Names for the report.
    metrics : str or sequence of str, optional
        E.g. ``"dice,hd95"``; default the overlap set.
    alpha, beta, smooth, empty, tolerance_mm, percentile, inf_distance
        See :class:`ScoreSettings`.
    spacing_mm : sequence of float, optional
        Voxel spacing (for arrays and ``.npy``; overrides the header otherwise).
    check_geometry : bool
        Refuse pairs whose spacing, origin or direction differ.
    device : {"cpu", "gpu", "auto"}
        Where to compute; ``"gpu"`` needs CuPy and a CUDA device, ``"auto"`` uses
        one when present.

    Returns
    -------
    Report
        ``report.to_frame()`` gives one row per label; ``report.to_dict()`` the JSON shape.

    Examples
    --------
    >>> import numpy as np, segeval
    >>> gt = np.zeros((4, 4), np.uint8); gt[:2, :2] = 1
    >>> pred = np.zeros((4, 4), np.uint8); pred[:2, :3] = 1
    >>> round(segeval.score(pred, gt).cases[0].labels[0]["dice"], 4)
    0.8
    """
    names: dict[int, str] = dict(label_names or {})
    label_tuple: tuple[int, ...] | None = None
    if isinstance(labels, Mapping):
        label_tuple = tuple(int(v) for v in labels.values())
        names.update({int(v): str(k) for k, v in labels.items()})
    elif labels is not None:
        label_tuple = tuple(int(v) for v in labels)
    spec = LabelSpec(
        labels=label_tuple,
        names=names,
        regions=tuple((str(k), tuple(int(v) for v in m)) for k, m in (regions or {}).items()),
        ignore_label=ignore_label,
        include_background=include_background,
    )
    spacing = tuple(float(s) for s in spacing_mm) if spacing_mm is not None else None
    settings = ScoreSettings(
        spec=spec, metrics=parse_metrics(metrics), alpha=alpha, beta=beta, smooth=smooth,
        empty=empty, tolerance_mm=tolerance_mm, percentile=percentile, spacing_mm=spacing,
        inf_distance=inf_distance,
    )
    pred_vol = _as_volume(pred, spacing, "pred")
    gt_vol = _as_volume(gt, spacing, "gt")
    if check_geometry and pred_vol.path is not None and gt_vol.path is not None:
        from segeval.volume import check_same_geometry

        check_same_geometry(pred_vol, gt_vol)
    elif pred_vol.shape != gt_vol.shape:
        from segeval.errors import GeometryMismatchError

        raise GeometryMismatchError(f"pred and gt shapes differ: pred {pred_vol.shape} vs gt {gt_vol.shape}")
    from segeval.backends import resolve_device

    result = score_case(pred_vol, gt_vol, settings, device=resolve_device(device))
    return Report(settings=settings.to_dict(), cases=[result])


def _as_volume(x: Any, spacing: tuple[float, ...] | None, role: str) -> LabelVolume:
    if isinstance(x, LabelVolume):
        return x if spacing is None else replace(x, spacing_mm=spacing)
    if isinstance(x, (str, Path)):
        from segeval.io import read_volume

        return read_volume(x, spacing_mm=spacing)
    arr = np.asarray(x)
    sp = spacing or tuple(1.0 for _ in range(arr.ndim))
    return LabelVolume(arr, sp, spacing_given=spacing is not None)


__all__ = ["ScoreSettings", "score", "score_case"]
