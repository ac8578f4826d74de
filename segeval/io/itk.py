"""NRRD (``.nrrd``/``.nhdr``) and MetaImage (``.mha``/``.mhd``) via SimpleITK; resampling onto another grid.

SimpleITK hands out arrays in (z, y, x) order and geometry in ITK's LPS
world. segeval's volumes are in NIfTI voxel order (x, y, z) and RAS+ world,
so the array is transposed (a view) and the first two world axes of origin
and direction are negated. ITK's index order is already (x, y, z), so
spacing and the columns of the direction matrix need no reordering.
"""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from segeval.errors import GeometryMismatchError, OptionError, ReadError
from segeval.io._content import axcodes, check_voxels, checked_array, split_channels
from segeval.volume import LabelVolume, lps_to_ras, spatial_shape

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Self

__all__ = ["read", "read_itk", "resample_to", "write", "write_itk"]

_IMAGE_IO = {"NRRD": "NrrdImageIO", "MetaImage": "MetaImageIO"}


def _itk_reason(exc: Exception) -> str:
    """The informative part of a SimpleITK error, on one line, for a message.

    ITK errors span several lines: where it was thrown, the IO object, and
    last the cause (NRRD: "expected 8000 bytes but received 2585";
    MetaImage: "Reason: <strerror>", where errno is left over from an
    earlier call when the pixel data was merely short: "Success", or
    "Inappropriate ioctl for device" when stderr is not a terminal).
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    last = lines[-1] if lines else type(exc).__name__
    error = next((i for i, line in enumerate(lines) if "ITK ERROR:" in line), None)
    if error is not None and not last.startswith("Reason:"):
        # ITK's own sentence, which may go on over several lines ("Bad direction,
        # determinant is 0. Refusing to change direction from 1 0 0 ... to 0 0 0 ...").
        last = " ".join(lines[error:])
        last = last[last.index("ITK ERROR:"):]
    if last.startswith("Reason:"):
        why = last.removeprefix("Reason:").strip()
        stale = why in ("Success", "Inappropriate ioctl for device")
        last = "the pixel data is missing or incomplete" if stale else why
    last = re.sub(r"^ITK ERROR: \w+\(0x[0-9a-fA-F]+\): ", "", last)
    return last[:240]


_DATA_FILE = re.compile(r"^(?:ElementDataFile\s*=|data ?file:)[ \t]*(\S[^\r\n]*?)\s*$", re.MULTILINE)


_HEADER_SCAN = 1 << 20


def _data_files(path: Path) -> list[str] | None:
    """The data files a detached header (``.mhd``/``.nhdr``) names: one, a LIST, a printf pattern's folder.

    MetaImage writes ``ElementDataFile = x.raw`` (``LOCAL``: the data follows
    the header); NRRD ``data file: x.raw.gz``. ``LIST`` names one file per
    following line; a pattern (``slice%03d.raw 1 10 1``) stands for files in
    its own folder. None when the header does not end within its first MiB
    (so what it names cannot be told).
    """
    try:
        with path.open("rb") as fh:
            text = fh.read(_HEADER_SCAN).decode("latin-1")
    except OSError:
        return []
    match = _DATA_FILE.search(text)
    if match is None:
        # A MetaImage header ends with ElementDataFile, a NRRD header at its first blank line.
        ended = text.startswith("NRRD") and ("\n\n" in text or "\r\n\r\n" in text)
        return [] if ended or len(text) < _HEADER_SCAN else None
    name = match.group(1)
    if name == "LOCAL":
        return []
    if name.split()[0] == "LIST":
        return [line.strip() for line in text[match.end():].splitlines() if line.strip()]
    if "%" in name:
        return [os.path.join(os.path.dirname(name.split()[0]) or ".", "pattern")]
    return [name]


def _check_data_files(path: Path, shown: str, fmt_name: str, allow_outside: bool) -> None:
    """Refuse a header whose data files lie outside its folder; say when the one it names is missing.

    A header can name any file (``/etc/passwd``, ``/proc/self/environ``); only
    files in the header's own folder, or below it, are read unless
    ``allow_outside``. Checked before calling ITK, whose MetaImage reader
    would also print its own complaint about a missing file to stderr.
    """
    folder = path.parent.resolve()
    names = _data_files(path)
    if names is None:
        if allow_outside:
            return
        raise ReadError(f"{shown}: the {fmt_name} header does not end within its first MiB, so the data file it "
                        "names cannot be checked; re-export it (--allow-outside-data-files reads it anyway)")
    for name in names:
        target = (path.parent / name).resolve()
        if not allow_outside and not target.is_relative_to(folder):
            raise ReadError(
                f"{shown}: the {fmt_name} header names the data file {name}, outside the header's folder; "
                "segeval reads only files beside the header or below it (--allow-outside-data-files to "
                "allow it)"
            )
    if len(names) == 1 and not names[0].endswith("pattern") and not (path.parent / names[0]).is_file():
        raise ReadError(
            f"{shown}: the {fmt_name} header names the data file {names[0]}, "
            "which is not beside it; copy the data file along with the header"
        )


class _NativeStderrHeld:
    """Hold what native code writes to file descriptor 2 while a file is read.

    ITK's MetaImage reader prints its own diagnostics straight to the C++
    ``std::cerr`` (four lines for a truncated ``.mha``) before it raises; the
    ``ReadError`` segeval raises says the same in one line. On a failed read
    the held text is dropped; on a successful one it is written out as it
    came (a real warning is not lost). Where fd 2 cannot be redirected
    (no such descriptor), nothing is held.
    """

    def __init__(self) -> None:
        self._saved: int | None = None
        self._tmp: Any = None

    def __enter__(self) -> Self:
        try:
            sys.stderr.flush()
            tmp = tempfile.TemporaryFile()
        except (OSError, ValueError, AttributeError):
            return self
        try:
            self._saved = os.dup(2)
        except OSError:
            tmp.close()
            return self
        self._tmp = tmp
        os.dup2(tmp.fileno(), 2)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._saved is None:
            return
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._tmp.seek(0)
        held = self._tmp.read()
        self._tmp.close()
        if kind is None and held:
            os.write(2, held)


def read(path: Path, *, shown: str, fmt_name: str = "NRRD", allow_channels: bool = False,
         allow_outside_data_files: bool = False) -> LabelVolume:
    """The reader of :data:`segeval.io.FORMATS`: :func:`read_itk`."""
    return read_itk(path, shown=shown, fmt_name=fmt_name, allow_channels=allow_channels,
                    allow_outside_data_files=allow_outside_data_files)


def read_itk(
    path: Path, *, shown: str, fmt_name: str = "NRRD", allow_channels: bool = False,
    allow_outside_data_files: bool = False,
) -> LabelVolume:
    """Read an NRRD or MetaImage file; use :func:`segeval.io.read_volume` instead.

    Parameters
    ----------
    path : Path
        The file, already checked to exist and to start like ``fmt_name``.
    shown : str
        The path as the user gave it, for messages.
    fmt_name : {"NRRD", "MetaImage"}
        The format; picks the ITK image IO so that nothing else is tried.
    allow_channels : bool, default False
        Keep multi-component pixels or a non-singleton 4th axis as channels.
    allow_outside_data_files : bool, default False
        Read a detached header's data files wherever they are (by default only
        beside the header or below its folder).

    Returns
    -------
    LabelVolume
        See :func:`segeval.io.read_volume`; origin and direction converted to RAS+.
    """
    import SimpleITK as sitk

    _check_data_files(path, shown, fmt_name, allow_outside_data_files)
    try:
        with _NativeStderrHeld():
            reader: Any = sitk.ImageFileReader()  # type: ignore[no-untyped-call]
            reader.SetImageIO(_IMAGE_IO[fmt_name])
            reader.SetFileName(str(path))
            reader.ReadImageInformation()
            size = tuple(int(n) for n in reader.GetSize())
            check_voxels(math.prod(size) * int(reader.GetNumberOfComponents()), size, shown)
            # Any: SimpleITK's Image methods are unannotated.
            image: Any = reader.Execute()
            # A copy that NumPy owns: GetArrayViewFromImage would dangle once
            # `image` is freed. The transpose below is a view.
            zyx = sitk.GetArrayFromImage(image)
    except RuntimeError as exc:
        raise ReadError(
            f"{shown}: SimpleITK cannot read this {fmt_name} file ({_itk_reason(exc)}); "
            "check that it (and any data file it names) was written completely"
        ) from None
    dim = image.GetDimension()
    components = image.GetNumberOfComponentsPerPixel()
    # Reverse the image axes; a component axis stays last, like a channel.
    axes = tuple(range(dim - 1, -1, -1)) + ((dim,) if components > 1 else ())
    arr = checked_array(zyx.transpose(axes), shown)
    arr, channel_axis = split_channels(arr, shown, allow_channels)

    n_spatial = min(dim, 3)
    lps_rot = np.asarray(image.GetDirection(), dtype=np.float64).reshape(dim, dim)
    origin, direction = lps_to_ras(
        image.GetOrigin()[:n_spatial], lps_rot[:n_spatial, :n_spatial].ravel().tolist()
    )
    meta: dict[str, Any] = {
        "format": fmt_name.lower(),
        "dtype": zyx.dtype.name,
        "axcodes": axcodes(np.asarray(direction).reshape(n_spatial, n_spatial)),
    }
    if channel_axis is not None:
        meta["channel_axis"] = channel_axis
    return LabelVolume(
        labels=arr,
        spacing_mm=tuple(float(s) for s in image.GetSpacing()[:n_spatial]),
        origin=origin,
        direction=direction,
        path=shown,
        spacing_given=True,
        meta=meta,
    )


def write_itk(
    path: Path,
    labels: Any,
    *,
    spacing_mm: Sequence[float] = (1.0, 1.0, 1.0),
    origin: Sequence[float] | None = None,
    direction: Sequence[float] | None = None,
) -> None:
    """Write ``labels`` (x, y, z) as NRRD or MetaImage; use :func:`segeval.io.write_volume`.

    ``origin`` and ``direction`` are RAS+ (segeval's convention) and are
    stored as ITK's LPS. Pixel data is compressed.
    """
    import SimpleITK as sitk

    arr = np.asarray(labels)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)  # ITK has no bool pixel type
    ndim = arr.ndim
    n_spatial = min(ndim, 3)
    if len(spacing_mm) < n_spatial:
        raise OptionError(f"spacing_mm has {len(spacing_mm)} values for a {n_spatial}-D volume")
    rot = np.eye(n_spatial) if direction is None else np.asarray(direction, dtype=np.float64)
    org = np.zeros(n_spatial) if origin is None else np.asarray(origin, dtype=np.float64)
    if rot.size != n_spatial * n_spatial or org.size != n_spatial:
        raise OptionError(f"origin/direction do not fit a {n_spatial}-D volume")
    lps_origin, lps_direction = lps_to_ras(org.tolist(), rot.ravel().tolist())
    # Axes after the 3rd (time) get unit spacing and identity direction.
    full_rot = np.eye(ndim)
    full_rot[:n_spatial, :n_spatial] = np.reshape(lps_direction, (n_spatial, n_spatial))
    if ndim == 4:
        # GetImageFromArray would read a short last axis as pixel components.
        image: Any = sitk.JoinSeries(  # type: ignore[no-untyped-call]
            [sitk.GetImageFromArray(arr[..., t].T) for t in range(arr.shape[3])]
        )
    elif ndim in (2, 3):
        image = sitk.GetImageFromArray(arr.T)
    else:
        raise OptionError(f"{path}: ITK images written here have 2 to 4 axes, not {ndim}")
    image.SetSpacing([float(s) for s in spacing_mm[:n_spatial]] + [1.0] * (ndim - n_spatial))
    image.SetOrigin(list(lps_origin) + [0.0] * (ndim - n_spatial))
    image.SetDirection(full_rot.ravel().tolist())
    sitk.WriteImage(image, str(path), useCompression=True)


write = write_itk


def resample_to(pred: LabelVolume, gt: LabelVolume) -> LabelVolume:
    """Resample the prediction onto the ground truth's voxel grid, by nearest neighbour.

    Both grids are placed in physical space with their spacing, origin and
    direction (SimpleITK, converted from segeval's RAS+ to ITK's LPS for
    both, so that they line up), and every ground-truth voxel takes the
    label of the nearest prediction voxel; voxels outside the prediction
    get 0 (background).

    Parameters
    ----------
    pred : LabelVolume
        The prediction; labels (any integer, bool or float dtype) or a soft
        prediction with a channel axis (each channel resampled alike).
    gt : LabelVolume
        The ground truth; only its geometry is used. A volume without
        origin/direction (``.npy``) is placed at 0 with identity direction.

    Returns
    -------
    LabelVolume
        ``labels`` on gt's grid, in pred's dtype, read-only; gt's spacing,
        origin and direction; pred's path; ``meta["resampled"] = True``.

    Raises
    ------
    GeometryMismatchError
        The two volumes do not have the same number of spatial axes.
    """
    import SimpleITK as sitk

    pred_shape, gt_shape = spatial_shape(pred), spatial_shape(gt)
    if len(pred_shape) != len(gt_shape) or not 2 <= len(gt_shape) <= 3:
        raise GeometryMismatchError(
            f"{pred.path or 'pred'} vs {gt.path or 'gt'}: cannot resample a {len(pred_shape)}-D "
            f"prediction onto a {len(gt_shape)}-D ground truth; give volumes with the same axes"
        )
    arr = np.asarray(pred.labels)
    out_dtype = arr.dtype
    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8)  # ITK has no bool pixel type
    elif arr.dtype == np.float16:
        arr = arr.astype(np.float32)  # nor a half-float one
    channel_axis = pred.meta.get("channel_axis")
    ndim = len(pred_shape)
    # ITK wants (z, y, x[, c]); a component axis must be last.
    order = tuple(range(ndim - 1, -1, -1))
    if channel_axis is not None:
        arr = np.moveaxis(arr, channel_axis, -1)
        order += (ndim,)
    # Any: SimpleITK's methods are unannotated.
    image: Any = sitk.GetImageFromArray(arr.transpose(order), isVector=channel_axis is not None)
    _place(image, pred, ndim)

    resampler: Any = sitk.ResampleImageFilter()  # type: ignore[no-untyped-call]
    resampler.SetSize([int(n) for n in gt_shape])
    origin, direction = _lps_geometry(gt, ndim)
    resampler.SetOutputSpacing([float(s) for s in gt.spacing_mm])
    resampler.SetOutputOrigin(origin)
    resampler.SetOutputDirection(direction)
    resampler.SetInterpolator(sitk.sitkNearestNeighbor)
    resampler.SetDefaultPixelValue(0)
    resampler.SetOutputPixelType(image.GetPixelID())
    out = sitk.GetArrayFromImage(resampler.Execute(image)).transpose(order)
    if channel_axis is not None:
        out = np.moveaxis(out, -1, channel_axis)
    out = out.astype(out_dtype, copy=False) if out_dtype != np.bool_ else out.astype(np.bool_)
    out.flags.writeable = False

    meta = dict(pred.meta)
    meta["resampled"] = True
    meta.pop("axcodes", None)
    if "axcodes" in gt.meta:
        meta["axcodes"] = gt.meta["axcodes"]
    return LabelVolume(
        labels=out,
        spacing_mm=gt.spacing_mm,
        origin=gt.origin,
        direction=gt.direction,
        path=pred.path,
        spacing_given=gt.spacing_given,
        meta=meta,
    )


def _lps_geometry(volume: LabelVolume, ndim: int) -> tuple[list[float], list[float]]:
    """Origin and row-major direction of ``volume`` in ITK's LPS world (defaults: 0, identity)."""
    origin = volume.origin or (0.0,) * ndim
    direction = volume.direction or tuple(np.eye(ndim).ravel().tolist())
    lps_origin, lps_direction = lps_to_ras(origin, direction)
    return list(lps_origin), list(lps_direction)


def _place(image: Any, volume: LabelVolume, ndim: int) -> None:
    """Set a SimpleITK image's spacing, origin and direction from ``volume``."""
    origin, direction = _lps_geometry(volume, ndim)
    image.SetSpacing([float(s) for s in volume.spacing_mm])
    image.SetOrigin(origin)
    image.SetDirection(direction)
