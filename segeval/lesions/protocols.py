"""The lesion-wise protocols segeval reproduces, their parameters, and the per-class rules they resolve to.

A protocol names how connected components become lesions and how predicted
components are matched to them; each one reproduces an official code base
(see the README's "Lesion-wise metrics"):

``brats2023`` (``-men``, ``-met``)
    rachitsaluja/BraTS-2023-Metrics ``metrics.py``: GT components closer than
    the dilation merge; every predicted component touching a dilated lesion
    is its prediction (many-to-many); GT lesions of at most the threshold
    volume drop out; FP of any size; HD95 penalty 374 mm.
``brats2024``
    rachitsaluja/BraTS-2024-Metrics ``metrics_GLI.py``, every region it
    reports (WT, TC and the single labels NETC 1, SNFH 2, ET 3, RC 4): the
    same, with the prediction merged by dilation too and predicted lesions at
    or under the threshold deleted before matching; thresholds 10 (label 3,
    ET) and 20 voxels; dilation 5 for labels 1 (NETC) and 4 (RC), else 3;
    penalty 337. The single labels 1-4 are then relabelled against the other
    sub-regions as the official code does: lesions whose first touching
    lesion of a partner label is the same become one
    (:mod:`segeval.lesions.brats2024`; needs the label maps, which
    ``lesion_metrics`` and ``segeval.score`` pass).
``panoptica``
    panoptica's MaxBipartiteMatching on Dice (any overlap), one to one, no
    dilation, as BraTS 2025 configures it; lesion Dice/HD95 are means over
    matched pairs.
``iou``
    One-to-one matching at IoU > 0.5 (panoptic quality).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from segeval.errors import OptionError

__all__ = ["CONNECTIVITIES", "LESION_METRICS", "PROTOCOLS", "ClassRules", "LesionSettings", "parse_lesions"]

#: Every protocol, with the one-line rule ``--help`` and the README give.
PROTOCOLS: dict[str, str] = {
    "brats2023": "BraTS 2023 GLI/SSA/PED: GT merged by 3 dilations, GT lesions <= 50 mm3 dropped, penalty 374",
    "brats2023-men": "BraTS 2023 MEN: as brats2023 with 1 dilation",
    "brats2023-met": "BraTS 2023 MET: 1 dilation, GT lesions <= 2 mm3 dropped",
    "brats2024": ("BraTS 2024 GLI: GT and prediction merged by dilation, small predictions deleted, "
                  "labels 1-4 joined across touching sub-regions, penalty 337"),
    "panoptica": "panoptica (BraTS 2025): one-to-one maximum matching on Dice, any overlap",
    "iou": "one-to-one matching at IoU > 0.5 (panoptic quality)",
}

#: The keys each scored class gets with ``--lesions``, in report order.
LESION_METRICS: tuple[str, ...] = (
    "lesion_dice", "lesion_hd95", "lesion_tp", "lesion_fp", "lesion_fn",
    "lesion_recall", "lesion_precision", "lesion_f1", "sq", "pq",
)

#: ``--lesion-connectivity`` values (3-D neighbourhoods; 2-D images use 4 for 6, else 8).
CONNECTIVITIES: tuple[int, ...] = (6, 18, 26)

_BRATS = ("brats2023", "brats2023-men", "brats2023-met", "brats2024")


@dataclass(frozen=True)
class ClassRules:
    """What a protocol does for one scored class, every parameter resolved.

    Attributes
    ----------
    matching : {"brats", "bipartite"}
        BraTS's dilation-touch matching, or one-to-one maximum matching.
    dilation : int
        Iterations of the 18-connected cross (brats matching only).
    min_volume_mm3 : float
        GT lesions of at most this volume drop out (brats matching only).
    merge_pred : bool
        Predicted components are merged by dilation too (brats2024).
    delete_small_pred : bool
        Predicted lesions of at most ``min_volume_mm3`` are deleted before matching (brats2024).
    penalty_mm : float
        HD95 of a missed lesion or a false positive; inf keeps it infinite.
    metric : {"dice", "iou"}
        Score maximised by bipartite matching.
    threshold : float
        A pair is matchable when its score beats this (``>=`` for dice, ``>`` for iou).
    hd95 : {"deepmind", "pooled"}
        BraTS's DeepMind surfel HD95, or panoptica's pooled voxel HD95.
    """

    matching: str
    dilation: int = 0
    min_volume_mm3: float = 0.0
    merge_pred: bool = False
    delete_small_pred: bool = False
    penalty_mm: float = math.inf
    metric: str = "dice"
    threshold: float = 0.0
    hd95: str = "pooled"


@dataclass(frozen=True)
class LesionSettings:
    """``--lesions PROTOCOL`` and its overrides (recorded in the report's settings).

    Attributes
    ----------
    protocol : str
        One of :data:`PROTOCOLS`.
    connectivity : int
        Component connectivity: 6, 18 or 26 (default 26, as BraTS and panoptica).
    dilation : int or None
        ``--lesion-dilation``: replaces the protocol's dilation iterations.
    min_volume_mm3 : float or None
        ``--lesion-min-volume``: replaces the protocol's GT size threshold.
    penalty_mm : float or None
        ``--lesion-penalty-mm``: replaces the HD95 of a miss or a false positive.
    iou_threshold : float or None
        ``--lesion-iou``: the ``iou`` protocol's threshold (default 0.5).
    maps_dir : str or None
        ``--lesion-maps``: folder for per-case lesion maps (an output, not recorded).
    """

    protocol: str
    connectivity: int = 26
    dilation: int | None = None
    min_volume_mm3: float | None = None
    penalty_mm: float | None = None
    iou_threshold: float | None = None
    maps_dir: str | None = None

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise OptionError(f"--lesions: unknown protocol {self.protocol!r}; use one of {', '.join(PROTOCOLS)}")
        if self.connectivity not in CONNECTIVITIES:
            raise OptionError(f"--lesion-connectivity: 6, 18 or 26, got {self.connectivity!r}")
        if self.dilation is not None and (isinstance(self.dilation, bool) or not isinstance(self.dilation, int)
                                          or self.dilation < 0):
            raise OptionError(f"--lesion-dilation: a whole number of iterations >= 0, got {self.dilation!r}")
        if self.min_volume_mm3 is not None and not (math.isfinite(self.min_volume_mm3) and self.min_volume_mm3 >= 0):
            raise OptionError(f"--lesion-min-volume: a volume in mm3 >= 0, got {self.min_volume_mm3!r}")
        if self.penalty_mm is not None and not self.penalty_mm >= 0:
            raise OptionError(f"--lesion-penalty-mm: a distance in mm >= 0 (or inf), got {self.penalty_mm!r}")
        if self.iou_threshold is not None and not 0 <= self.iou_threshold < 1:
            raise OptionError(f"--lesion-iou: a threshold in [0, 1), got {self.iou_threshold!r}")
        if self.protocol not in _BRATS:
            bad = [o for o, v in (("--lesion-dilation", self.dilation), ("--lesion-min-volume", self.min_volume_mm3))
                   if v is not None]
            if bad:
                raise OptionError(f"{bad[0]}: applies to the brats protocols only, not --lesions {self.protocol}")
        if self.iou_threshold is not None and self.protocol != "iou":
            raise OptionError(f"--lesion-iou: applies to --lesions iou only, not --lesions {self.protocol}")

    def rules(self, members: Sequence[int]) -> ClassRules:
        """The resolved rules for a class made of label values ``members``.

        Examples
        --------
        >>> LesionSettings("brats2024").rules((3,)).min_volume_mm3
        10.0
        >>> LesionSettings("brats2024").rules((1, 2, 3)).dilation
        3
        """
        if self.protocol in _BRATS:
            d, t, pen = {"brats2023": (3, 50.0, 374.0), "brats2023-men": (1, 50.0, 374.0),
                         "brats2023-met": (1, 2.0, 374.0), "brats2024": (3, 20.0, 337.0)}[self.protocol]
            newer = self.protocol == "brats2024"
            if newer:
                # BraTS 2024 GLI: ET (label 3) keeps lesions over 10 voxels; NETC (1) and RC (4)
                # dilate 5 times (SNFH was meant to as well, but the official check misspells it).
                members = tuple(members)
                t = 10.0 if members == (3,) else 20.0
                d = 5 if members in ((1,), (4,)) else 3
            return ClassRules(
                matching="brats",
                dilation=self.dilation if self.dilation is not None else d,
                min_volume_mm3=self.min_volume_mm3 if self.min_volume_mm3 is not None else t,
                merge_pred=newer, delete_small_pred=newer,
                penalty_mm=self.penalty_mm if self.penalty_mm is not None else pen,
                hd95="deepmind",
            )
        penalty = self.penalty_mm if self.penalty_mm is not None else math.inf
        if self.protocol == "panoptica":
            return ClassRules(matching="bipartite", metric="dice", threshold=1e-6, penalty_mm=penalty)
        thr = self.iou_threshold if self.iou_threshold is not None else 0.5
        return ClassRules(matching="bipartite", metric="iou", threshold=thr, penalty_mm=penalty)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record for the report's settings: the protocol, connectivity and overrides
        (None: the protocol's default, which ``rules`` says in words)."""
        return {
            "protocol": self.protocol,
            "connectivity": self.connectivity,
            "dilation": self.dilation,
            "min_volume_mm3": self.min_volume_mm3,
            "penalty_mm": self.penalty_mm,
            "iou_threshold": self.iou_threshold,
            "rules": PROTOCOLS[self.protocol],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> LesionSettings | None:
        """Inverse of :meth:`to_dict` (None for a report scored without ``--lesions``)."""
        if not d:
            return None
        return cls(protocol=str(d["protocol"]), connectivity=int(d.get("connectivity", 26)),
                   dilation=d.get("dilation"), min_volume_mm3=_float_or_none(d.get("min_volume_mm3")),
                   penalty_mm=_float_or_none(d.get("penalty_mm")), iou_threshold=_float_or_none(d.get("iou_threshold")))


def _float_or_none(v: Any) -> float | None:
    return None if v is None else float(v)


def _number(value: Any, option: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise OptionError(f"{option}: expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{option}: expected a number, got {value!r}") from None


def parse_lesions(
    protocol: str | None,
    *,
    connectivity: int | str | None = None,
    dilation: int | str | None = None,
    min_volume_mm3: float | str | None = None,
    penalty_mm: float | str | None = None,
    iou_threshold: float | str | None = None,
    maps_dir: str | None = None,
) -> LesionSettings | None:
    """Command-line or Python values of the ``--lesion*`` options -> :class:`LesionSettings` (None without a protocol).

    Raises
    ------
    OptionError
        An unknown protocol, an override that protocol does not take, or a bad value;
        an override given without ``--lesions``.

    Examples
    --------
    >>> parse_lesions("brats2023", dilation="1").rules((1, 2, 3)).dilation
    1
    """
    if protocol is None:
        given = [o for o, v in (("--lesion-connectivity", connectivity), ("--lesion-dilation", dilation),
                                ("--lesion-min-volume", min_volume_mm3), ("--lesion-penalty-mm", penalty_mm),
                                ("--lesion-iou", iou_threshold), ("--lesion-maps", maps_dir)) if v is not None]
        if given:
            raise OptionError(f"{given[0]}: needs --lesions PROTOCOL ({', '.join(PROTOCOLS)})")
        return None
    conn = 26
    if connectivity is not None:
        c = _number(connectivity, "--lesion-connectivity")
        if c is None or not float(c).is_integer():
            raise OptionError(f"--lesion-connectivity: 6, 18 or 26, got {connectivity!r}")
        conn = int(c)
    dil: int | None = None
    if dilation is not None:
        dv = _number(dilation, "--lesion-dilation")
        if dv is None or not float(dv).is_integer():
            raise OptionError(f"--lesion-dilation: a whole number of iterations >= 0, got {dilation!r}")
        dil = int(dv)
    return LesionSettings(
        protocol=str(protocol).strip().lower(), connectivity=conn, dilation=dil,
        min_volume_mm3=_number(min_volume_mm3, "--lesion-min-volume"),
        penalty_mm=_number(penalty_mm, "--lesion-penalty-mm"),
        iou_threshold=_number(iou_threshold, "--lesion-iou"),
        maps_dir=maps_dir,
    )
