"""Every rule an option or an input array must meet, written once.

The settings builder (:mod:`segeval.settings`) checks a run's options with
these functions before any case is read, and the public metric functions
check their own arguments with the same ones, so a rule and its message are
the same whichever door a value comes in by. Messages name the CLI option
(``--tolerance``), which is also the keyword's meaning in the API.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np

from segeval.errors import InputError, OptionError

__all__ = [
    "EMPTY_POLICIES",
    "Array",
    "check_empty",
    "check_percentile",
    "check_smooth",
    "check_spacing",
    "check_tolerance",
    "check_weights",
    "empty_value",
    "label_array",
]

#: An array of any library the metric functions accept: NumPy, CuPy or another
#: array-API namespace (``xp`` is taken from the inputs; results come back in it).
Array: TypeAlias = Any

#: Values of ``--empty``: the score of a class absent from both volumes.
EMPTY_POLICIES: tuple[str, ...] = ("nan", "one", "zero")


def check_empty(empty: str) -> str:
    """``empty`` when it is one of :data:`EMPTY_POLICIES`, else :class:`OptionError`."""
    if empty not in EMPTY_POLICIES:
        raise OptionError(f"--empty: expected one of nan, one, zero; got {empty!r}")
    return empty


def empty_value(empty: str) -> float:
    """The score ``empty`` gives a class absent from both volumes: NaN, 1 or 0.

    ``"nan"`` is excluded from means and counted; ``"one"`` is the perfect
    score and ``"zero"`` the worst.

    Examples
    --------
    >>> empty_value("one"), empty_value("zero")
    (1.0, 0.0)
    """
    return {"nan": math.nan, "one": 1.0, "zero": 0.0}[check_empty(empty)]


def _finite_at_least_zero(value: Any) -> bool:
    return (
        isinstance(value, numbers.Real) and not isinstance(value, bool)
        and math.isfinite(value) and float(value) >= 0
    )


def check_weights(alpha: float, beta: float) -> tuple[float, float]:
    """Tversky weights: both finite and >= 0 (NaN and inf would give NaN scores)."""
    if not (_finite_at_least_zero(alpha) and _finite_at_least_zero(beta)):
        raise OptionError(f"--alpha/--beta: Tversky weights must be >= 0, got alpha={alpha}, beta={beta}")
    return float(alpha), float(beta)


def check_smooth(smooth: float) -> float:
    """Additive smoothing: finite and >= 0."""
    if not _finite_at_least_zero(smooth):
        raise OptionError(f"--smooth: must be >= 0, got {smooth}")
    return float(smooth)


def check_tolerance(tolerance_mm: float) -> float:
    """NSD tolerance in mm: finite and >= 0."""
    if not _finite_at_least_zero(tolerance_mm):
        raise OptionError(f"--tolerance (tolerance_mm): must be a finite number >= 0 mm, got {tolerance_mm!r}")
    return float(tolerance_mm)


def check_percentile(percentile: float) -> float:
    """Percentile of the HD95 family: in (0, 100]."""
    if not (isinstance(percentile, numbers.Real) and not isinstance(percentile, bool)
            and 0 < float(percentile) <= 100):
        raise OptionError(f"--percentile: must be in (0, 100], got {percentile!r}")
    return float(percentile)


def check_spacing(spacing_mm: Any, ndim: int | None = None) -> tuple[float, ...]:
    """Voxel spacing in mm: finite positive numbers, one per axis when ``ndim`` is given.

    Examples
    --------
    >>> check_spacing([0.8, 0.8, 2.5], 3)
    (0.8, 0.8, 2.5)
    """
    try:
        values = tuple(float(s) for s in np.asarray(spacing_mm, dtype=np.float64).reshape(-1))
    except (TypeError, ValueError):
        raise OptionError(f"--spacing (spacing_mm): expected numbers of mm such as 0.8,0.8,2.5; got {spacing_mm!r}") from None
    if not values or not all(math.isfinite(s) and s > 0 for s in values):
        raise OptionError(f"--spacing (spacing_mm): every value must be a finite number > 0 mm, got {values}")
    if ndim is not None and len(values) != ndim:
        raise OptionError(
            f"--spacing (spacing_mm): {len(values)} values given for {ndim}-D arrays; give one value in mm per axis"
        )
    return values


def label_array(x: Any, name: str, *, whole_floats: bool = True) -> np.ndarray:
    """``x`` as a NumPy label array (2-D or more, native byte order), or :class:`InputError` saying why not.

    Integer and boolean arrays are label maps. With ``whole_floats`` floats
    are accepted too (they must hold whole numbers, which the counting pass
    checks); without it they are refused (the boundary kernels compare
    integers). float16 becomes float32, and a non-native byte order of more
    than two bytes is made native (one copy), since the compiled kernels
    take neither; 8- and 16-bit integers are read through native views.
    """
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{name}: cannot be read as an array ({exc})") from None
    kind = arr.dtype.kind
    if kind not in ("biuf" if whole_floats else "biu"):
        what = "integers (or whole-number floats)" if whole_floats else "integers"
        hint = "" if whole_floats or kind != "f" else "; round or cast float label maps first"
        raise InputError(f"{name}: a label volume must hold {what}, got dtype {arr.dtype}{hint}")
    if arr.ndim < 2:
        raise InputError(
            f"{name}: a label volume must be 2-D or 3-D (got a {arr.ndim}-D array of shape {arr.shape})"
        )
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    elif not arr.dtype.isnative and arr.dtype.itemsize > 2:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def same_shape(pred: Any, gt: Any) -> None:
    """:class:`InputError` unless ``pred`` and ``gt`` have one shape."""
    if tuple(pred.shape) != tuple(gt.shape):
        raise InputError(f"pred and gt shapes differ: pred {tuple(pred.shape)} vs gt {tuple(gt.shape)}")


def as_classes(classes: Sequence[Any] | None, option: str) -> list[tuple[int, ...]] | None:
    """Classes as tuples of member labels: ``[1, (1, 2)]`` -> ``[(1,), (1, 2)]`` (None stays None)."""
    if classes is None:
        return None
    if isinstance(classes, (str, bytes)) or not isinstance(classes, (Sequence, np.ndarray)):
        raise OptionError(f"{option} must be a sequence of labels, got {classes!r}")
    return [members_of(c, option) for c in classes]


def members_of(cls: Any, option: str) -> tuple[int, ...]:
    """One class's member labels: an int, or a sequence of ints (a region), without repeats."""
    import operator

    try:
        if isinstance(cls, Sequence) and not isinstance(cls, str):
            members = tuple(operator.index(m) for m in cls)
        else:
            members = (operator.index(cls),)
    except TypeError:
        raise OptionError(
            f"{option}: each class must be an integer label or a sequence of them, got {cls!r}"
        ) from None
    if not members:
        raise OptionError(f"{option}: a class needs at least one label value, got {cls!r}")
    return tuple(dict.fromkeys(members))
