"""Score one case: two label volumes in, one record per scored class out.

:func:`score_case` is the single place where the confusion matrix, the
overlap metrics and (on request) the surface distances meet, and
:func:`load_case` the single place where a case's two files become two
volumes on one grid. ``segeval score``, every worker of ``segeval batch``
(:func:`score_task`) and :func:`segeval.score` all go through both, so the
same files and settings give the same numbers by every route.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segeval.backends import Backend, get_backend
from segeval.errors import GeometryMismatchError, OptionError, SegevalError
from segeval.labels import ScoredClass, find_dataset_json
from segeval.lesions.outputs import absent_lesion_values, lesion_hook
from segeval.metrics.boundaries import ClassDistances
from segeval.metrics.confusion import joint_counts
from segeval.metrics.overlap import generalized_dice_from_counts, overlap_from_counts
from segeval.metrics.registry import METRICS
from segeval.metrics.surface import reduce_distances, surface_metrics
from segeval.records import CaseResult, CaseTask, ClassRecord
from segeval.settings import ScoreSettings, build_settings
from segeval.summary import Report
from segeval.volume import LabelVolume, check_same_geometry, reorient_to, with_spacing

__all__ = ["complete_label_set", "label_set_warnings", "load_case", "score", "score_case", "score_task", "unscored_values"]

#: Test-only hook: seconds each case sleeps before it is read, so that tests can
#: interrupt a running batch deterministically. Not for users.
TEST_DELAY_ENV = "SEGEVAL_TEST_CASE_DELAY"

_NO_SPACING = "no voxel spacing in the input; 1 mm assumed (give --spacing)"
_EMPTY_PREDICTION = "no prediction: scored as an empty prediction (--missing zero)"


def _records(
    classes: list[ScoredClass],
    counts: Mapping[str, np.ndarray],
    values: Mapping[str, np.ndarray],
    voxel_ml: float,
    metrics: Sequence[str],
) -> list[ClassRecord]:
    rows: list[ClassRecord] = []
    for i, cls in enumerate(classes):
        row: ClassRecord = {"label": cls.key, "name": cls.name}
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
    device: str | Backend = "cpu",
) -> CaseResult:
    """Score one pair of label volumes on one grid.

    Parameters
    ----------
    pred, gt : LabelVolume
        Same shape; their geometry is checked by :func:`load_case` (or by the
        caller). ``settings.spacing_mm``, when given, is the spacing of both;
        otherwise gt's spacing is used.
    settings : ScoreSettings, optional
        Defaults: every label > 0, the overlap metrics.
    case : str, optional
        Case id for the report (default: gt's file name, or ``"case"``).
    device : {"cpu", "gpu", "auto"} or Backend
        ``"gpu"``: the labels cross to the GPU once (in their stored dtype) and
        the confusion matrix and distance transforms run there with CuPy.

    Returns
    -------
    CaseResult
        One record per scored class, with every requested metric, the counts and
        the volumes in ml, plus the case's generalized Dice.
    """
    settings = settings or ScoreSettings()
    backend = get_backend(device)
    spec = settings.spec
    notes = [*pred.meta.get("notes", ()), *gt.meta.get("notes", ())]
    if settings.spacing_mm is not None:
        header = gt.meta.get("file_spacing_mm", pred.meta.get("file_spacing_mm"))
        if header is not None:
            notes.append(f"--spacing {_mm(settings.spacing_mm)} replaces the voxel spacing the file header "
                         f"gives, {_mm(header)}")
        gt = with_spacing(gt, settings.spacing_mm)
    elif not gt.spacing_given:
        notes.append(_NO_SPACING)
    spacing = gt.spacing_mm
    if len(spacing) != gt.labels.ndim:
        raise OptionError(
            f"--spacing: {len(spacing)} values given for a {gt.labels.ndim}-D volume ({gt.path or 'gt'})"
        )
    names = (pred.path or "pred", gt.path or "gt")
    p_arr, g_arr = backend.to_device(pred.labels), backend.to_device(gt.labels)
    joint = joint_counts(p_arr, g_arr, ignore_label=spec.ignore_label, names=names)
    classes = spec.resolve([int(v) for v in joint.values])
    counts = joint.class_counts([c.members for c in classes])
    unscored: list[int] = []
    if spec.label_map is not None:
        scored = {m for c in classes for m in c.members} | {0}
        unscored = [int(v) for v in joint.values if int(v) not in scored]
    if spec.asked:
        notes += _impossible_labels(spec.labels or (), (("the prediction", p_arr), ("the ground truth", g_arr)))
    values: dict[str, np.ndarray] = overlap_from_counts(
        counts["tp"], counts["fp"], counts["fn"], counts["tn"],
        alpha=settings.alpha, beta=settings.beta, smooth=settings.smooth,
        empty=settings.empty, metrics=settings.overlap_metrics,
    )
    if settings.surface_metrics:
        values.update(_surface(p_arr, g_arr, backend, gt.shape, classes, spacing, settings))
    lesions = lesion_hook(values, p_arr, g_arr, classes, spacing, settings, gt, case or _case_name(gt)) if settings.lesions else []
    voxel_ml = float(np.prod(spacing)) / 1000.0
    plain = [i for i, c in enumerate(classes) if not c.is_region and c.key != 0]
    gd = generalized_dice_from_counts(
        counts["tp"][plain], counts["fp"][plain], counts["fn"][plain]
    ) if plain else np.float64("nan")
    return CaseResult(
        case=case or _case_name(gt),
        pred=pred.path,
        gt=gt.path,
        shape=list(gt.shape),
        spacing=[float(s) for s in spacing],
        labels=_records(classes, counts, values, voxel_ml, settings.metrics),
        generalized_dice=float(gd),
        notes=notes,
        voxels=joint.total,
        unscored=unscored, lesion_records=lesions,
    )


def _mm(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{float(v):g}" for v in values) + ") mm"


def _impossible_labels(labels: Sequence[int], arrays: Sequence[tuple[str, Any]]) -> list[str]:
    """Notes for asked-for labels that the arrays' dtype cannot hold (a negative label in a uint8 map)."""
    notes = []
    for name, arr in arrays:
        kind = arr.dtype.kind
        if kind not in "biu":
            continue
        lo, hi = (0, 1) if kind == "b" else (int(np.iinfo(arr.dtype).min), int(np.iinfo(arr.dtype).max))
        bad = [v for v in labels if not lo <= v <= hi]
        if bad:
            notes.append(f"--labels {', '.join(map(str, bad))}: cannot occur in {name}, a {arr.dtype} volume "
                         f"(values {lo}..{hi})")
    return notes


def _case_name(gt: LabelVolume) -> str:
    if gt.path is None:
        return "case"
    from segeval.io import case_id

    return case_id(gt.path)


def _surface(
    pred: Any,
    gt: Any,
    backend: Backend,
    shape: Sequence[int],
    classes: list[ScoredClass],
    spacing: Sequence[float],
    settings: ScoreSettings,
) -> dict[str, np.ndarray]:
    """Distance metrics for every class, with the ignore label and ``--inf-distance`` applied.

    On the CPU the k-d tree path; on a GPU the distance-transform path (same
    numbers, see :mod:`segeval.metrics.boundaries`).
    """
    xp = backend.xp
    p, g = pred, gt
    if p.dtype.kind == "f":  # whole-number floats (checked by the confusion pass)
        p = p.astype(xp.int64)
    if g.dtype.kind == "f":
        g = g.astype(xp.int64)
    if settings.spec.ignore_label is not None:
        # Predictions inside ignored regions say nothing: drop them before boundaries are found.
        p = xp.where(g == settings.spec.ignore_label, 0, p)
    out = surface_metrics(
        p, g, classes=[c.members for c in classes], spacing_mm=spacing, tolerance_mm=settings.tolerance_mm,
        percentile=settings.percentile, metrics=settings.surface_metrics, empty=settings.empty, weights=settings.surface_weights,
    )
    return _replace_inf(out, settings, shape, spacing)


def _replace_inf(
    values: dict[str, np.ndarray], settings: ScoreSettings, shape: Sequence[int], spacing: Sequence[float]
) -> dict[str, np.ndarray]:
    """``--inf-distance``: infinite distances (one mask empty) replaced by the diagonal or a value."""
    if settings.inf_distance is None:
        return values
    if settings.inf_distance == "diagonal":
        fill = math.sqrt(sum((n * s) ** 2 for n, s in zip(shape, spacing)))
    else:
        fill = float(settings.inf_distance)
    return {k: (np.where(np.isinf(v), fill, v) if METRICS[k].unit == "mm" else v) for k, v in values.items()}


def _absent_records(classes: Sequence[ScoredClass], case: CaseResult, settings: ScoreSettings) -> list[ClassRecord]:
    """Records of classes absent from both volumes of ``case``: counts 0 (TN: every voxel counted),
    scores by the empty-mask rules, exactly what :func:`score_case` gives such a class."""
    if case.voxels is not None:
        total = case.voxels
    elif case.labels:
        r = case.labels[0]
        total = int(r["tp"]) + int(r["fp"]) + int(r["fn"]) + int(r["tn"])
    else:
        total = int(np.prod(case.shape)) if case.shape else 0
    n, zeros = len(classes), np.zeros(len(classes), dtype=np.int64)
    counts = {"tp": zeros, "fp": zeros, "fn": zeros, "tn": np.full(n, total, dtype=np.int64),
              "n_pred": zeros, "n_gt": zeros}
    values = overlap_from_counts(zeros, zeros, zeros, counts["tn"], alpha=settings.alpha, beta=settings.beta,
                                 smooth=settings.smooth, empty=settings.empty, metrics=settings.overlap_metrics)
    if settings.surface_metrics:
        empty = ClassDistances(np.zeros(0), np.zeros(0))
        distances = reduce_distances([empty] * n, settings.surface_metrics, tolerance_mm=settings.tolerance_mm,
                                     percentile=settings.percentile, empty=settings.empty)
        values.update(_replace_inf(distances, settings, case.shape, case.spacing))
    values.update(absent_lesion_values(list(classes), settings) if settings.lesions else {})
    voxel_ml = float(np.prod(case.spacing)) / 1000.0 if case.spacing else 0.0
    return _records(list(classes), counts, values, voxel_ml, settings.metrics)


def complete_label_set(cases: Sequence[CaseResult], settings: ScoreSettings) -> None:
    """Give every scored case a row for every label found in any case (the run's label set).

    Only without a label set decided in advance (no ``--labels`` and no label
    map): a label absent from both volumes of a case then gets the row
    ``score_case`` would have given it, by the ``--empty`` rule, in label
    order before the regions. The same label set whatever the order in which
    cases finish, and after ``--resume``.
    """
    spec = settings.spec
    if spec.labels is not None:
        return
    scored = [c for c in cases if c.error is None]
    found = sorted({r["label"] for c in scored for r in c.labels if not isinstance(r["label"], str)})
    for case in scored:
        have = {r["label"] for r in case.labels if not isinstance(r["label"], str)}
        missing = [v for v in found if v not in have]
        if not missing:
            continue
        added = _absent_records([ScoredClass(v, spec.names.get(v), (v,)) for v in missing], case, settings)
        plain = [r for r in case.labels if not isinstance(r["label"], str)] + added
        plain.sort(key=lambda r: int(r["label"]))
        case.labels = plain + [r for r in case.labels if isinstance(r["label"], str)]


def label_set_warnings(cases: Sequence[CaseResult], settings: ScoreSettings) -> list[str]:
    """One line each for what the run's label set left out or could not find.

    * values outside the label map (not scored), with the first cases holding them;
    * labels asked for with ``--labels`` that occur in no volume of the run.
    """
    out = []
    first: dict[int, list[str]] = {}
    for c in cases:
        for v in c.unscored:
            first.setdefault(v, [])
            if len(first[v]) < 3:
                first[v].append(c.case)
    if first:
        where = "; ".join(f"{v} in {', '.join(ids)}" for v, ids in sorted(first.items()))
        out.append(f"values outside the label map {settings.spec.label_map} are not scored: {where}")
    scored = [c for c in cases if c.error is None]
    if settings.spec.asked and scored:
        seen = {r["label"] for c in scored for r in c.labels
                if not isinstance(r["label"], str) and (r["tp"] or r["fp"] or r["fn"])}
        never = [v for v in settings.spec.labels or () if v not in seen and v != 0]
        if never:
            out.append(f"--labels {', '.join(map(str, never))}: in no volume of "
                       f"{'this case' if len(scored) == 1 else f'the {len(scored)} cases'}")
    return out


def unscored_values(cases: Sequence[CaseResult]) -> list[int]:
    """Every value some case held outside the label map, sorted."""
    return sorted({v for c in cases for v in c.unscored})


def load_case(
    pred: str | os.PathLike[str] | None,
    gt: str | os.PathLike[str],
    settings: ScoreSettings,
    *,
    resample_pred: bool = False,
    allow_outside_data_files: bool = False,
) -> tuple[LabelVolume, LabelVolume]:
    """Read a case's two files onto one grid: the only place where files become a scored pair.

    Parameters
    ----------
    pred : path or None
        The prediction; None scores an empty prediction on the GT grid
        (``--missing zero``).
    gt : path
        The ground truth.
    settings : ScoreSettings
        ``spacing_mm``, when given, replaces both files' spacing before the
        geometry check.
    resample_pred : bool
        Resample the prediction onto the GT grid (nearest neighbour) instead
        of refusing a mismatch.
    allow_outside_data_files : bool
        Read the data files of detached MetaImage/NRRD headers wherever they
        are (see :func:`segeval.io.read_volume`).

    Returns
    -------
    (LabelVolume, LabelVolume)
        The prediction and the ground truth on the GT's grid.

    Raises
    ------
    ReadError, InputError
        A file cannot be read or holds no label volume.
    GeometryMismatchError
        The grids differ (without ``resample_pred``), naming the field.

    Notes
    -----
    A prediction on the same grid as the GT but with its axes permuted or
    flipped (an LPS NRRD against an RAS NIfTI, an array saved transposed) is
    transposed and flipped onto the GT's axes, exactly, with or without
    ``resample_pred``, and its case notes say so
    (:func:`segeval.volume.reorient_to`).
    """
    from segeval.io import read_volume

    gt_vol = read_volume(gt, spacing_mm=settings.spacing_mm, allow_outside_data_files=allow_outside_data_files)
    if pred is None:
        return LabelVolume(
            np.zeros(gt_vol.shape, dtype=np.uint8), gt_vol.spacing_mm, gt_vol.origin, gt_vol.direction,
            path=None, spacing_given=gt_vol.spacing_given,
        ), gt_vol
    pred_vol = read_volume(pred, spacing_mm=settings.spacing_mm, allow_outside_data_files=allow_outside_data_files)
    try:
        check_same_geometry(pred_vol, gt_vol)
    except GeometryMismatchError:
        # The same grid with its axes permuted or flipped (LPS against RAS, a
        # transposed array) is put on the GT's axes exactly, never resampled.
        reoriented = reorient_to(pred_vol, gt_vol)
        if reoriented is not None:
            return reoriented, gt_vol
        if not resample_pred:
            raise
    if resample_pred:
        from segeval.io.itk import resample_to

        pred_vol = resample_to(pred_vol, gt_vol)
    return pred_vol, gt_vol


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def describe_error(exc: BaseException) -> str:
    """A failed case's one-line reason: a SegevalError's message, else ``TypeName: message``."""
    text = _one_line(str(exc))
    if isinstance(exc, SegevalError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def score_task(
    task: CaseTask, settings: ScoreSettings, *, resample_pred: bool = False, device: str | Backend = "cpu",
    allow_outside_data_files: bool = False,
) -> CaseResult:
    """Read and score one case; never raises for a bad case (the result's ``error`` says why).

    Each file is read once. A task without a prediction (``pred`` None) is
    scored as an empty prediction on the GT grid (``--missing zero``).
    """
    delay = os.environ.get(TEST_DELAY_ENV)
    if delay:
        time.sleep(float(delay))
    try:
        pred, gt = load_case(task.pred, task.gt, settings, resample_pred=resample_pred,
                             allow_outside_data_files=allow_outside_data_files)
        result = score_case(pred, gt, settings, case=task.case, device=device)
    except Exception as exc:  # noqa: BLE001 - a bad case is recorded, the batch goes on
        return CaseResult(case=task.case, pred=task.pred, gt=task.gt, error=describe_error(exc))
    if task.pred is None:
        result.notes = [_EMPTY_PREDICTION, *result.notes]
    return result


def score(
    pred: Any,
    gt: Any,
    *,
    labels: Sequence[int] | Mapping[str, int] | str | None = None,
    regions: Mapping[str, Sequence[int]] | Sequence[str] | None = None,
    ignore_label: int | None = None,
    include_background: bool = False,
    label_names: Mapping[int, str] | str | os.PathLike[str] | None = None,
    metrics: str | Sequence[str] | None = None,
    alpha: float = 0.3,
    beta: float = 0.7,
    smooth: float = 0.0,
    empty: str = "nan",
    spacing_mm: Sequence[float] | str | None = None,
    tolerance_mm: float = 1.0,
    percentile: float = 95.0,
    inf_distance: str | float | None = None,
    check_geometry: bool = True,
    resample_pred: bool = False,
    device: str = "cpu",
    allow_outside_data_files: bool = False, lesions: Any = None, surface_weights: str = "voxels",
) -> Report:
    """Score a prediction against a ground truth: paths or arrays in, a report out.

    The options are those of ``segeval score`` (one builder,
    :func:`segeval.settings.build_settings`, reads both), so the same files
    and options give the same numbers here and on the command line.

    Parameters
    ----------
    pred, gt : str, Path, ndarray or LabelVolume
        Label volumes; files are read by suffix (NIfTI, NRRD, MetaImage, NumPy).
    labels : sequence of int, mapping of name to int, or str, optional
        Labels to score (default every label > 0 present in either volume).
    regions : mapping of name to sequence of int, optional
        Unions of labels scored as one class each (BraTS WT/TC/ET style).
    ignore_label : int, optional
        Ground-truth value whose voxels are excluded from every count.
    include_background : bool
        Also score label 0.
    label_names : mapping of int to str, or a path, optional
        A label map: names by number, or a JSON/CSV/``dataset.json`` file.
        It decides what is scored (see :func:`segeval.settings.label_set`);
        without it, a ``dataset.json`` beside or above a ``gt`` file is used.
    metrics : str or sequence of str, optional
        E.g. ``"dice,hd95"``; default the overlap set.
    alpha, beta, smooth, empty, tolerance_mm, percentile, inf_distance, lesions, surface_weights
        See :class:`~segeval.settings.ScoreSettings` (``lesions``: a protocol or ``LesionSettings``; ``surface_weights``: voxels or area).
    spacing_mm : sequence of float, optional
        Voxel spacing of both volumes: for arrays and ``.npy``, which carry
        none, and replacing a file header's spacing otherwise.
    check_geometry : bool
        Refuse file pairs whose spacing, origin or direction differ.
    resample_pred : bool
        Resample a prediction file onto the GT grid instead of refusing a mismatch.
    allow_outside_data_files : bool
        Read a detached MetaImage/NRRD header's data files outside its folder.
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
    settings = build_settings(
        labels=labels, label_names=label_names, regions=regions, ignore_label=ignore_label,
        include_background=include_background, metrics=metrics, alpha=alpha, beta=beta, smooth=smooth,
        empty=empty, tolerance_mm=tolerance_mm, percentile=percentile, spacing_mm=spacing_mm,
        inf_distance=inf_distance, lesions=lesions, surface_weights=surface_weights,
        dataset_json=find_dataset_json(gt) if _is_path(gt) and label_names is None else None,
    )
    backend = get_backend(device)
    if _is_path(pred) and _is_path(gt) and check_geometry:
        pred_vol, gt_vol = load_case(pred, gt, settings, resample_pred=resample_pred,
                                     allow_outside_data_files=allow_outside_data_files)
    else:
        pred_vol = _as_volume(pred, settings)
        gt_vol = _as_volume(gt, settings)
        if pred_vol.shape != gt_vol.shape:
            raise GeometryMismatchError(f"pred and gt shapes differ: pred {pred_vol.shape} vs gt {gt_vol.shape}")
    result = score_case(pred_vol, gt_vol, settings, device=backend)
    return Report(settings=report_settings(settings, [result], resample_pred=bool(resample_pred)), cases=[result])


def report_settings(settings: ScoreSettings, cases: Sequence[CaseResult], **run_options: Any) -> dict[str, Any]:
    """The settings a finished report records: the options (with those of the run, such as
    ``missing`` and ``resample_pred``), and the values left unscored."""
    out = {**settings.to_dict(), **run_options}
    unscored = unscored_values(cases)
    if unscored:
        out["unscored_labels"] = unscored
    return out


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, Path))


def _as_volume(x: Any, settings: ScoreSettings) -> LabelVolume:
    if isinstance(x, LabelVolume):
        return x
    if _is_path(x):
        from segeval.io import read_volume

        return read_volume(x, spacing_mm=settings.spacing_mm)
    arr = np.asarray(x)
    return LabelVolume(arr, (1.0,) * arr.ndim, spacing_given=False)
