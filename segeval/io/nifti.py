"""NIfTI-1/NIfTI-2 reader and writer (nibabel), reading no more than the header declares.

The header is read first (nibabel parses it and its extensions), its sizes
are checked (dims, the voxel limit, the offset), and then exactly the
declared voxel bytes are read, or inflated (:mod:`segeval.io._gzip`, 1 MiB
at a time), straight into the volume's array: a gzip bomb or a file with a
long tail is never read past its header's size, and a forged size is
refused before anything is allocated. The voxels are a zero-copy view of
that array.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import math
import os
import struct
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError
from nibabel.wrapstruct import WrapStructError

from segeval.errors import OptionError, ReadError
from segeval.io._content import (
    axcodes,
    check_dtype,
    check_voxels,
    checked_array,
    describe_content,
    sniff,
    split_channels,
)
from segeval.io._gzip import GZIP_DECODERS, GzipStream, gunzip, gzip_decoder
from segeval.volume import LabelVolume

__all__ = ["GZIP_DECODERS", "gunzip", "gzip_decoder", "read", "read_nifti", "write", "write_nifti"]

_GZIP_MAGIC = b"\x1f\x8b"
_HEADER_SIZE = {"nifti1": 348, "nifti2": 540}
# nibabel's parse failures; anything else escaping from_bytes is a bug to see.
_NIBABEL_ERRORS = (
    ImageFileError,
    HeaderDataError,
    WrapStructError,
    ValueError,
    TypeError,
    OverflowError,
    struct.error,
)


def _header_length(head: bytes, kind: str, shown: str) -> int:
    """Bytes from the start of a NIfTI file to its voxels (header and extensions), from ``vox_offset``."""
    size = _HEADER_SIZE[kind]
    order = "<" if int.from_bytes(head[:4], "little") == size else ">"
    field = (order + "f", 108) if kind == "nifti1" else (order + "q", 168)
    (vox_offset,) = struct.unpack_from(field[0], head, field[1])
    if not math.isfinite(vox_offset):
        return size + 4
    if vox_offset > _MAX_HEADER:
        raise ReadError(f"{shown}: invalid NIfTI header (vox_offset {vox_offset:.0f}: more than {_MAX_HEADER} "
                        "bytes of header and extensions); re-export the file")
    return max(size + 4, int(vox_offset))


def _as_written(value: Any) -> float:
    """The float64 a float32 header field was meant to hold (0.7, not 0.699999988).

    NIfTI stores spacing and the affine as float32; the shortest decimal that
    round-trips in float32 is what the writer asked for, and it keeps
    reports and comparisons with NRRD/MetaImage (float64) clean.
    """
    return float(str(np.float32(value)))


class _Source:
    """Where a NIfTI file's bytes come from, read in order: a plain file or a gzip stream."""

    def read(self, n: int) -> bytes:
        raise NotImplementedError

    def readinto(self, out: np.ndarray[Any, Any]) -> int:
        raise NotImplementedError

    def extra(self, needed: int, read: int) -> str:
        """How much the file holds past ``needed`` bytes, as words ("" when nothing)."""
        raise NotImplementedError


class _PlainSource(_Source):
    def __init__(self, fh: io.BufferedIOBase) -> None:
        self._fh = fh

    def read(self, n: int) -> bytes:
        return self._fh.read(max(n, 0))

    def readinto(self, out: np.ndarray[Any, Any]) -> int:
        view = out.data
        filled = 0
        while filled < out.size:
            got = self._fh.readinto(view[filled:])
            if not got:
                break
            filled += got
        return filled

    def extra(self, needed: int, read: int) -> str:
        more = os.fstat(self._fh.fileno()).st_size - max(needed, read)
        return f"{more} more bytes" if more > 0 else ""


class _GzipSource(_Source):
    def __init__(self, fh: io.BufferedIOBase, shown: str) -> None:
        self._stream = GzipStream(fh, shown=shown)

    def read(self, n: int) -> bytes:
        return self._stream.read(n)

    def readinto(self, out: np.ndarray[Any, Any]) -> int:
        return self._stream.readinto(out)

    def extra(self, needed: int, read: int) -> str:
        if read > needed:
            return f"{read - needed} more bytes"
        return "more data" if self._stream.has_more() else ""


# Header extensions past this many bytes are refused (a forged vox_offset).
_MAX_HEADER = 64 << 20


@contextlib.contextmanager
def _quiet_nibabel() -> Iterator[None]:
    """nibabel logs its own header complaints to stderr (and NumPy warns of the NaN a forged
    pixdim makes of its affine); segeval checks what matters and says it in one line."""
    logger = logging.getLogger("nibabel")
    saved = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(saved)


def _parse_header(kind: str, header: bytes, shown: str) -> tuple[Any, tuple[int, ...], np.dtype[Any], int,
                                                                     float, float]:
    """The header (and extensions) as nibabel reads them: image, shape, stored dtype, voxel offset, scaling."""
    image_class = nib.Nifti1Image if kind == "nifti1" else nib.Nifti2Image
    dims = _dims(header, kind)
    if not 1 <= dims[0] <= 7 or any(d < 0 for d in dims[1 : dims[0] + 1]):
        raise ReadError(f"{shown}: invalid NIfTI header (dim = {list(dims[: max(1, min(dims[0], 7)) + 1])}: "
                        "dim[0] must be 1..7 and every size >= 0); re-export the file")
    try:
        with _quiet_nibabel():
            # nibabel parses the header and extensions; the voxels are read by segeval.
            # Any: nibabel's header and proxy methods are unannotated.
            image: Any = image_class.from_bytes(header)
            proxy: Any = image.dataobj
            shape = tuple(int(n) for n in proxy.shape)
            stored = np.dtype(proxy.dtype)
            offset = int(proxy.offset)
            # The image moves scl_slope/scl_inter from its header copy into the
            # proxy (1 and 0 when the file has none, or slope 0 or NaN).
            slope, inter = float(proxy.slope), float(proxy.inter)
    except (*_NIBABEL_ERRORS, MemoryError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ReadError(f"{shown}: invalid NIfTI header ({reason}); re-export the file") from None
    if not (math.isfinite(slope) and math.isfinite(inter)):
        raise ReadError(f"{shown}: invalid NIfTI header (scl_slope {slope}, scl_inter {inter}: not finite); "
                        "re-export the file")
    return image, shape, stored, offset, slope, inter


def _dims(header: bytes, kind: str) -> tuple[int, ...]:
    """The ``dim`` field, read directly (nibabel's own parse overflows on forged sizes)."""
    size = _HEADER_SIZE[kind]
    order = "<" if int.from_bytes(header[:4], "little") == size else ">"
    if kind == "nifti1":
        return struct.unpack_from(order + "8h", header, 40)
    return struct.unpack_from(order + "8q", header, 16)


def _zero_pixdims(header: bytes, kind: str, n_spatial: int) -> list[int]:
    """The spatial axes (1-based, as in ``pixdim``) whose voxel size the header gives as 0."""
    size = _HEADER_SIZE[kind]
    order = "<" if int.from_bytes(header[:4], "little") == size else ">"
    pixdim = struct.unpack_from(order + ("8f" if kind == "nifti1" else "8d"), header, 76 if kind == "nifti1" else 104)
    return [axis for axis in range(1, n_spatial + 1) if pixdim[axis] == 0]


def _geometry(image: Any, n_spatial: int, shown: str) -> tuple[np.ndarray[Any, Any], tuple[float, ...]]:
    """The affine and voxel sizes, or one line naming the field that makes them unusable."""
    try:
        with _quiet_nibabel():
            affine = np.asarray(image.affine, dtype=np.float64)
            zooms = tuple(float(z) for z in image.header.get_zooms()[:n_spatial])
    except (*_NIBABEL_ERRORS, np.linalg.LinAlgError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ReadError(f"{shown}: invalid NIfTI geometry ({reason}); re-export the file") from None
    if not np.all(np.isfinite(affine)):
        raise ReadError(f"{shown}: invalid NIfTI geometry (the sform/qform affine holds NaN or inf: "
                        f"{affine[:3].round(4).tolist()}); re-export the file")
    if not all(math.isfinite(z) and z > 0 for z in zooms):
        raise ReadError(f"{shown}: invalid NIfTI geometry (pixdim {list(zooms)}: voxel sizes must be finite "
                        "and > 0); re-export the file")
    return affine, zooms


def read(path: Path, *, shown: str, fmt_name: str = "NIfTI", allow_channels: bool = False,
         allow_outside_data_files: bool = False) -> LabelVolume:
    """The reader of :data:`segeval.io.FORMATS`: :func:`read_nifti`."""
    return read_nifti(path, shown=shown, allow_channels=allow_channels)


def read_nifti(path: Path, *, shown: str, allow_channels: bool = False) -> LabelVolume:
    """Read a ``.nii``/``.nii.gz`` file; use :func:`segeval.io.read_volume` instead.

    Parameters
    ----------
    path : Path
        The file, already checked to exist and to start like NIfTI or gzip.
    shown : str
        The path as the user gave it, for messages.
    allow_channels : bool, default False
        Keep a non-singleton 4th axis as channels.

    Returns
    -------
    LabelVolume
        See :func:`segeval.io.read_volume`. Voxels are the stored integers
        (``img.dataobj`` unscaled) unless the header has a real scaling
        (``scl_slope`` not 0/NaN/1 or ``scl_inter`` not 0), in which case
        nibabel applies it and the array is float.
    """
    try:
        with path.open("rb") as fh:
            return _read_open(fh, shown, allow_channels)
    except ReadError:
        raise
    except OSError as exc:
        raise ReadError(
            f"{shown}: cannot be read ({exc.strerror or exc}); check its permissions"
        ) from None


def _read_open(fh: io.BufferedIOBase, shown: str, allow_channels: bool) -> LabelVolume:
    compressed = fh.read(2) == _GZIP_MAGIC
    fh.seek(0)
    source: _Source = _GzipSource(fh, shown) if compressed else _PlainSource(fh)
    head = source.read(_HEADER_SIZE["nifti2"])
    kind = sniff(head)
    if kind not in _HEADER_SIZE:
        inside = "its gzip content " if compressed else ""
        what = describe_content(head) if head else "is empty"
        raise ReadError(f"{shown}: not a NIfTI file ({inside}{what}); re-export it as NIfTI")
    if len(head) < _HEADER_SIZE[kind]:
        raise ReadError(
            f"{shown}: truncated NIfTI file ({len(head)} bytes, shorter than the "
            f"{_HEADER_SIZE[kind]}-byte header); re-copy or re-export it"
        )
    header_length = _header_length(head, kind, shown)
    header_bytes = head + source.read(max(0, header_length - len(head)))
    image, shape, stored, offset, slope, inter = _parse_header(kind, header_bytes[:header_length], shown)
    check_dtype(stored, shown)
    voxels = math.prod(shape)
    check_voxels(voxels, shape, shown)
    n_bytes = voxels * stored.itemsize
    if offset > len(header_bytes):
        header_bytes += source.read(offset - len(header_bytes))
    if len(header_bytes) < offset:
        raise ReadError(f"{shown}: truncated NIfTI file (it ends at byte {len(header_bytes)}, before the "
                        f"voxels the header puts at byte {offset}); re-copy or re-export it")
    # Nothing the size of the volume is allocated for a file that cannot hold it:
    # deflate inflates at most 1032-fold.
    on_disk = os.fstat(fh.fileno()).st_size
    most = on_disk * 1032 + (1 << 20) if compressed else on_disk
    if offset + n_bytes > most:
        raise ReadError(
            f"{shown}: truncated NIfTI file (the header needs {offset + n_bytes} bytes, {n_bytes} of voxels "
            f"after {offset}, but the {'compressed ' if compressed else ''}file of {on_disk} bytes "
            f"{'cannot inflate to that' if compressed else 'is shorter'}); re-copy or re-export it"
        )
    buffer = np.empty(n_bytes, dtype=np.uint8)
    already = np.frombuffer(header_bytes[offset:offset + n_bytes], dtype=np.uint8)
    buffer[: already.size] = already
    got = already.size + (source.readinto(buffer[already.size:]) if already.size < n_bytes else 0)
    if got < n_bytes:
        raise ReadError(
            f"{shown}: truncated NIfTI file (the header needs {offset + n_bytes} bytes, "
            f"{n_bytes} of voxels after {offset}, but the {'decompressed ' if compressed else ''}"
            f"file has {offset + got}); re-copy or re-export it"
        )
    notes = []
    zero = _zero_pixdims(header_bytes, kind, min(len(shape), 3))
    if zero:
        # nibabel reads a voxel size of 0 as 1 mm; a volume in ml then rests on that guess.
        notes.append(f"{shown}: its header gives voxel size 0 for pixdim{zero}; read as 1 mm, as nibabel does "
                     "(give --spacing if that is wrong)")
    extra = source.extra(offset + n_bytes, len(header_bytes))
    if extra:
        notes.append(f"{shown} holds {extra} beyond the {n_bytes} voxel bytes its header declares; "
                     "they were not read")
    # A view of the voxel bytes: no copy of the volume.
    arr: np.ndarray[Any, Any] = buffer.view(stored).reshape(shape, order="F")
    scaled = slope != 1.0 or inter != 0.0
    if scaled:
        # A real scaling changes the values: apply it (float) so that the core
        # sees, and rejects, non-integral labels.
        arr = arr.astype(np.float64) * slope + inter
    arr = checked_array(arr, shown)
    arr, channel_axis = split_channels(arr, shown, allow_channels)

    n_spatial = min(arr.ndim, 3)
    affine, zooms = _geometry(image, n_spatial, shown)
    axes = affine[:3, :3]
    norms = np.linalg.norm(axes, axis=0)
    # A zero column (degenerate header) would divide by zero; keep it zero.
    direction = axes / np.where(norms > 0, norms, 1.0)
    meta: dict[str, Any] = {
        "format": kind,
        "dtype": stored.name,
        "axcodes": axcodes(direction[:n_spatial, :n_spatial]),
        "compressed": compressed,
    }
    if scaled:
        meta["scl_slope"], meta["scl_inter"] = slope, inter
    if channel_axis is not None:
        meta["channel_axis"] = channel_axis
    if notes:
        meta["notes"] = notes
    return LabelVolume(
        labels=arr,
        spacing_mm=tuple(_as_written(z) for z in zooms[:n_spatial]),
        origin=tuple(_as_written(v) for v in affine[:n_spatial, 3]),
        direction=tuple(float(v) + 0.0 for v in direction[:n_spatial, :n_spatial].ravel()),
        path=shown,
        spacing_given=True,
        meta=meta,
    )


def nifti_affine(
    ndim: int,
    spacing_mm: Sequence[float],
    origin: Sequence[float] | None,
    direction: Sequence[float] | None,
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Build a 4x4 RAS+ affine from spacing, origin and row-major direction cosines.

    Parameters
    ----------
    ndim : int
        Number of spatial axes (1 to 3); the rest of the affine is identity.
    spacing_mm : sequence of float
        Voxel size per spatial axis, in mm (at least ``ndim`` values).
    origin : sequence of float, optional
        ``ndim`` values; default zeros.
    direction : sequence of float, optional
        ``ndim * ndim`` values, row-major; default identity.

    Returns
    -------
    ndarray, shape (4, 4)
        ``affine[:ndim, :ndim] = direction @ diag(spacing)``, ``affine[:ndim, 3] = origin``.
    """
    if len(spacing_mm) < ndim:
        raise OptionError(
            f"spacing_mm has {len(spacing_mm)} values for a {ndim}-D volume; give {ndim}"
        )
    rot = np.eye(ndim) if direction is None else np.asarray(direction, dtype=np.float64)
    if rot.size != ndim * ndim:
        raise OptionError(
            f"direction has {rot.size} values for a {ndim}-D volume; give {ndim * ndim}"
        )
    affine = np.eye(4)
    affine[:ndim, :ndim] = rot.reshape(ndim, ndim) * np.asarray(spacing_mm[:ndim], dtype=np.float64)
    if origin is not None:
        if len(origin) != ndim:
            raise OptionError(f"origin has {len(origin)} values for a {ndim}-D volume; give {ndim}")
        affine[:ndim, 3] = np.asarray(origin, dtype=np.float64)
    return affine


def write_nifti(
    path: Path,
    labels: Any,
    *,
    spacing_mm: Sequence[float] = (1.0, 1.0, 1.0),
    origin: Sequence[float] | None = None,
    direction: Sequence[float] | None = None,
) -> None:
    """Write ``labels`` as NIfTI-1; use :func:`segeval.io.write_volume` instead.

    The qform and sform both hold the affine (code 1, scanner), so that
    nibabel and ITK agree on the geometry; ``.nii.gz`` is compressed
    without a timestamp, so the same array gives the same file.
    """
    arr = np.asarray(labels)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    affine = nifti_affine(min(arr.ndim, 3), spacing_mm, origin, direction)
    image: Any = nib.Nifti1Image(arr, affine, dtype=arr.dtype)  # type: ignore[no-untyped-call]
    image.header.set_qform(affine, code=1)
    image.header.set_sform(affine, code=1)
    image.header.set_xyzt_units("mm")
    content = image.to_bytes()
    if path.name.lower().endswith(".gz"):
        content = gzip.compress(content, compresslevel=6, mtime=0)
    path.write_bytes(content)


write = write_nifti
