"""What a file's bytes are, and the checks every reader's array passes, shared by the readers.

:func:`sniff` names the kind of content a file starts with (NIfTI, gzip, a
Git LFS pointer, an HTML error page...), so that a file that is not what its
name says gets one line saying what it is. :func:`checked_array` is where
every reader's array ends: native byte order, a label or probability dtype,
read-only, whatever library decoded it.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from segeval.errors import InputError, OptionError

__all__ = ["KINDS", "MAX_VOXELS", "axcodes", "check_dtype", "check_voxels", "checked_array", "describe_content",
           "max_voxels", "sniff", "split_channels"]

#: The largest volume segeval reads by default, in voxels: 4 Gi, a 2048 x 2048 x 1024
#: volume, 4 GiB of uint8 (the environment variable ``SEGEVAL_MAX_VOXELS`` changes it).
#: Larger declared sizes are refused before anything is allocated, so a forged header
#: cannot make a reader ask for terabytes.
MAX_VOXELS = 1 << 32


def max_voxels() -> int:
    """The voxel limit in force: ``SEGEVAL_MAX_VOXELS`` when set (a positive integer), else :data:`MAX_VOXELS`."""
    raw = os.environ.get("SEGEVAL_MAX_VOXELS", "").strip().replace("_", "")
    if not raw:
        return MAX_VOXELS
    if not raw.isdigit() or int(raw) < 1 or len(raw) > 30:
        raise OptionError(f"SEGEVAL_MAX_VOXELS={raw[:40]!r}: give a positive whole number of voxels")
    return int(raw)


def check_voxels(voxels: int, shape: tuple[int, ...], shown: str) -> None:
    """Refuse a declared volume past :func:`max_voxels`, with one line naming the file and its size."""
    limit = max_voxels()
    if voxels > limit:
        raise InputError(
            f"{shown}: its header declares {voxels:,} voxels (shape {shape}), more than segeval reads "
            f"({limit:,}; set SEGEVAL_MAX_VOXELS to allow more)"
        )


_METAIMAGE_KEY = re.compile(rb"^\s*(ObjectType|NDims|DimSize|ElementType)\s*=", re.MULTILINE)

#: content kind -> (what it looks like, the suffix it should have or None)
KINDS: dict[str, tuple[str, str | None]] = {
    "gzip": ("gzip-compressed data", None),
    "nifti1": ("a NIfTI-1 image", ".nii"),
    "nifti1-pair": ("a NIfTI-1/ANALYZE .hdr header without its image data", None),
    "nifti2": ("a NIfTI-2 image", ".nii"),
    "nrrd": ("an NRRD image", ".nrrd"),
    "metaimage": ("a MetaImage header", ".mha"),
    "npy": ("a NumPy .npy array", ".npy"),
    "zip": ("a zip archive (e.g. NumPy .npz)", ".npz"),
    "hdf5": ("an HDF5 file", None),
    "dicom": ("a DICOM file", None),
    "git-lfs": ("a Git LFS pointer, not the file itself", None),
    "html": ("an HTML page (a failed download?)", None),
}

def sniff(head: bytes) -> str | None:
    """Name the kind of content that starts with ``head`` (a key of :data:`KINDS`), or None."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:6] == b"\x93NUMPY":
        return "npy"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:7] == b"NRRD000":
        return "nrrd"
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        return "hdf5"
    if head[:23] == b"version https://git-lfs":
        return "git-lfs"
    if head[128:132] == b"DICM":
        return "dicom"
    if len(head) >= 4:
        sizeof_hdr = (int.from_bytes(head[:4], "little"), int.from_bytes(head[:4], "big"))
        if 348 in sizeof_hdr:
            # A header cut short is still NIfTI: the reader reports it as truncated.
            if len(head) < 348 or head[344:348] == b"n+1\x00":
                return "nifti1"
            return "nifti1-pair"
        if 540 in sizeof_hdr and head[4:8] == b"n+2\x00":
            return "nifti2"
    if _METAIMAGE_KEY.search(head[:1024]):
        return "metaimage"
    if head.lstrip()[:5].lower() in (b"<!doc", b"<html"):
        return "html"
    return None


def describe_content(head: bytes) -> str:
    """Say what ``head`` looks like, for a message: its first bytes and, when known, its kind."""
    kind = sniff(head)
    shown = f"starts with {head[:8]!r}"
    if kind is None:
        return shown
    return f"{shown}, which looks like {KINDS[kind][0]}"


def axcodes(direction_ras: np.ndarray[Any, Any]) -> tuple[str | None, ...]:
    """Orientation codes, e.g. ``("R", "A", "S")``, of an ``n x n`` RAS+ direction matrix.

    Used for every format, so that a NIfTI and an NRRD of the same image
    report the same codes (ITK's LPS is converted to RAS+ before this).
    """
    n = direction_ras.shape[0]
    # Axis-aligned (a signed permutation, as almost every label map is): each
    # column names its axis directly. nibabel's general rule (an SVD, then the
    # best assignment) gives the same codes here and costs 0.6 ms a file.
    rounded = np.rint(direction_ras)
    if n <= 3 and np.allclose(direction_ras, rounded, rtol=0.0, atol=1e-6) and (
        np.all(np.abs(rounded).sum(axis=0) == 1) and np.all(np.abs(rounded).sum(axis=1) == 1)
    ):
        names = ("LR", "PA", "IS")  # (negative, positive) end of the R, A, S axes
        rows = np.argmax(np.abs(rounded), axis=0)
        return tuple(names[r][int(rounded[r, c] > 0)] for c, r in enumerate(rows))
    import nibabel as nib

    affine = np.eye(4)
    affine[:n, :n] = direction_ras
    codes = nib.aff2axcodes(affine)  # type: ignore[no-untyped-call]  # nibabel leaves it unannotated
    return tuple(codes)[:n]


def check_dtype(dtype: np.dtype[Any], shown: str) -> None:
    """Raise InputError unless ``dtype`` can hold labels (bool, int) or probabilities (float)."""
    if dtype.fields is not None or dtype.kind not in "biuf":
        raise InputError(
            f"{shown}: voxel type {dtype} is not a label or probability type; "
            "save integer labels (or float probabilities)"
        )


def checked_array(arr: np.ndarray[Any, Any], shown: str) -> np.ndarray[Any, Any]:
    """Return ``arr`` in native byte order and read-only, or raise InputError for a non-numeric one.

    Every reader ends here, so that all of them hand the core the same kind
    of array whatever the file's byte order or the library that decoded it.
    """
    check_dtype(arr.dtype, shown)
    if arr.ndim == 0:
        raise InputError(f"{shown}: holds a single value, not a volume; save the label array")
    if not arr.dtype.isnative:
        # Big-endian files are rare; one copy here spares every consumer
        # (bincount, numba, CuPy) the non-native dtype.
        arr = arr.astype(arr.dtype.newbyteorder("="))
    arr.flags.writeable = False
    return arr


def split_channels(
    arr: np.ndarray[Any, Any], shown: str, allow_channels: bool
) -> tuple[np.ndarray[Any, Any], int | None]:
    """Drop singleton axes after the 3rd and find the channel axis of an image.

    Returns the array (a view) and the channel axis (3) or None. NIfTI and
    ITK store vector images as (x, y, z, 1, c) (the 4th axis being time),
    so that layout is a 4-D (x, y, z, c) image too.
    """
    while arr.ndim > 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 5 and arr.shape[3] == 1:
        arr = arr[:, :, :, 0, :]
    if arr.ndim > 4:
        raise InputError(
            f"{shown}: {arr.ndim}-D image of shape {arr.shape}; segeval reads 3-D label maps "
            "(or 4-D with one channel per class): save one 3-D volume per file"
        )
    if arr.ndim == 4:
        if not allow_channels:
            raise InputError(
                f"{shown}: 4-D image with {arr.shape[3]} volumes along the 4th axis "
                f"(shape {arr.shape}); "
                "save one 3-D label map per file (a soft prediction with one channel per class "
                "needs allow_channels=True)"
            )
        return arr, 3
    return arr, None
