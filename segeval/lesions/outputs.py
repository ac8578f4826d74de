"""Lesion-wise scoring of a whole case (every scored class), its per-lesion records and its lesion maps.

:func:`lesion_hook` is what :func:`segeval.scoring.score_case` calls with
``--lesions``: it fills the lesion keys of every class, writes the case's
lesion maps (``--lesion-maps DIR``, in the worker that scored the case) and
returns one record per GT lesion and false-positive component, which
``--lesion-records FILE.csv`` gathers (:func:`records_csv`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segeval.errors import OutputError

__all__ = ["MAP_VALUES", "RECORD_COLUMNS", "absent_lesion_values", "lesion_hook", "map_path", "pooled_detection", "records_csv"]

#: Values of a lesion map.
MAP_VALUES = {"found": 1, "missed": 2, "false_positive": 3}

#: Columns of ``--lesion-records``.
RECORD_COLUMNS: tuple[str, ...] = (
    "case", "label", "name", "lesion", "kind", "gt_voxels", "gt_ml", "pred_voxels", "pred_ml", "dice", "hd95",
    "pred_components",
)


def _host(arr: Any) -> np.ndarray:
    get = getattr(arr, "get", None)  # CuPy: lesions are scored on the host
    return np.asarray(get() if callable(get) else arr)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "class"


def map_path(folder: str | os.PathLike[str], case: str, cls_key: Any, cls_name: str | None) -> Path:
    """Where ``--lesion-maps`` puts the map of one case and class: ``DIR/<case>_<class>.nii.gz``."""
    return Path(folder) / f"{_safe(case)}_{_safe(str(cls_name or cls_key))}.nii.gz"


def _write_map(path: Path, labels: np.ndarray, gt_volume: Any) -> None:
    """Write a lesion map next to its final name, then rename it there (a reader never sees half a file)."""
    from segeval.io import write_volume

    tmp = path.with_name(f".{path.name[:-len('.nii.gz')]}.{os.getpid()}.partial.nii.gz")
    try:
        write_volume(tmp, labels, spacing_mm=gt_volume.spacing_mm, origin=gt_volume.origin,
                     direction=gt_volume.direction)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OutputError(f"--lesion-maps {path.parent}: cannot write {path.name} ({exc.strerror or exc})") from None


def _paint(res: Any) -> np.ndarray:
    """1 found lesion, 2 missed lesion, 3 false-positive component; lesions under the size threshold stay 0."""
    matching = res.matching
    gt_lab, pred_lab = matching.gt.labels, matching.pred.labels
    lut = np.zeros(matching.gt.n + 1, dtype=np.uint8)
    for r in matching.lesions:
        if r.counted:
            lut[r.lesion] = MAP_VALUES["found"] if r.found else MAP_VALUES["missed"]
    out: np.ndarray = lut[gt_lab]
    if matching.fp_ids:
        fp = np.zeros(matching.pred.n + 1, dtype=bool)
        fp[np.asarray(matching.fp_ids)] = True
        out[fp[pred_lab] & (gt_lab == 0)] = MAP_VALUES["false_positive"]
    full = np.zeros(res.shape, dtype=np.uint8)
    full[res.box] = out
    return full


def _rows(case: str, key: Any, name: str | None, res: Any, voxel_ml: float) -> list[dict[str, Any]]:
    m, rules = res.matching, res.rules
    rows = []
    for r in m.lesions:
        kind = ("tp" if r.found else "fn") if r.counted else "small"
        hd95 = rules.penalty_mm if math.isinf(r.hd95) and rules.matching == "brats" else r.hd95
        rows.append({"case": case, "label": key, "name": name, "lesion": r.lesion, "kind": kind,
                     "gt_voxels": r.gt_voxels, "gt_ml": r.gt_voxels * voxel_ml, "pred_voxels": r.pred_voxels,
                     "pred_ml": r.pred_voxels * voxel_ml, "dice": r.dice, "hd95": hd95,
                     "pred_components": ";".join(str(i) for i in r.pred_ids)})
    for i in m.fp_ids:
        size = int(m.pred.sizes[i])
        rows.append({"case": case, "label": key, "name": name, "lesion": i, "kind": "fp", "gt_voxels": 0,
                     "gt_ml": 0.0, "pred_voxels": size, "pred_ml": size * voxel_ml, "dice": 0.0,
                     "hd95": rules.penalty_mm, "pred_components": str(i)})
    return rows


def lesion_hook(
    values: dict[str, np.ndarray],
    pred: Any,
    gt: Any,
    classes: Sequence[Any],
    spacing: Sequence[float],
    settings: Any,
    gt_volume: Any,
    case: str,
) -> list[dict[str, Any]]:
    """Score every class of one case lesion-wise: fill ``values``, write maps, return the records.

    Parameters
    ----------
    values : dict of str to ndarray
        The case's per-class values; one array per lesion key is added.
    pred, gt : array of int
        The label maps (NumPy or CuPy; scored on the host).
    classes : sequence of ScoredClass
        The scored classes (``members``, ``key``, ``name``).
    spacing : sequence of float
        Voxel size in mm.
    settings : ScoreSettings
        ``settings.lesions`` is the protocol; ``settings.empty`` and the ignore label apply.
    gt_volume : LabelVolume
        The GT's geometry, for the maps.
    case : str
        Case id (records, map file names).

    Returns
    -------
    list of dict
        One record per GT lesion (kind ``tp``, ``fn`` or ``small``) and per
        false-positive component (kind ``fp``), columns :data:`RECORD_COLUMNS`.
    """
    from segeval.lesions.aggregate import class_masks, score_class
    from segeval.lesions.brats2024 import CaseTissues
    from segeval.lesions.protocols import LESION_METRICS

    lesions = settings.lesions
    p, g = _host(pred), _host(gt)
    ignore = settings.spec.ignore_label
    if ignore is not None:
        p = np.where(g == ignore, 0, p)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    out = {k: np.full(len(classes), math.nan) for k in LESION_METRICS}
    records: list[dict[str, Any]] = []
    members_of = [tuple(int(v) for v in cls.members) for cls in classes]
    masks = class_masks(p, g, members_of, lesions)
    tissues = CaseTissues(p, g, lesions, tuple(float(s) for s in spacing))  # brats2024's sub-region lesions
    for i, (cls, members, (pm, gm, box)) in enumerate(zip(classes, members_of, masks)):
        res = score_class(pm, gm, lesions, members=members, spacing_mm=tuple(float(s) for s in spacing),
                          empty=settings.empty, box=box, shape=g.shape, tissues=tissues)
        for k in LESION_METRICS:
            out[k][i] = res.values[k]
        records += _rows(case, cls.key, cls.name, res, voxel_ml)
        if lesions.maps_dir is not None:
            _write_map(map_path(lesions.maps_dir, case, cls.key, cls.name), _paint(res), gt_volume)
    values.update(out)
    return records


def absent_lesion_values(classes: Sequence[Any], settings: Any) -> dict[str, np.ndarray]:
    """The lesion keys of classes absent from both volumes of a case (what :func:`lesion_hook` gives them)."""
    from segeval.lesions.aggregate import score_class
    from segeval.lesions.protocols import LESION_METRICS

    out = {k: np.full(len(classes), math.nan) for k in LESION_METRICS}
    empty = np.zeros((1, 1, 1), dtype=bool)
    for i, cls in enumerate(classes):
        res = score_class(empty, empty, settings.lesions, members=tuple(cls.members), empty=settings.empty)
        for k in LESION_METRICS:
            out[k][i] = res.values[k]
    return out


def pooled_detection(cases: Sequence[Any]) -> list[dict[str, Any]]:
    """Detection counts pooled over the scored cases, per label: the batch summary's ``lesions`` block.

    Per label: ``lesion_tp``, ``lesion_fp``, ``lesion_fn`` summed over cases, the
    pooled object recall TP / (TP + FN) and the pooled F1 2TP / (2TP + FP + FN)
    (NaN when there is nothing to count). The per-case means (the BraTS
    leaderboard numbers) are in the summary's ``per_label`` block.
    """
    keys: list[Any] = []
    sums: dict[Any, list[float]] = {}
    names: dict[Any, Any] = {}
    for c in cases:
        for r in c.labels:
            k = r["label"]
            if k not in sums:
                keys.append(k)
                sums[k] = [0.0, 0.0, 0.0]
                names[k] = r.get("name")
            for j, m in enumerate(("lesion_tp", "lesion_fp", "lesion_fn")):
                v = float(r.get(m, math.nan))
                if not math.isnan(v):
                    sums[k][j] += v
    out = []
    for k in keys:
        tp, fp, fn = sums[k]
        out.append({"label": k, "name": names[k], "lesion_tp": int(tp), "lesion_fp": int(fp), "lesion_fn": int(fn),
                    "lesion_recall": tp / (tp + fn) if tp + fn else math.nan,
                    "lesion_f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan})
    return out


def records_csv(records: Sequence[dict[str, Any]]) -> str:
    """``--lesion-records``: one CSV row per record, columns :data:`RECORD_COLUMNS` (inf as ``inf``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(RECORD_COLUMNS)
    for r in records:
        row = []
        for c in RECORD_COLUMNS:
            v = r.get(c)
            if isinstance(v, float):
                row.append("" if math.isnan(v) else repr(v))
            else:
                row.append("" if v is None else str(v))
        writer.writerow(row)
    return buf.getvalue()
