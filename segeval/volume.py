"""A label volume with its voxel geometry; the geometry check between two; exact reorientation; a spacing override.

:func:`reorient_to` puts a prediction on the ground truth's grid when the two
grids are the same points with the axes permuted or flipped (an LPS file
against an RAS one, a transposed array): a transpose and flips of the array,
exact. Resampling one grid onto another needs SimpleITK and lives with the
ITK reader, :func:`segeval.io.itk.resample_to`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from segeval.errors import GeometryMismatchError, OptionError
from segeval.metrics._checks import check_spacing


@dataclass(frozen=True)
class LabelVolume:
    """A label (or soft) array plus the geometry needed to measure it in mm.

    Attributes
    ----------
    labels : ndarray
        The voxel array, in NIfTI voxel order (x, y, z), in its stored dtype
        (never widened on read).
    spacing_mm : tuple of float
        Voxel size per spatial array axis, in mm (a channel axis, see
        ``meta["channel_axis"]``, has none).
    origin : tuple of float
        World position of voxel (0, 0, 0), in mm, in NIfTI's RAS+ world for
        every format (the readers convert ITK's LPS), so that a NIfTI and an
        NRRD of the same image compare equal. Empty when the file has none (``.npy``).
    direction : tuple of float
        Row-major ``ndim x ndim`` direction cosines in RAS+ (column j is the
        world direction of array axis j); empty when the file has none.
    path : str or None
        Where the volume was read from, for messages.
    spacing_given : bool
        False when the file carried no spacing (``.npy``) and 1 mm was assumed.
    meta : dict
        Reader-specific extras: ``format``, ``dtype`` (as stored on disk),
        ``axcodes`` (orientation codes, e.g. ``("R", "A", "S")``; absent for
        ``.npy``), ``channel_axis`` (only when a channel axis was kept),
        ``resampled`` (set by :func:`resample_to`), ``reoriented`` (the
        orientation codes before and after, set by :func:`reorient_to`),
        ``notes`` (lines for the case's report).
    """

    labels: Any
    spacing_mm: tuple[float, ...]
    origin: tuple[float, ...] = ()
    direction: tuple[float, ...] = ()
    path: str | None = None
    spacing_given: bool = True
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        """Array shape."""
        return tuple(int(s) for s in self.labels.shape)

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in millilitres (1 ml = 1000 mm^3)."""
        return float(np.prod(self.spacing_mm)) / 1000.0


def with_spacing(volume: LabelVolume, spacing_mm: Sequence[float] | None) -> LabelVolume:
    """``volume`` with ``spacing_mm`` in place of the spacing its file gave (unchanged for None).

    The spacing the file gave (when it gave one) is kept in
    ``meta["file_spacing_mm"]``, so that a report can say it was replaced.

    Raises
    ------
    OptionError
        ``spacing_mm`` does not have one value per spatial axis.

    Examples
    --------
    >>> v = with_spacing(LabelVolume(np.zeros((2, 2)), (2.0, 2.0), path="a.nii"), (1.0, 1.0))
    >>> v.spacing_mm, v.meta["file_spacing_mm"]
    ((1.0, 1.0), (2.0, 2.0))
    """
    if spacing_mm is None:
        return volume
    try:
        spacing = check_spacing(spacing_mm)
    except OptionError as exc:
        raise OptionError(f"{volume.path or 'array'}: {exc}") from None
    shape = spatial_shape(volume)
    if len(spacing) != len(shape):
        raise OptionError(
            f"{volume.path or 'array'}: --spacing has {len(spacing)} values but the volume has {len(shape)} "
            f"axes (shape {shape}); give one value in mm per axis"
        )
    meta = dict(volume.meta)
    if volume.spacing_given and tuple(volume.spacing_mm) != spacing:
        meta["file_spacing_mm"] = tuple(volume.spacing_mm)
    return replace(volume, spacing_mm=spacing, spacing_given=True, meta=meta)


def lps_to_ras(
    origin: Sequence[float], direction: Sequence[float]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Convert origin and row-major direction between ITK's LPS and NIfTI's RAS+ world.

    The conversion negates the first two world axes, so it is its own
    inverse: the same function converts RAS+ back to LPS.

    Parameters
    ----------
    origin : sequence of float
        ``n`` world coordinates, in mm.
    direction : sequence of float
        ``n * n`` direction cosines, row-major (rows are world axes).

    Returns
    -------
    tuple of tuple of float
        The converted ``(origin, direction)``.

    Examples
    --------
    >>> lps_to_ras((10.0, 20.0, 30.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    ((-10.0, -20.0, 30.0), (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0))
    """
    n = len(origin)
    flip = np.ones(n)
    flip[: min(n, 2)] = -1.0
    rot = np.asarray(direction, dtype=np.float64).reshape(n, n) * flip[:, None]
    moved = np.asarray(origin, dtype=np.float64) * flip
    # "+ 0.0" turns -0.0 into 0.0, so that printed geometry does not show "-0.0".
    return tuple(float(v) + 0.0 for v in moved), tuple(float(v) + 0.0 for v in rot.ravel())


_RESAMPLE_HINT = "use --resample-pred to resample the prediction onto the ground truth"


def spatial_shape(volume: LabelVolume) -> tuple[int, ...]:
    """Shape without the channel axis (a soft 4-D prediction is compared by its grid)."""
    shape = volume.shape
    channel_axis = volume.meta.get("channel_axis")
    if channel_axis is None:
        return shape
    return shape[:channel_axis] + shape[channel_axis + 1 :]


def _fmt(values: tuple[float, ...] | tuple[int, ...]) -> str:
    """Values as a short tuple for messages, 6 significant digits each."""
    return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"


def _largest_difference(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return float(np.max(np.abs(np.subtract(a, b)))) if a else 0.0


def check_same_geometry(
    pred: LabelVolume,
    gt: LabelVolume,
    *,
    atol_mm: float = 1e-3,
    atol_dir: float = 1e-4,
) -> None:
    """Raise unless prediction and ground truth lie on the same voxel grid.

    Parameters
    ----------
    pred, gt : LabelVolume
        The two volumes of a case.
    atol_mm : float, default 1e-3
        Largest difference allowed in spacing and origin, in mm (NIfTI
        headers hold float32, so exact equality is too strict).
    atol_dir : float, default 1e-4
        Largest difference allowed between direction cosines.

    Raises
    ------
    GeometryMismatchError
        One line naming both files and, for every field that differs
        (shape, spacing, origin, direction), both values and the largest
        difference, with the ``--resample-pred`` hint.

    Notes
    -----
    A channel axis (``meta["channel_axis"]``) is left out of the shape.
    Origin and direction are compared only when both volumes have them
    (``.npy`` files have neither), and spacing only when both files gave one
    (``spacing_given``): a bare ``.npy`` prediction takes the ground truth's
    grid, and its spacing should be taken from the ground truth.

    Examples
    --------
    >>> import numpy as np
    >>> a = LabelVolume(np.zeros((2, 2, 2)), (1.0, 1.0, 1.0), path="p.nii")
    >>> b = LabelVolume(np.zeros((2, 2, 2)), (1.0, 1.0, 2.0), path="g.nii")
    >>> check_same_geometry(a, b)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    segeval.errors.GeometryMismatchError: p.nii vs g.nii: spacing differs (pred (1, 1, 1) mm vs ...
    """
    problems: list[str] = []
    pred_shape, gt_shape = spatial_shape(pred), spatial_shape(gt)
    if pred_shape != gt_shape:
        by = ""
        if len(pred_shape) == len(gt_shape):
            largest = int(np.max(np.abs(np.subtract(pred_shape, gt_shape))))
            by = f", largest difference {largest} voxels"
        problems.append(f"shape differs (pred {_fmt(pred_shape)} vs gt {_fmt(gt_shape)}{by})")
    if pred.spacing_given and gt.spacing_given:
        problems += _compare("spacing", pred.spacing_mm, gt.spacing_mm, atol_mm, " mm")
    if pred.origin and gt.origin:
        problems += _compare("origin", pred.origin, gt.origin, atol_mm, " mm")
    if pred.direction and gt.direction:
        problems += _compare("direction", pred.direction, gt.direction, atol_dir, "")
    if problems:
        names = f"{pred.path or 'pred'} vs {gt.path or 'gt'}"
        raise GeometryMismatchError(f"{names}: {'; '.join(problems)}; {_RESAMPLE_HINT}")


def _compare(
    field: str, pred: tuple[float, ...], gt: tuple[float, ...], atol: float, unit: str
) -> list[str]:
    """The mismatch description of one geometry field, as a list of zero or one strings."""
    if len(pred) != len(gt):
        return [
            f"{field} differs (pred {_fmt(pred)}{unit} vs gt {_fmt(gt)}{unit}, different lengths)"
        ]
    largest = _largest_difference(pred, gt)
    if largest <= atol:
        return []
    values = f"pred {_fmt(pred)}{unit} vs gt {_fmt(gt)}{unit}"
    return [f"{field} differs ({values}, largest difference {largest:.6g}{unit})"]


def orientation_codes(volume: LabelVolume) -> str:
    """The orientation of a volume's array axes as a string of axis codes, e.g. ``"LPS"``.

    Each array axis is named by the end of the RAS+ world axis it points to
    most (``R``/``L``, ``A``/``P``, ``S``/``I``); ``"?"`` for a volume without
    a direction (``.npy``).

    Examples
    --------
    >>> orientation_codes(LabelVolume(np.zeros((2, 2, 2)), (1.0,) * 3, (0.0,) * 3, (-1, 0, 0, 0, -1, 0, 0, 0, 1)))
    'LPS'
    """
    n = len(spatial_shape(volume))
    if len(volume.direction) != n * n:
        return "?" * n
    rot = np.asarray(volume.direction, dtype=np.float64).reshape(n, n)
    names = ("LR", "PA", "IS")
    rows = np.argmax(np.abs(rot), axis=0)
    return "".join(names[r][int(rot[r, c] > 0)] if r < 3 else "?" for c, r in enumerate(rows))


def reorient_to(
    pred: LabelVolume,
    gt: LabelVolume,
    *,
    atol_mm: float = 1e-3,
    atol_dir: float = 1e-4,
) -> LabelVolume | None:
    """``pred`` on ``gt``'s voxel grid by permuting and flipping its array axes, or None when that cannot be.

    Two grids are the same points in the world, axis for axis, when gt's
    array axis ``j`` runs along pred's axis ``perm[j]``, forwards or
    backwards: the direction columns agree up to sign, the spacings and
    shapes agree once permuted, and the origins put the voxel centres on each
    other. The prediction's array is then transposed and flipped onto gt's
    axes (no interpolation; every voxel keeps its label), which is what an
    LPS-ordered NRRD scored against an RAS NIfTI, or a prediction saved with
    a transposed array, needs.

    Parameters
    ----------
    pred, gt : LabelVolume
        The two volumes of a case; both need an origin, a direction and a
        spacing from their file (``.npy`` volumes have none: None).
    atol_mm : float, default 1e-3
        As in :func:`check_same_geometry`, which judges the reoriented grid.
    atol_dir : float, default 1e-4
        As in :func:`check_same_geometry`.

    Returns
    -------
    LabelVolume or None
        ``pred`` itself when it is already on gt's grid. Otherwise a new
        volume whose labels are pred's, transposed and flipped, copied into
        gt's memory order (read-only), with gt's spacing, origin and
        direction (within the tolerances), pred's path, and a note in
        ``meta["notes"]`` naming the two orientations (``"LPS -> RAS"``).
        None when no permutation and flips of pred's axes give gt's grid
        (a grid off by a fraction of a voxel, a different spacing or an
        oblique rotation): the caller refuses or resamples, as before.

    Notes
    -----
    The world position of voxel ``i`` is ``origin + direction @ (spacing * i)``.
    Flipping pred's axis ``k`` (of ``n_k`` voxels) moves its origin to the
    centre of its last voxel along that axis,
    ``origin + direction[:, k] * spacing[k] * (n_k - 1)``. A volume with a
    channel axis is not reoriented (None).

    Examples
    --------
    >>> gt = LabelVolume(np.arange(6).reshape(2, 3), (1.0, 2.0), (0.0, 0.0), (1.0, 0.0, 0.0, 1.0))
    >>> pred = LabelVolume(gt.labels.T[::-1], (2.0, 1.0), (0.0, 4.0), (0.0, 1.0, -1.0, 0.0))
    >>> out = reorient_to(pred, gt)
    >>> bool((out.labels == gt.labels).all()), out.meta["notes"]
    (True, ["prediction reoriented to the GT's axes (PR -> RA), exactly"])
    """
    n = len(pred.shape)
    if (pred.meta.get("channel_axis") is not None or gt.meta.get("channel_axis") is not None
            or len(gt.shape) != n or not (pred.spacing_given and gt.spacing_given)
            or len(pred.origin) != n or len(gt.origin) != n or len(pred.spacing_mm) != n
            or len(pred.direction) != n * n or len(gt.direction) != n * n):
        return None
    dp = np.asarray(pred.direction, dtype=np.float64).reshape(n, n)
    dg = np.asarray(gt.direction, dtype=np.float64).reshape(n, n)
    # dots[j, k]: cosine between gt's axis j and pred's axis k; each gt axis takes
    # the pred axis most nearly parallel (or antiparallel) to it.
    dots = dg.T @ dp
    perm = [int(k) for k in np.argmax(np.abs(dots), axis=1)]
    if sorted(perm) != list(range(n)):
        return None
    signs = [1 if dots[j, k] >= 0 else -1 for j, k in enumerate(perm)]
    if perm == list(range(n)) and all(s > 0 for s in signs):
        try:
            check_same_geometry(pred, gt, atol_mm=atol_mm, atol_dir=atol_dir)
        except GeometryMismatchError:
            return None
        return pred
    pred_shape = pred.shape
    origin = np.asarray(pred.origin, dtype=np.float64)
    for j, k in enumerate(perm):
        if signs[j] < 0:
            origin = origin + dp[:, k] * pred.spacing_mm[k] * (pred_shape[k] - 1)
    direction = dp[:, perm] * np.asarray(signs, dtype=np.float64)
    shape = tuple(pred_shape[k] for k in perm)
    # The geometry is judged first, on a placeholder array (a broadcast zero: no
    # memory); the voxels move only when it passes.
    moved = replace(
        pred,
        labels=np.broadcast_to(np.zeros((), dtype=np.uint8), shape),
        spacing_mm=tuple(float(pred.spacing_mm[k]) for k in perm),
        origin=tuple(float(v) + 0.0 for v in origin),
        direction=tuple(float(v) + 0.0 for v in direction.ravel()),
    )
    try:
        check_same_geometry(moved, gt, atol_mm=atol_mm, atol_dir=atol_dir)
    except GeometryMismatchError:
        return None
    arr = np.asarray(pred.labels)
    view = arr.transpose(perm)[tuple(slice(None, None, -1) if s < 0 else slice(None) for s in signs)]
    # gt's memory order, so that counting the pair needs no second copy.
    gt_flags = np.asarray(gt.labels).flags
    labels = np.array(view, order="F" if gt_flags.f_contiguous and not gt_flags.c_contiguous else "C", copy=True)
    labels.flags.writeable = False
    meta = dict(pred.meta)
    before, after = orientation_codes(pred), orientation_codes(gt)
    meta["axcodes"] = gt.meta.get("axcodes", tuple(after))
    meta["reoriented"] = (before, after)
    meta["notes"] = [*meta.get("notes", ()), f"prediction reoriented to the GT's axes ({before} -> {after}), exactly"]
    return replace(moved, labels=labels, meta=meta)

