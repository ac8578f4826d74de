"""NumPy ``.npy`` and ``.npz`` label arrays.

These files carry no geometry: spacing comes from the caller (``--spacing``,
in array-axis order) or is assumed to be 1 mm with ``spacing_given=False``
so that the caller can warn; origin and direction are left empty, and the
geometry check skips them.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from segeval.errors import ReadError, SegevalError
from segeval.io._content import check_voxels, checked_array
from segeval.volume import LabelVolume

__all__ = ["read", "read_npy", "write", "write_npy"]


def read(path: Path, *, shown: str, fmt_name: str = "NumPy .npy", allow_channels: bool = False,
         allow_outside_data_files: bool = False) -> LabelVolume:
    """The reader of :data:`segeval.io.FORMATS`: :func:`read_npy` (an array has no channel axis)."""
    return read_npy(path, shown=shown)


def read_npy(path: Path, *, shown: str) -> LabelVolume:
    """Read an ``.npy`` or single-array ``.npz`` file; use :func:`segeval.io.read_volume`.

    Parameters
    ----------
    path : Path
        The file, already checked to exist and to start like ``.npy`` or zip.
    shown : str
        The path as the user gave it, for messages.

    Returns
    -------
    LabelVolume
        The array as stored (axis order untouched), read-only; 1 mm spacing
        with ``spacing_given=False`` (the caller's spacing replaces it, see
        :func:`segeval.volume.with_spacing`); no origin or direction.
        ``meta["key"]`` names the array of an ``.npz``.
    """
    meta: dict[str, Any] = {}
    try:
        # Our own handle: np.load leaks the one it opens when a zip is damaged.
        with path.open("rb") as fh:
            arr = _load(fh, path, shown, meta)
    except SegevalError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ReadError(
                f"{shown}: holds Python objects (pickled), not a numeric array; "
                "save a numeric label array"
            ) from None
        raise ReadError(
            f"{shown}: damaged or truncated NumPy file ({_one_line(exc)}); re-export it"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as exc:
        raise ReadError(
            f"{shown}: damaged or truncated NumPy file ({_one_line(exc)}); re-export it"
        ) from None

    arr = checked_array(np.asarray(arr), shown)
    meta["dtype"] = arr.dtype.name
    return LabelVolume(
        labels=arr,
        spacing_mm=(1.0,) * arr.ndim,
        origin=(),
        direction=(),
        path=shown,
        spacing_given=False,
        meta=meta,
    )


def _load(fh: BinaryIO, path: Path, shown: str, meta: dict[str, Any]) -> Any:
    """The one array of an open ``.npy``/``.npz`` file; records format and key in ``meta``.

    The header is read first and its declared size checked against the voxel
    limit and against the bytes the file (or the zip member) holds, before
    anything the size of the array is allocated.
    """
    if path.name.lower().endswith(".npz"):
        meta["format"] = "npz"
        with zipfile.ZipFile(fh) as archive:
            members = [i for i in archive.infolist() if not i.is_dir()]
            if len(members) != 1:
                listed = ", ".join(i.filename.removesuffix(".npy") for i in members) if members else "none"
                raise ReadError(
                    f"{shown}: holds {len(members)} arrays ({listed}); an .npz must hold exactly "
                    "one, e.g. np.savez_compressed(path, labels=array)"
                )
            info = members[0]
            meta["key"] = info.filename.removesuffix(".npy")
            with archive.open(info) as member:
                return _read_array(member, shown, info.file_size, meta)
    meta["format"] = "npy"
    return _read_array(fh, shown, os.fstat(fh.fileno()).st_size, meta)


def _read_array(stream: Any, shown: str, size: int, meta: dict[str, Any]) -> np.ndarray[Any, Any]:
    """An ``.npy`` array from ``stream`` (``size`` bytes in all), reading no more than its header declares."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:  # 3.0 (UTF-8 field names) has no public reader of its own
        fmt: Any = np.lib.format
        shape, fortran, dtype = fmt._read_array_header(stream, version)
    if dtype.hasobject:
        raise ReadError(f"{shown}: holds Python objects (pickled), not a numeric array; save a numeric label array")
    if any(int(n) < 0 for n in shape):
        raise ReadError(f"{shown}: damaged NumPy header (shape {shape}); re-export it")
    voxels = math.prod(int(n) for n in shape)
    check_voxels(voxels, tuple(shape), shown)
    n_bytes = voxels * dtype.itemsize
    header = stream.tell()
    if n_bytes > size - header:
        raise ReadError(f"{shown}: damaged or truncated NumPy file (its header declares {n_bytes} bytes of data, shape "
                        f"{shape} {dtype}, but the file holds {max(size - header, 0)}); re-export it")
    if size - header > n_bytes:
        meta["notes"] = [(f"{shown} holds {size - header - n_bytes} more bytes than its header declares; "
                          "they were not read")]
    buffer = np.empty(n_bytes, dtype=np.uint8)
    view = buffer.data
    filled = 0
    while filled < n_bytes:
        got = stream.readinto(view[filled:])
        if not got:
            raise ReadError(f"{shown}: damaged or truncated NumPy file (the data ends after {filled} of {n_bytes} bytes); "
                            "re-export it")
        filled += got
    arr = buffer.view(dtype)
    return arr.reshape(shape[::-1]).transpose() if fortran else arr.reshape(shape)


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line, for embedding in ours."""
    return " ".join(str(exc).split()) or type(exc).__name__


def write_npy(path: Path, labels: Any, **geometry: Any) -> None:
    """Write ``labels`` to ``.npy``, or to ``.npz`` under the key ``labels`` (compressed).

    ``geometry`` (spacing, origin, direction) is not stored: these files hold none.
    """
    arr = np.asarray(labels)
    if path.name.lower().endswith(".npz"):
        np.savez_compressed(path, labels=arr)
    else:
        np.save(path, arr)


write = write_npy
