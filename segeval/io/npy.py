"""NumPy ``.npy`` and ``.npz`` label arrays.

These files carry no geometry: spacing comes from the caller (``--spacing``,
in array-axis order) or is assumed to be 1 mm with ``spacing_given=False``
so that the caller can warn; origin and direction are left empty, and the
geometry check skips them.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from segeval.errors import ReadError
from segeval.io._content import checked_array
from segeval.volume import LabelVolume

__all__ = ["read", "read_npy", "write", "write_npy"]


def read(path: Path, *, shown: str, fmt_name: str = "NumPy .npy", allow_channels: bool = False) -> LabelVolume:
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
    except ReadError:
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
    """The one array of an open ``.npy``/``.npz`` file; records format and key in ``meta``."""
    if path.name.lower().endswith(".npz"):
        meta["format"] = "npz"
        with np.load(fh, allow_pickle=False) as archive:
            keys = list(archive.files)
            if len(keys) != 1:
                listed = ", ".join(keys) if keys else "none"
                raise ReadError(
                    f"{shown}: holds {len(keys)} arrays ({listed}); an .npz must hold exactly "
                    "one, e.g. np.savez_compressed(path, labels=array)"
                )
            meta["key"] = keys[0]
            return archive[keys[0]]
    meta["format"] = "npy"
    return np.load(fh, allow_pickle=False)


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
