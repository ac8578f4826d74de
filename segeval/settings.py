"""Every option that changes a number, in one frozen object built and checked in one place.

:func:`build_settings` is the only way options become a :class:`ScoreSettings`:
``segeval score``, ``segeval batch`` and :func:`segeval.score` all call it,
with command-line text (``"liver=1,2"``, ``"0.8,0.8,2.5"``) or Python values
(a mapping, a tuple), so a run gives the same numbers whichever door it came
in by. Every value is checked once, here, before any case is read; a bad one
is an :class:`~segeval.errors.OptionError` (or
:class:`~segeval.errors.LabelSpecError`) naming the option.

A report records the settings as :meth:`ScoreSettings.to_dict`; readers turn
that dict back with :meth:`ScoreSettings.from_dict`, which is where the
defaults of an older or hand-written report are filled in.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from segeval.errors import LabelSpecError, OptionError
from segeval.labels import (
    LabelMap,
    LabelSpec,
    check_label,
    label_map_from_names,
    parse_labels,
    parse_region,
    read_label_map,
)
from segeval.lesions.protocols import LESION_METRICS, LesionSettings
from segeval.metrics._checks import (
    check_empty,
    check_percentile,
    check_smooth,
    check_spacing,
    check_tolerance,
    check_weights,
)
from segeval.metrics.registry import METRICS, OVERLAP_DEFAULT, parse_metrics
from segeval.metrics.surfels import check_surface_weights

__all__ = ["ScoreSettings", "build_settings", "parse_inf_distance", "parse_spacing"]


@dataclass(frozen=True)
class ScoreSettings:
    """Every option that changes a number (recorded in each report's ``settings``).

    Build it with :func:`build_settings`; constructing it directly checks the
    same rules.

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
        Voxel spacing of both volumes, replacing what their files say (and
        the 1 mm assumed for ``.npy``/``.npz``, which carry none).
    inf_distance : str or float or None
        Replacement for infinite distances (one mask empty): ``"diagonal"``
        (the image diagonal in mm), a number, or None to keep ``inf``.
    lesions : LesionSettings or None
        ``--lesions PROTOCOL`` and its overrides (:mod:`segeval.lesions`);
        recorded as ``settings["lesions"]`` only when given.
    surface_weights : {"voxels", "area"}
        How the distance metrics weigh the surface: boundary voxels alike, or
        DeepMind's surface elements by their areas
        (:mod:`segeval.metrics.surfels`); recorded only when ``"area"``.
    """

    spec: LabelSpec = field(default_factory=LabelSpec)
    metrics: tuple[str, ...] = OVERLAP_DEFAULT
    alpha: float = 0.3
    beta: float = 0.7
    smooth: float = 0.0
    empty: str = "nan"
    tolerance_mm: float = 1.0
    percentile: float = 95.0
    spacing_mm: tuple[float, ...] | None = None
    inf_distance: str | float | None = None
    lesions: LesionSettings | None = None
    surface_weights: str = "voxels"

    def __post_init__(self) -> None:
        check_empty(self.empty)
        check_surface_weights(self.surface_weights)
        check_weights(self.alpha, self.beta)
        check_smooth(self.smooth)
        check_tolerance(self.tolerance_mm)
        check_percentile(self.percentile)
        if self.spacing_mm is not None:
            check_spacing(self.spacing_mm)
        parse_inf_distance(self.inf_distance)
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown:
            parse_metrics(unknown)  # raises, naming the metric

    @property
    def surface_metrics(self) -> tuple[str, ...]:
        """The requested distance metrics."""
        return tuple(m for m in self.metrics if METRICS[m].kind == "surface")

    @property
    def overlap_metrics(self) -> tuple[str, ...]:
        """The requested overlap metrics."""
        return tuple(m for m in self.metrics if METRICS[m].kind == "overlap")

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
        if self.lesions is not None:
            out["lesions"] = self.lesions.to_dict()
        if self.surface_weights != "voxels":  # absent means voxels: reports before it read the same
            out["surface_weights"] = self.surface_weights
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> ScoreSettings:
        """The settings a report records (:meth:`to_dict`), with defaults for what it leaves out.

        Examples
        --------
        >>> ScoreSettings.from_dict({"alpha": 0.5}).beta
        0.7
        """
        d = d or {}
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {k: d[k] for k in known - {"spec", "metrics", "spacing_mm", "lesions"} if k in d}
        kwargs["lesions"] = LesionSettings.from_dict(d.get("lesions"))
        if "metrics" in d:
            kwargs["metrics"] = tuple(m for m in d["metrics"] if m in METRICS)
        if d.get("spacing_mm") is not None:
            kwargs["spacing_mm"] = tuple(float(s) for s in d["spacing_mm"])
        kwargs["spec"] = LabelSpec(
            labels=tuple(d["labels"]) if d.get("labels") is not None else None,
            names={int(k): str(v) for k, v in (d.get("label_names") or {}).items()},
            regions=tuple((str(k), tuple(int(m) for m in v)) for k, v in (d.get("regions") or {}).items()),
            ignore_label=d.get("ignore_label"),
            include_background=bool(d.get("include_background", False)),
            label_map=d.get("label_map"),
        )
        return cls(**kwargs)


def parse_spacing(value: str | Sequence[float] | None) -> tuple[float, ...] | None:
    """``--spacing``: ``"0.8,0.8,2.5"`` (or ``0.8x0.8x2.5``) or numbers -> a tuple of mm.

    Examples
    --------
    >>> parse_spacing("0.8x0.8x2.5")
    (0.8, 0.8, 2.5)
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = [float(v) for v in value.replace("x", ",").split(",") if v.strip()]
        except ValueError:
            raise OptionError(f"--spacing: {value!r} is not a list of numbers like 0.8,0.8,2.5") from None
    return check_spacing(value)


def parse_inf_distance(value: str | float | None) -> str | float | None:
    """``--inf-distance``: ``"diagonal"``, a number of mm >= 0 (or its text), or None."""
    if value is None or value == "diagonal":
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"--inf-distance: 'diagonal' or a number of mm, got {value!r}") from None
    if not (math.isfinite(number) and number >= 0):
        raise OptionError(f"--inf-distance: must be a finite number >= 0 mm, got {value!r}")
    return number


def _whole(value: Any, option: str) -> int:
    """A label given as a Python value: an int, a NumPy integer or a float with no fraction (``2.0``).

    ``True``, ``1.5`` or ``"1"`` would be truncated or misread, so they are refused.
    """
    if isinstance(value, (bool, np.bool_)):
        raise LabelSpecError(f"{option}: {value!r} is not a whole number")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    raise LabelSpecError(f"{option}: {value!r} is not a whole number")


def _labels(
    labels: str | Sequence[int] | Mapping[str, int] | None, known: Mapping[int, str],
) -> tuple[tuple[int, ...] | None, dict[int, str]]:
    """``--labels`` text, a sequence of numbers or a name -> number mapping: (labels, names).

    Text goes through :func:`segeval.labels.parse_labels`; Python values are
    checked by the same rules (whole numbers, no label twice, no numeric name).
    """
    if labels is None:
        return None, {}
    if isinstance(labels, str):
        return parse_labels(labels, known)
    pairs = list(labels.items()) if isinstance(labels, Mapping) else [(None, v) for v in labels]
    numbers: list[int] = []
    names: dict[int, str] = {}
    for name, value in pairs:
        number = check_label(_whole(value, "--labels"), "--labels")
        if number in numbers:
            raise LabelSpecError(f"--labels: label {number} is listed twice")
        if name is not None:
            if not str(name).strip() or str(name).strip().lstrip("-").isdigit():
                raise LabelSpecError(f"--labels: the name {name!r} must be a non-empty name, not a number")
            names[number] = str(name).strip()
        numbers.append(number)
    return tuple(numbers), names


def _regions(regions: Sequence[str] | Mapping[str, Sequence[int]] | None) -> list[tuple[str, tuple[int, ...]]]:
    """``--region NAME=1,2`` texts, or a name -> members mapping, parsed by one rule."""
    if regions is None:
        return []
    if isinstance(regions, Mapping):
        texts = [f"{name}={','.join(str(m) for m in members)}" for name, members in regions.items()]
    else:
        texts = list(regions)
    return [parse_region(t) for t in texts]


def _real(value: Any, option: str) -> float:
    """A number as a float (so a report says 1.0 whether it came from the CLI or the API)."""
    if isinstance(value, bool):
        raise OptionError(f"{option}: expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{option}: expected a number, got {value!r}") from None


def label_set(
    *,
    labels: str | Sequence[int] | Mapping[str, int] | None = None,
    label_names: str | os.PathLike[str] | Mapping[int, str] | None = None,
    regions: Sequence[str] | Mapping[str, Sequence[int]] | None = None,
    ignore_label: int | None = None,
    include_background: bool = False,
    dataset_json: str | os.PathLike[str] | None = None,
) -> LabelSpec:
    """The one label set of a run, decided before any case is scored.

    Precedence (DESIGN.md "Which classes are scored"):

    1. ``labels`` (``--labels``: numbers, ``NAME=NUMBER``, or names looked up
       in the label map; ``"none"`` for the regions only) plus ``regions``;
    2. else a label map (``label_names``, or else the ``dataset_json`` found
       beside the ground truth): exactly its foreground labels, or, when it
       defines regions, exactly its regions (nnU-Net's rule), plus ``regions``;
    3. else every label > 0 found in the cases.

    A label map's ``"ignore"`` entry is the ignore label unless
    ``ignore_label`` is given, and its names name the rows in every case.

    Parameters
    ----------
    labels : str, sequence of int or mapping of name to int, optional
        ``"1,2,3"``, ``"liver=1,spleen=2"``, ``"liver,spleen"``, ``"none"``,
        ``[1, 2]`` or ``{"liver": 1}``.
    label_names : path or mapping of int to str, optional
        ``--label-names``: a JSON, CSV or nnU-Net ``dataset.json`` file, or
        names by label number (which declare those labels).
    regions : sequence of str or mapping of name to labels, optional
        ``--region``: ``["WT=1,2,3"]`` or ``{"WT": [1, 2, 3]}``; a region
        named here replaces a label map's region of the same name.
    ignore_label : int, optional
        Ground-truth value whose voxels are excluded from every count.
    include_background : bool
        Also score label 0.
    dataset_json : path, optional
        An nnU-Net ``dataset.json`` found beside the ground truth, used when
        ``label_names`` is not given.

    Raises
    ------
    LabelSpecError
        A label or region name given twice, a region or label name shared by
        two classes, an unknown name, nothing left to score.

    Examples
    --------
    >>> label_set(labels="liver=1,2", regions=["both=1,2"]).regions
    (('both', (1, 2)),)
    >>> label_set(label_names={1: "liver", 2: "spleen"}).labels
    (1, 2)
    """
    source = label_names if label_names is not None else dataset_json
    label_map: LabelMap | None = None
    if isinstance(source, Mapping):
        label_map = label_map_from_names(source) if source else None
    elif source is not None:
        label_map = read_label_map(source)
    names: dict[int, str] = dict(label_map.names) if label_map is not None else {}
    asked = _regions(regions)
    seen: set[str] = set()
    for name, _ in asked:
        if name in seen:
            raise LabelSpecError(f"--region: the region {name!r} is given twice")
        seen.add(name)
    from_map: str | None = None
    if labels is not None:
        label_tuple, given_names = _labels(labels, names)
        names.update(given_names)
        chosen = asked
    elif label_map is not None:
        from_map = label_map.path
        label_tuple = label_map.labels
        merged = dict(label_map.regions)
        merged.update(asked)  # a region given as an option replaces the map's
        chosen = list(merged.items())
    else:
        label_tuple = None
        chosen = asked
    if ignore_label is None and label_map is not None:
        ignore_label = label_map.ignore_label
    if ignore_label is not None:
        ignore_label = check_label(_whole(ignore_label, "--ignore-label"), "--ignore-label")
    if label_tuple == () and not chosen and not include_background:
        if from_map is not None:
            raise LabelSpecError(f"{from_map}: the label map declares no foreground label or region to score")
        raise LabelSpecError("--labels none scores the regions only, and there is none; add --region NAME=1,2,3")
    _unique_names(label_tuple or (), names, chosen)
    return LabelSpec(
        labels=label_tuple,
        names=names,
        regions=tuple(chosen),
        ignore_label=int(ignore_label) if ignore_label is not None else None,
        include_background=bool(include_background),
        label_map=from_map,
    )


def _unique_names(labels: Sequence[int], names: Mapping[int, str], regions: Sequence[tuple[str, Any]]) -> None:
    """A row's name must say which row it is: no two scored classes share one (``gate`` takes names)."""
    owner: dict[str, str] = {}
    for what, name in [*((f"label {v}", names[v]) for v in labels if v in names),
                       *((f"region {n!r}", n) for n, _ in regions)]:
        if name in owner and owner[name] != what:
            raise LabelSpecError(f"the name {name!r} is given to {owner[name]} and to {what}; rename one")
        owner.setdefault(name, what)


def build_settings(
    *,
    labels: str | Sequence[int] | Mapping[str, int] | None = None,
    label_names: str | os.PathLike[str] | Mapping[int, str] | None = None,
    regions: Sequence[str] | Mapping[str, Sequence[int]] | None = None,
    ignore_label: int | None = None,
    include_background: bool = False,
    metrics: str | Sequence[str] | None = None,
    alpha: float = 0.3,
    beta: float = 0.7,
    smooth: float = 0.0,
    empty: str = "nan",
    tolerance_mm: float = 1.0,
    percentile: float = 95.0,
    spacing_mm: str | Sequence[float] | None = None,
    inf_distance: str | float | None = None,
    dataset_json: str | os.PathLike[str] | None = None,
    lesions: str | LesionSettings | None = None,
    surface_weights: str = "voxels",
) -> ScoreSettings:
    """The one builder of :class:`ScoreSettings`, for the CLI and the Python API alike.

    Parameters
    ----------
    labels, label_names, regions, ignore_label, include_background, dataset_json
        Which classes are scored: see :func:`label_set`.
    metrics : str or sequence of str, optional
        ``"dice,hd95"``, ``"all"``, ``"surface"`` or a list; default the overlap set.
    alpha, beta, smooth, empty, tolerance_mm, percentile, spacing_mm, inf_distance
        See :class:`ScoreSettings`; ``spacing_mm`` and ``inf_distance`` also
        take their command-line text.
    lesions : str or LesionSettings, optional
        ``--lesions``: a protocol name or the settings with overrides; adds the
        lesion-wise keys (:data:`~segeval.lesions.protocols.LESION_METRICS`) to the metrics.
    surface_weights : {"voxels", "area"}, default "voxels"
        ``--surface-weights``: see :class:`ScoreSettings`.

    Returns
    -------
    ScoreSettings

    Examples
    --------
    >>> s = build_settings(labels="liver=1,2", regions=["both=1,2"], spacing_mm="1,1,2")
    >>> s.spec.labels, s.spec.names, s.spec.regions, s.spacing_mm
    ((1, 2), {1: 'liver'}, (('both', (1, 2)),), (1.0, 1.0, 2.0))
    """
    spec = label_set(labels=labels, label_names=label_names, regions=regions, ignore_label=ignore_label,
                     include_background=include_background, dataset_json=dataset_json)
    lesion_settings = LesionSettings(str(lesions).strip().lower()) if isinstance(lesions, str) else lesions
    if lesion_settings is not None and metrics is not None:  # named lesion metrics come with --lesions
        names = metrics.split(",") if isinstance(metrics, str) else list(metrics)
        metrics = [n for n in names if n.strip().lower() not in LESION_METRICS] or None
    chosen = parse_metrics(metrics)
    if lesion_settings is not None:
        chosen = (*(m for m in chosen if m not in LESION_METRICS), *LESION_METRICS)
    return ScoreSettings(
        spec=spec,
        metrics=chosen,
        alpha=_real(alpha, "--alpha"),
        beta=_real(beta, "--beta"),
        smooth=_real(smooth, "--smooth"),
        empty=empty,
        tolerance_mm=_real(tolerance_mm, "--tolerance"),
        percentile=_real(percentile, "--percentile"),
        spacing_mm=parse_spacing(spacing_mm),
        inf_distance=parse_inf_distance(inf_distance),
        lesions=lesion_settings,
        surface_weights=check_surface_weights(str(surface_weights).strip().lower()),
    )
