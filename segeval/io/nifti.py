"""NIfTI-1/NIfTI-2 reader and writer (nibabel), with a fast gzip path.

Decompressing ``.nii.gz`` is most of the time spent reading a case, so the
file is read as raw bytes and inflated by the fastest zlib-compatible decoder
that is importable. Measured with ``benchmarks/bench_read.py`` on a
512 x 512 x 256 label map: zlib-ng about 4x and ISA-L about 3x faster than the
standard library's zlib. (ISA-L wins on poorly compressible data such as CT
intensities, but label maps compress 100-fold or more, and there zlib-ng is
ahead.) The output goes straight into one array sized from the gzip trailer,
1 MiB at a time (:func:`gunzip` says why that is several times faster than
one call returning the whole volume). nibabel parses only the header and its
extensions; the voxels are a zero-copy view of the array.
"""

from __future__ import annotations

import functools
import gzip
import importlib
import math
import struct
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
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
    checked_array,
    describe_content,
    sniff,
    split_channels,
)
from segeval.volume import LabelVolume

__all__ = ["read", "read_nifti", "write", "write_nifti"]

#: zlib-compatible modules tried in order, fastest first (see the module docstring).
GZIP_DECODERS: tuple[str, ...] = ("zlib_ng.zlib_ng", "isal.isal_zlib", "zlib")

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


@functools.cache
def gzip_decoder() -> ModuleType:
    """Return the fastest importable zlib-compatible module (``decompressobj``, ``error``).

    Imported on first use, so that ``import segeval`` does not load it and a
    platform without the optional wheels falls back to the standard library.
    """
    for name in GZIP_DECODERS[:-1]:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return importlib.import_module(GZIP_DECODERS[-1])


# Decompressed bytes asked of the decoder per call, and compressed bytes given
# to it per call. Each piece is copied into the volume's array at once, so the
# pieces are small, short-lived allocations that the C allocator hands out
# again from memory the process already has. Decompressing the whole stream in
# one call instead returns a fresh buffer the size of the volume, and the
# kernel then has to zero every 4 KiB page of it: measured on 200 label maps of
# 8 MiB, that page faulting took 0.9 s of system time against 0.3 s of
# inflating (``benchmarks/bench_read.py`` shows both).
_OUT_PIECE = 1 << 20
_IN_PIECE = 1 << 16


def gunzip(raw: bytes, *, shown: str, decoder: ModuleType | None = None) -> np.ndarray[Any, Any]:
    """Decompress a whole gzip file (every member) held in memory, into one array.

    The output is written piece by piece into an array sized from the gzip
    trailer (the size of the last member modulo 2**32, a hint that is right for
    every single-member file under 4 GiB; the array grows when it is wrong).

    Parameters
    ----------
    raw : bytes
        The file's bytes, starting with the gzip magic.
    shown : str
        The file name for messages.
    decoder : module, optional
        A zlib-compatible module; default :func:`gzip_decoder`.

    Returns
    -------
    numpy.ndarray
        The decompressed content, as a writable uint8 array.

    Raises
    ------
    ReadError
        The stream is corrupt (bad data or checksum) or ends early.
    """
    zlib_mod = decoder if decoder is not None else gzip_decoder()
    hint = int.from_bytes(raw[-4:], "little") if len(raw) >= 18 else 0
    out = np.empty(max(hint, 1), dtype=np.uint8)
    filled = 0
    view = memoryview(raw)
    start = 0
    # One decompressobj per gzip member: tools such as bgzip and pigz -i
    # write several, and a single-shot decompress would silently stop
    # after the first.
    while raw[start : start + 2] == _GZIP_MAGIC:
        inflater = zlib_mod.decompressobj(31)
        at = start
        try:
            while not inflater.eof and at < len(raw):
                data: bytes | memoryview = view[at : at + _IN_PIECE]
                at += len(data)
                while data and not inflater.eof:
                    piece = inflater.decompress(data, _OUT_PIECE)
                    if filled + len(piece) > out.size:
                        out = _grown(out, filled, filled + len(piece))
                    out[filled : filled + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
                    filled += len(piece)
                    data = inflater.unconsumed_tail
        except zlib_mod.error as exc:
            raise ReadError(
                f"{shown}: corrupt gzip stream ({exc}); "
                "the file is damaged, re-copy or re-export it"
            ) from None
        if not inflater.eof:
            raise ReadError(
                f"{shown}: truncated gzip stream (the compressed data ends early); "
                "the file was not copied or written completely, re-copy or re-export it"
            )
        # Like gzip.decompress, tolerate the zero padding some writers add.
        start = _skip_zeros(view, at - len(inflater.unused_data))
    return out[:filled]


def _skip_zeros(view: memoryview, start: int) -> int:
    """Index of the first non-zero byte of ``view`` at or after ``start`` (its length if none).

    Reads only the padding (in 64 KiB blocks), not the rest of the file: a
    bgzip file has a member every 64 KiB.
    """
    n = len(view)
    while start < n:
        if view[start] != 0:
            return start
        block = bytes(view[start : start + _IN_PIECE])
        kept = block.lstrip(b"\x00")
        if kept:
            return start + len(block) - len(kept)
        start += len(block)
    return n


def _grown(out: np.ndarray[Any, Any], filled: int, needed: int) -> np.ndarray[Any, Any]:
    """A larger array holding ``out[:filled]`` (at least ``needed`` bytes, doubling)."""
    bigger = np.empty(max(needed, 2 * out.size), dtype=np.uint8)
    bigger[:filled] = out[:filled]
    return bigger


def _header_length(head: bytes, kind: str) -> int:
    """Bytes from the start of a NIfTI file to its voxels (header and extensions), from ``vox_offset``."""
    size = _HEADER_SIZE[kind]
    order = "<" if int.from_bytes(head[:4], "little") == size else ">"
    field = (order + "f", 108) if kind == "nifti1" else (order + "q", 168)
    (vox_offset,) = struct.unpack_from(field[0], head, field[1])
    if not math.isfinite(vox_offset):
        return size + 4
    return max(size + 4, int(vox_offset))


def _as_written(value: Any) -> float:
    """The float64 a float32 header field was meant to hold (0.7, not 0.699999988).

    NIfTI stores spacing and the affine as float32; the shortest decimal that
    round-trips in float32 is what the writer asked for, and it keeps
    reports and comparisons with NRRD/MetaImage (float64) clean.
    """
    return float(str(np.float32(value)))


def read(path: Path, *, shown: str, fmt_name: str = "NIfTI", allow_channels: bool = False) -> LabelVolume:
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
        raw = path.read_bytes()
    except OSError as exc:
        raise ReadError(
            f"{shown}: cannot be read ({exc.strerror or exc}); check its permissions"
        ) from None
    compressed = raw[:2] == _GZIP_MAGIC
    data: bytes | np.ndarray[Any, Any] = gunzip(raw, shown=shown) if compressed else raw
    del raw  # the compressed bytes are no longer needed; free them before decoding

    head = bytes(data[:4096])
    kind = sniff(head)
    if kind not in _HEADER_SIZE:
        inside = "its gzip content " if compressed else ""
        what = describe_content(head) if head else "is empty"
        raise ReadError(f"{shown}: not a NIfTI file ({inside}{what}); re-export it as NIfTI")
    if len(data) < _HEADER_SIZE[kind]:
        raise ReadError(
            f"{shown}: truncated NIfTI file ({len(data)} bytes, shorter than the "
            f"{_HEADER_SIZE[kind]}-byte header); re-copy or re-export it"
        )
    image_class = nib.Nifti1Image if kind == "nifti1" else nib.Nifti2Image
    try:
        # nibabel parses the header and extensions; the voxels stay where they are.
        # Any: nibabel's header and proxy methods are unannotated.
        image: Any = image_class.from_bytes(bytes(data[: _header_length(head, kind)]))
        proxy: Any = image.dataobj
        shape = tuple(int(n) for n in proxy.shape)
        stored = np.dtype(proxy.dtype)
        offset = int(proxy.offset)
        # The image moves scl_slope/scl_inter from its header copy into the
        # proxy (1 and 0 when the file has none, or slope 0 or NaN).
        slope, inter = float(proxy.slope), float(proxy.inter)
    except _NIBABEL_ERRORS as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ReadError(f"{shown}: invalid NIfTI header ({reason}); re-export the file") from None

    n_bytes = int(np.prod(shape, dtype=np.int64)) * stored.itemsize
    if len(data) < offset + n_bytes:
        raise ReadError(
            f"{shown}: truncated NIfTI file (the header needs {offset + n_bytes} bytes, "
            f"{n_bytes} of voxels after {offset}, but the {'decompressed ' if compressed else ''}"
            f"file has {len(data)}); re-copy or re-export it"
        )
    check_dtype(stored, shown)
    scaled = slope != 1.0 or inter != 0.0
    if scaled:
        # A real scaling changes the values: let nibabel apply it (float) so
        # that the core sees, and rejects, non-integral labels.
        try:
            arr = np.asanyarray(image_class.from_bytes(bytes(data)).dataobj)
        except _NIBABEL_ERRORS as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ReadError(f"{shown}: invalid NIfTI voxel data ({reason}); re-export the file") from None
    else:
        # A view of the decompressed bytes: no copy of the volume.
        count = n_bytes // stored.itemsize
        arr = np.frombuffer(data, dtype=stored, count=count, offset=offset).reshape(
            shape, order="F"
        )
    arr = checked_array(arr, shown)
    arr, channel_axis = split_channels(arr, shown, allow_channels)

    n_spatial = min(arr.ndim, 3)
    affine = np.asarray(image.affine, dtype=np.float64)
    axes = affine[:3, :3]
    norms = np.linalg.norm(axes, axis=0)
    # A zero column (degenerate header) would divide by zero; keep it zero.
    direction = axes / np.where(norms > 0, norms, 1.0)
    zooms = image.header.get_zooms()
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
