"""The records every layer passes around: one scored class, one case; their strict-JSON encoding.

Plain data at the bottom of the package: nothing here computes a metric,
reads a file or prints. :class:`CaseResult` is what scoring one case gives
(:func:`segeval.scoring.score_case`), what a batch streams to its journal and
what every report reader gives back (:mod:`segeval.report.reading`);
:class:`segeval.summary.Report` gathers them with the settings.

JSON is strict (RFC 8259): :func:`jsonable` writes NaN as ``null`` and the
infinities as the strings ``"inf"``/``"-inf"``; :func:`decode_number` reads
them back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, TypeAlias

__all__ = ["NOT_NUMBERS", "REPORT_FORMAT", "CaseResult", "CaseTask", "ClassRecord", "decode_number", "jsonable"]

#: One scored class of one case, as a dict (the JSON shape of DESIGN.md's ``labels`` entries):
#:
#: * ``label``: the label number (int) or the region's name (str);
#: * ``name``: the class's name, or None;
#: * ``members``: a region's label numbers (regions only);
#: * one float per requested metric (``dice``, ``hd95``, ...; NaN when undefined, inf for a
#:   distance to an empty mask);
#: * ``tp``, ``fp``, ``fn``, ``tn`` (int voxel counts) and ``vol_pred_ml``, ``vol_gt_ml`` (float).
#:
#: A dict rather than a class because its metric keys are chosen per run (``--metrics``).
ClassRecord: TypeAlias = dict[str, Any]

#: The layout of JSON and JSON Lines reports (``report_format``); a reader refuses another one.
REPORT_FORMAT = 1

#: Keys of a :data:`ClassRecord` that are not numbers (never decoded as NaN or inf).
NOT_NUMBERS = frozenset({"label", "name", "members"})


@dataclass(frozen=True)
class CaseTask:
    """One case to score: its id and its two files.

    Attributes
    ----------
    case : str
        Case id (file name minus its volume suffix and a trailing ``_0000``).
    pred : str or None
        Prediction file; None when the case has none (see ``--missing``).
    gt : str
        Ground-truth file.
    """

    case: str
    pred: str | None
    gt: str


@dataclass
class CaseResult:
    """Scores of one case.

    Attributes
    ----------
    case : str
        Case id.
    pred, gt : str or None
        Input paths (None for arrays, or a prediction that was missing).
    shape, spacing : list
        Ground-truth grid (spacing in mm, as used for the numbers).
    labels : list of ClassRecord
        One record per scored class.
    error : str or None
        Why the case could not be scored (one line), else None.
    generalized_dice : float
        Sudre et al.'s class-weighted Dice over the plain labels of the case.
    notes : list of str
        Warnings about the case (e.g. spacing assumed).
    voxels : int or None
        Voxels counted (those of the ignore label left out): each class's
        TP + FP + FN + TN. None when the report did not record it (CSV).
    unscored : list of int
        Values present in the case but outside the run's label map, so not scored.
    lesion_records : list of dict
        With ``--lesions``: one row per GT lesion and false-positive component
        (:func:`segeval.lesions.outputs.lesion_hook`); in memory only, not in the JSON.

    Examples
    --------
    >>> c = CaseResult("a", labels=[{"label": 1, "name": None, "dice": float("nan")}])
    >>> CaseResult.from_dict(jsonable(c.to_dict())).labels[0]["dice"]
    nan
    """

    case: str
    pred: str | None = None
    gt: str | None = None
    shape: list[int] = field(default_factory=list)
    spacing: list[float] = field(default_factory=list)
    labels: list[ClassRecord] = field(default_factory=list)
    error: str | None = None
    generalized_dice: float = float("nan")
    notes: list[str] = field(default_factory=list)
    voxels: int | None = None
    unscored: list[int] = field(default_factory=list)
    lesion_records: list[dict[str, Any]] = field(default_factory=list, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict (non-finite numbers still as floats; see :func:`jsonable`)."""
        return {
            "case": self.case,
            "pred": self.pred,
            "gt": self.gt,
            "shape": list(self.shape),
            "spacing": list(self.spacing),
            "error": self.error,
            "generalized_dice": self.generalized_dice,
            "notes": list(self.notes),
            "voxels": self.voxels,
            "unscored_labels": list(self.unscored),
            "labels": [dict(r) for r in self.labels],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CaseResult:
        """Inverse of :meth:`to_dict`; accepts the strict-JSON encodings of NaN and inf.

        Only numeric fields are decoded: a null ``name`` stays None (not NaN),
        and a region named ``"inf"`` stays a name.
        """
        return cls(
            case=str(d["case"]),
            pred=d.get("pred"),
            gt=d.get("gt"),
            shape=list(d.get("shape") or []),
            spacing=list(d.get("spacing") or []),
            labels=[
                {k: (v if k in NOT_NUMBERS else decode_number(v)) for k, v in r.items()}
                for r in d.get("labels") or []
            ],
            error=d.get("error"),
            generalized_dice=decode_number(d.get("generalized_dice")),
            notes=list(d.get("notes") or []),
            voxels=d.get("voxels"),
            unscored=[int(v) for v in d.get("unscored_labels") or []],
        )


def decode_number(v: Any) -> Any:
    """Strict-JSON value back to Python: None -> NaN, ``"inf"``/``"-inf"`` -> the float infinities.

    Examples
    --------
    >>> decode_number(None), decode_number("inf"), decode_number(0.5)
    (nan, inf, 0.5)
    """
    if v is None:
        return float("nan")
    if v == "inf":
        return float("inf")
    if v == "-inf":
        return float("-inf")
    return v


def jsonable(obj: Any) -> Any:
    """Replace NaN by None and infinities by the strings ``"inf"``/``"-inf"``, recursively (RFC 8259).

    Examples
    --------
    >>> jsonable({"a": [float("nan"), float("-inf"), 1.5]})
    {'a': [None, '-inf', 1.5]}
    """
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # NumPy scalars
        return jsonable(obj.item())
    return obj
