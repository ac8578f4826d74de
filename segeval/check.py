"""Dataset integrity before a long run (``segeval check``): what a batch would trip over, case by case.

:func:`check_dataset` pairs two folders exactly as ``segeval batch`` does
(:func:`segeval.batching.pairing.pair_cases`), reads one case at a time (its
prediction and its GT; the voxels are needed for the label census, so at
most two volumes are in memory), and gives a :class:`CheckResult`: one
:class:`Problem` per thing that would fail or mislead a batch, and a
:class:`Digest` of what the folders hold (shapes, spacings, orientations,
dtypes and label values, each counted per distinct value). Nothing here
prints; ``segeval.cli.check`` renders the result.

A file is taken for an image rather than a label map (problem ``not_labels``)
when any of these holds:

* it is floating point with a fractional, NaN or infinite value (an
  intensity image, or a probability map);
* it holds more than :data:`MAX_LABEL_VALUES` distinct values;
* its lowest value is below :data:`LOWEST_LABEL` (CT intensities go down to
  -1024 HU; a label map holds 0..N, and at most -1 as an ignore value), or
  it has a negative value and more than 255 distinct ones (which scoring
  refuses, :mod:`segeval.metrics.confusion`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segeval.batching.pairing import pair_cases
from segeval.errors import GeometryMismatchError, SegevalError
from segeval.info import describe
from segeval.labels import LabelMap, find_dataset_json, read_label_map
from segeval.volume import LabelVolume, check_same_geometry, orientation_codes, reorient_to

__all__ = ["LOWEST_LABEL", "MAX_LABEL_VALUES", "PROBLEM_KINDS", "Census", "CheckResult", "Digest", "Problem",
           "check_dataset"]

#: A file with more distinct values than this is taken for an image, not a label map.
MAX_LABEL_VALUES = 1000
#: A file holding a value below this is taken for an image (CT intensities), not a label map.
LOWEST_LABEL = -1

#: Every kind of :class:`Problem`.
PROBLEM_KINDS: tuple[str, ...] = (
    "no_prediction",       # a GT case without a prediction file
    "no_gt",               # a prediction file without a GT case
    "unreadable",          # a file that cannot be read as a volume
    "not_labels",          # a file that looks like an image, not a label map
    "outside_label_map",   # label values the label map does not declare
    "geometry",            # prediction and GT on different grids (not a mere flip or permutation of axes)
)

_LISTED = 10  # label values named in one problem line
# Distinct values which, with a negative one among them, scoring refuses as an image.
_SCORING_REFUSES = 255


@dataclass(frozen=True)
class Problem:
    """One thing a batch would trip over.

    Attributes
    ----------
    kind : str
        One of :data:`PROBLEM_KINDS`.
    case : str
        The case id.
    path : str or None
        The file at fault (the prediction, for a geometry mismatch).
    message : str
        One line naming the file(s) and what is wrong.
    """

    kind: str
    case: str
    path: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"kind": self.kind, "case": self.case, "path": self.path, "message": self.message}


@dataclass
class Census:
    """What one side's files hold (every GT file read, or every paired prediction read).

    Attributes
    ----------
    files : int
        Files read.
    shapes, spacings, orientations, dtypes : Counter
        Files per distinct shape, spacing (mm), orientation codes (``"RAS"``;
        ``"?"`` per axis without a direction) and stored dtype.
    labels : Counter of int
        Files holding each label value (background included); files that
        look like images are left out.
    """

    files: int = 0
    shapes: Counter[tuple[int, ...]] = field(default_factory=Counter)
    spacings: Counter[tuple[float, ...]] = field(default_factory=Counter)
    orientations: Counter[str] = field(default_factory=Counter)
    dtypes: Counter[str] = field(default_factory=Counter)
    labels: Counter[int] = field(default_factory=Counter)

    def add(self, volume: LabelVolume, labels: list[int] | None) -> None:
        """Count one file's geometry, dtype and (for a label map) label values."""
        self.files += 1
        self.shapes[volume.shape] += 1
        self.spacings[tuple(float(f"{s:.6g}") for s in volume.spacing_mm)] += 1
        self.orientations[orientation_codes(volume)] += 1
        self.dtypes[str(volume.meta.get("dtype", getattr(volume.labels, "dtype", "?")))] += 1
        self.labels.update(labels or ())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: each counter as a list of ``{"value": ..., "files": n}``, most common first."""
        def rows(counter: Counter[Any]) -> list[dict[str, Any]]:
            return [{"value": list(v) if isinstance(v, tuple) else v, "files": n}
                    for v, n in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))]

        return {"files": self.files, "shape": rows(self.shapes), "spacing_mm": rows(self.spacings),
                "orientation": rows(self.orientations), "dtype": rows(self.dtypes),
                "labels": [{"value": v, "files": n} for v, n in sorted(self.labels.items())]}


@dataclass
class Digest:
    """What the two folders hold, counted.

    Attributes
    ----------
    paired : int
        Cases with a prediction and a GT file.
    gt_without_pred, pred_without_gt : int
        GT cases without a prediction; predictions without a GT case.
    left_out : list of str
        Files left out beside an image with the same case id (nnU-Net's
        ``.npz`` probabilities), as ``segeval batch`` leaves them out.
    label_map : str or None
        The label map the values were checked against (``dataset.json`` in or
        beside the GT folder, or the one given).
    declared : list of int or None
        The values it declares (background, labels, region members, ignore).
    reoriented : list of str
        Cases whose prediction is the GT's grid with its axes permuted or
        flipped; scoring reorients them exactly (not a problem).
    gt, pred : Census
        What the GT files and the paired predictions hold.
    rule : str
        How the files paired when not by the plain rule (:attr:`segeval.batching.pairing.Pairing.rule`).
    """

    paired: int = 0
    gt_without_pred: int = 0
    pred_without_gt: int = 0
    left_out: list[str] = field(default_factory=list)
    label_map: str | None = None
    declared: list[int] | None = None
    reoriented: list[str] = field(default_factory=list)
    gt: Census = field(default_factory=Census)
    pred: Census = field(default_factory=Census)
    rule: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"paired": self.paired, "gt_without_pred": self.gt_without_pred,
                "pred_without_gt": self.pred_without_gt, "left_out": list(self.left_out),
                "label_map": self.label_map, "declared": self.declared, "reoriented": list(self.reoriented),
                "gt": self.gt.to_dict(), "pred": self.pred.to_dict(), "rule": self.rule}


@dataclass
class CheckResult:
    """The outcome of :func:`check_dataset`.

    Attributes
    ----------
    problems : list of Problem
        By case id; empty when the folders are ready to score.
    digest : Digest
        What the folders hold.
    notes : list of str
        What the readers said about files that are not problems (a voxel
        size of 0 read as 1 mm, bytes past the declared voxels).
    """

    problems: list[Problem] = field(default_factory=list)
    digest: Digest = field(default_factory=Digest)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``problems``, ``digest``, ``notes``."""
        return {"problems": [p.to_dict() for p in self.problems], "digest": self.digest.to_dict(),
                "notes": list(self.notes)}


def _declared(label_map: LabelMap) -> list[int]:
    values = {0, *label_map.names, *(m for _, members in label_map.regions for m in members)}
    if label_map.ignore_label is not None:
        values.add(label_map.ignore_label)
    return sorted(values)


def _not_labels(desc: dict[str, Any]) -> str | None:
    """Why a volume (as :func:`segeval.info.describe` gives it) looks like an image, or None."""
    if desc["kind"] == "soft":
        return f"{desc['dtype']} with non-integer values"
    census = desc["census"]
    if len(census) > MAX_LABEL_VALUES:
        return f"{len(census)} distinct values; a label map has at most {MAX_LABEL_VALUES}"
    lowest = census[0]["label"] if census else 0
    if lowest < LOWEST_LABEL or (lowest < 0 and len(census) > _SCORING_REFUSES):
        return f"values down to {lowest}, like CT intensities"
    return None


def _values(values: list[int]) -> str:
    shown = ", ".join(map(str, values[:_LISTED]))
    return shown + (f" ... and {len(values) - _LISTED} more" if len(values) > _LISTED else "")


class _Checker:
    """One run of :func:`check_dataset`: the result being built, and how a file is read."""

    def __init__(self, declared: list[int] | None, label_map: str | None, allow_outside_data_files: bool) -> None:
        self.result = CheckResult()
        self.declared = set(declared) if declared is not None else None
        self.label_map = label_map
        self.allow_outside = allow_outside_data_files

    def problem(self, kind: str, case: str, path: str | None, message: str) -> None:
        self.result.problems.append(Problem(kind, case, path, " ".join(message.split())))

    def read(self, case: str, path: str, census: Census) -> LabelVolume | None:
        """Read one file and count it; None (and a problem) when it cannot be read."""
        from segeval.io import read_volume

        try:
            volume = read_volume(path, allow_outside_data_files=self.allow_outside)
        except SegevalError as exc:
            self.problem("unreadable", case, path, str(exc))
            return None
        self.result.notes.extend(volume.meta.get("notes", ()))
        desc = describe(volume)
        why = _not_labels(desc)
        labels = None if why else [int(row["label"]) for row in desc["census"]]
        census.add(volume, labels)
        if why:
            self.problem("not_labels", case, path, f"{path}: looks like an image or probabilities, not a label map ({why})")
        elif self.declared is not None and labels is not None:
            outside = [v for v in labels if v not in self.declared]
            if outside:
                self.problem("outside_label_map", case, path,
                             f"{path}: value{'s' if len(outside) > 1 else ''} {_values(outside)} "
                             f"not in the label map {self.label_map} (not scored)")
        return volume

    def pair(self, case: str, pred: LabelVolume, gt: LabelVolume) -> None:
        try:
            check_same_geometry(pred, gt)
        except GeometryMismatchError as exc:
            if reorient_to(pred, gt) is None:
                self.problem("geometry", case, pred.path, str(exc))
            else:
                self.result.digest.reoriented.append(case)


def check_dataset(
    pred_dir: str | os.PathLike[str],
    gt_dir: str | os.PathLike[str],
    *,
    pattern: str | None = None,
    pred_suffix: str | None = None,
    recursive: bool = False,
    case_regex: str | None = None,
    label_names: str | os.PathLike[str] | None = None,
    allow_outside_data_files: bool = False,
    progress: Callable[[str], None] | None = None,
) -> CheckResult:
    """Check two folders of label volumes before scoring them: one problem per thing a batch would trip over.

    Parameters
    ----------
    pred_dir, gt_dir : path
        The folders ``segeval batch`` would be given; cases pair as it pairs them.
    pattern, pred_suffix, recursive, case_regex
        How files pair, as :func:`segeval.batching.pairing.pair_cases` (and
        ``segeval batch``) take them.
    label_names : path, optional
        Label map to check values against, instead of a ``dataset.json`` in
        or beside the GT folder.
    allow_outside_data_files : bool
        Read a detached MetaImage/NRRD header's data files outside its folder.
    progress : callable, optional
        Called with each case id once the case is checked.

    Returns
    -------
    CheckResult
        ``problems`` by case id (see :data:`PROBLEM_KINDS`), predictions
        without a GT case last; ``digest``; ``notes``.

    Raises
    ------
    InputError
        A folder is missing, the GT folder holds no volume, or two files of a
        folder have the same case id (as ``segeval batch`` refuses them).
    LabelSpecError
        The label map cannot be read.

    Notes
    -----
    Every GT file and every paired prediction is read whole (the label census
    needs the voxels), one case at a time; predictions without a GT case are
    listed, not read. A prediction whose grid is the GT's with its axes
    permuted or flipped is not a problem: scoring reorients it exactly
    (:func:`segeval.volume.reorient_to`); the digest lists such cases.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from segeval.io import write_volume
    >>> top = tempfile.mkdtemp(); p, g = os.path.join(top, "pred"), os.path.join(top, "gt")
    >>> os.mkdir(p); os.mkdir(g)
    >>> _ = write_volume(os.path.join(p, "a.nii.gz"), np.ones((2, 2, 2), np.uint8))
    >>> _ = write_volume(os.path.join(g, "a.nii.gz"), np.ones((2, 2, 2), np.uint8), spacing_mm=(1, 1, 2))
    >>> result = check_dataset(p, g)
    >>> [(x.kind, x.case) for x in result.problems], result.digest.paired
    ([('geometry', 'a')], 1)
    """
    pairing = pair_cases(pred_dir, gt_dir, pattern=pattern, pred_suffix=pred_suffix, recursive=recursive,
                         case_regex=case_regex)
    map_path = Path(label_names) if label_names is not None else find_dataset_json(gt_dir)
    label_map = read_label_map(map_path) if map_path is not None else None
    checker = _Checker(_declared(label_map) if label_map else None, str(map_path) if map_path else None,
                       allow_outside_data_files)
    digest = checker.result.digest
    digest.paired, digest.gt_without_pred = len(pairing.matched), len(pairing.missing_pred)
    digest.rule = pairing.rule
    digest.pred_without_gt, digest.left_out = len(pairing.extra_pred), list(pairing.shadowed)
    digest.label_map, digest.declared = checker.label_map, _declared(label_map) if label_map else None
    for task in sorted([*pairing.matched, *pairing.missing_pred], key=lambda t: t.case):
        gt = checker.read(task.case, task.gt, digest.gt)
        if task.pred is None:
            checker.problem("no_prediction", task.case, task.gt,
                            f"{task.gt}: no prediction in {pred_dir} has case id {task.case!r}")
        else:
            pred = checker.read(task.case, task.pred, digest.pred)
            if pred is not None and gt is not None:
                checker.pair(task.case, pred, gt)
            del pred
        del gt  # one case in memory at a time
        if progress is not None:
            progress(task.case)
    from segeval.io import case_id

    for path in pairing.extra_pred:
        checker.problem("no_gt", case_id(path), path, f"{path}: no GT file in {gt_dir} has case id {case_id(path)!r}")
    return checker.result
