"""The report data model and its JSON shape (DESIGN.md "Output schema").

A :class:`Report` holds the settings and one :class:`CaseResult` per case;
``to_dict()`` is the strict-JSON shape (NaN -> null, inf -> "inf") that
``gate`` reads back, and ``to_frame()`` a tidy pandas DataFrame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from segeval._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


@dataclass
class CaseResult:
    """Scores of one case.

    Attributes
    ----------
    case : str
        Case id.
    pred, gt : str or None
        Input paths (None for arrays).
    shape, spacing : list
        Ground-truth grid.
    labels : list of dict
        One record per scored class: ``label``, ``name``, each metric, counts, volumes.
    error : str or None
        Why the case could not be scored (batch), else None.
    generalized_dice : float
        Sudre et al.'s class-weighted Dice over the plain labels of the case.
    notes : list of str
        Warnings about the case (e.g. spacing assumed).
    """

    case: str
    pred: str | None = None
    gt: str | None = None
    shape: list[int] = field(default_factory=list)
    spacing: list[float] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    generalized_dice: float = float("nan")
    notes: list[str] = field(default_factory=list)

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
            "labels": [dict(r) for r in self.labels],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CaseResult:
        """Inverse of :meth:`to_dict` (accepts the strict-JSON encodings)."""
        return cls(
            case=str(d["case"]),
            pred=d.get("pred"),
            gt=d.get("gt"),
            shape=list(d.get("shape") or []),
            spacing=list(d.get("spacing") or []),
            # Fix (tests): only numeric fields are decoded; a null "name" came back as NaN
            # (and a region named "inf" as a float).
            labels=[
                {k: (v if k in _NOT_NUMBERS else decode_number(v)) for k, v in r.items()}
                for r in d.get("labels") or []
            ],
            error=d.get("error"),
            generalized_dice=decode_number(d.get("generalized_dice")),
            notes=list(d.get("notes") or []),
        )


_NOT_NUMBERS = frozenset({"label", "name", "members"})


def decode_number(v: Any) -> Any:
    """Strict-JSON value back to Python: None -> NaN, "inf"/"-inf" -> float infinities."""
    if v is None:
        return float("nan")
    if v == "inf":
        return float("inf")
    if v == "-inf":
        return float("-inf")
    return v


def jsonable(obj: Any) -> Any:
    """Replace NaN by None and infinities by the strings "inf"/"-inf", recursively (RFC 8259)."""
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


@dataclass
class Report:
    """Settings plus one result per case; what ``score`` and ``batch`` produce.

    Attributes
    ----------
    settings : dict
        Every option that changes a number.
    cases : list of CaseResult
        In input order.
    """

    settings: dict[str, Any]
    cases: list[CaseResult]

    @property
    def metrics(self) -> list[str]:
        """Metric columns, in registry order."""
        return list(self.settings.get("metrics", []))

    def summary(self) -> dict[str, Any]:
        """Per-label statistics over cases, macro and micro averages (see :mod:`segeval.summary`)."""
        from segeval.summary import summarize

        return summarize(self.cases, self.metrics, alpha=self.settings.get("alpha", 0.3),
                         beta=self.settings.get("beta", 0.7))

    def to_dict(self) -> dict[str, Any]:
        """The report as DESIGN.md's JSON shape, NaN as null and inf as "inf"."""
        out: dict[str, Any] = jsonable(
            {
                "segeval_version": __version__,
                "settings": self.settings,
                "cases": [c.to_dict() for c in self.cases],
                "summary": self.summary(),
            }
        )
        return out

    def rows(self) -> list[dict[str, Any]]:
        """Tidy rows: one per (case, label), columns case, label, name, metrics, counts."""
        cols = self.columns()
        out = []
        for c in self.cases:
            for r in c.labels:
                row = {"case": c.case, "label": r["label"], "name": r.get("name")}
                row.update({k: r.get(k, float("nan")) for k in cols})
                out.append(row)
        return out

    def columns(self) -> list[str]:
        """Metric and count columns of :meth:`rows`."""
        from segeval.metrics.registry import COUNT_COLUMNS

        return [*self.metrics, *COUNT_COLUMNS]

    def to_frame(self) -> pd.DataFrame:
        """pandas DataFrame, one row per label (and per case when there are several)."""
        import pandas as pd

        frame = pd.DataFrame(self.rows(), columns=["case", "label", "name", *self.columns()])
        if len(self.cases) == 1:
            frame = frame.drop(columns="case")
        return frame
