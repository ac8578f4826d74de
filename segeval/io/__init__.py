"""Read label volumes from disk: NIfTI, NRRD, MetaImage and NumPy files.

:func:`read_volume` picks the reader from the file name's suffix and checks
the first bytes of the file against it, so that a file that is not what its
name says (a zip saved as ``.nii.gz``, a Git LFS pointer, an empty or
truncated download) fails with one line that names the file and says what
to do, never with a traceback from nibabel, SimpleITK or zlib.

Every reader returns a :class:`~segeval.volume.LabelVolume` whose array is in
NIfTI voxel order (x, y, z), in its stored dtype, read-only, and whose origin
and direction are in NIfTI's RAS+ world (ITK's LPS is converted on read).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segeval.errors import InputError, OptionError, ReadError
from segeval.volume import LabelVolume

__all__ = ["VOLUME_SUFFIXES", "case_id", "read_volume", "volume_suffix", "write_volume"]

#: File name suffixes segeval reads, longest first so that ``.nii.gz`` wins over ``.nii``.
VOLUME_SUFFIXES: tuple[str, ...] = (
    ".nii.gz",
    ".nii",
    ".nrrd",
    ".nhdr",
    ".mha",
    ".mhd",
    ".npy",
    ".npz",
)

_DISPLAY_ORDER = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd", ".npy", ".npz")

# suffix -> (format name for messages, content kinds accepted for it)
_EXPECTED: dict[str, tuple[str, frozenset[str]]] = {
    # A gzip-compressed NIfTI named .nii, or an uncompressed one named .nii.gz,
    # is still NIfTI: the content picks the decompression, the name the format.
    ".nii.gz": ("NIfTI", frozenset({"gzip", "nifti1", "nifti2"})),
    ".nii": ("NIfTI", frozenset({"gzip", "nifti1", "nifti2"})),
    ".nrrd": ("NRRD", frozenset({"nrrd"})),
    ".nhdr": ("NRRD", frozenset({"nrrd"})),
    ".mha": ("MetaImage", frozenset({"metaimage"})),
    ".mhd": ("MetaImage", frozenset({"metaimage"})),
    ".npy": ("NumPy .npy", frozenset({"npy"})),
    ".npz": ("NumPy .npz", frozenset({"zip"})),
}

# content kind -> (what it looks like, the suffix it should have or None)
_KINDS: dict[str, tuple[str, str | None]] = {
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

_SNIFF_BYTES = 4096
_CHANNEL_TAG = re.compile(r"(.+)_0000$")
_METAIMAGE_KEY = re.compile(rb"^\s*(ObjectType|NDims|DimSize|ElementType)\s*=", re.MULTILINE)


def volume_suffix(path: str | os.PathLike[str]) -> str | None:
    """Return the volume suffix of ``path`` (lower case, e.g. ``".nii.gz"``), or None.

    Parameters
    ----------
    path : str or path-like
        A file name or path; only the name is looked at.

    Returns
    -------
    str or None
        One of :data:`VOLUME_SUFFIXES`, or None when the name has none of them.

    Examples
    --------
    >>> volume_suffix("labelsTs/CASE_001.NII.GZ")
    '.nii.gz'
    >>> volume_suffix("notes.txt") is None
    True
    """
    name = Path(path).name.lower()
    for suffix in VOLUME_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix
    return None


def case_id(path: str | os.PathLike[str]) -> str:
    """Return the case id of a volume file: its name minus the volume suffix and ``_0000``.

    Cases pair across the prediction and ground-truth folders by this id.
    nnU-Net names the channels of an input image ``<case>_0000``,
    ``<case>_0001``...; only the first channel's tag is removed, since a
    prediction named after its input carries ``_0000`` while ids such as
    ``case_0001`` are real case numbers.

    Parameters
    ----------
    path : str or path-like
        A volume file name or path.

    Returns
    -------
    str
        The case id. A name without a volume suffix is returned unchanged.

    Examples
    --------
    >>> case_id("imagesTs/case_001_0000.nii.gz")
    'case_001'
    >>> case_id("case_001.nrrd")
    'case_001'
    """
    name = Path(path).name
    suffix = volume_suffix(name)
    stem = name[: -len(suffix)] if suffix else name
    match = _CHANNEL_TAG.fullmatch(stem)
    return match.group(1) if match else stem


def _sniff(head: bytes) -> str | None:
    """Name the kind of content that starts with ``head`` (a key of ``_KINDS``), or None."""
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


def _describe_content(head: bytes) -> str:
    """Say what ``head`` looks like, for a message: its first bytes and, when known, its kind."""
    kind = _sniff(head)
    shown = f"starts with {head[:8]!r}"
    if kind is None:
        return shown
    return f"{shown}, which looks like {_KINDS[kind][0]}"


def _open_error(path: Path, shown: str) -> ReadError | None:
    """Return the ReadError for a path that cannot be opened as a regular file, or None."""
    if not path.exists():
        where = "" if path.parent.is_dir() else f" (folder {path.parent} does not exist either)"
        return ReadError(f"{shown}: no such file{where}; check the path")
    if path.is_dir():
        return ReadError(
            f"{shown}: is a directory, not a volume file; "
            "give a file (use `segeval batch` for folders)"
        )
    if not path.is_file():
        return ReadError(f"{shown}: not a regular file; give a volume file")
    return None


def _axcodes(direction_ras: np.ndarray[Any, Any]) -> tuple[str | None, ...]:
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


def _check_dtype(dtype: np.dtype[Any], shown: str) -> None:
    """Raise InputError unless ``dtype`` can hold labels (bool, int) or probabilities (float)."""
    if dtype.fields is not None or dtype.kind not in "biuf":
        raise InputError(
            f"{shown}: voxel type {dtype} is not a label or probability type; "
            "save integer labels (or float probabilities)"
        )


def _checked_array(arr: np.ndarray[Any, Any], shown: str) -> np.ndarray[Any, Any]:
    """Return ``arr`` in native byte order and read-only, or raise InputError for a non-numeric one.

    Every reader ends here, so that all of them hand the core the same kind
    of array whatever the file's byte order or the library that decoded it.
    """
    _check_dtype(arr.dtype, shown)
    if arr.ndim == 0:
        raise InputError(f"{shown}: holds a single value, not a volume; save the label array")
    if not arr.dtype.isnative:
        # Big-endian files are rare; one copy here spares every consumer
        # (bincount, numba, CuPy) the non-native dtype.
        arr = arr.astype(arr.dtype.newbyteorder("="))
    arr.flags.writeable = False
    return arr


def _split_channels(
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


def read_volume(
    path: str | os.PathLike[str],
    *,
    spacing_mm: Sequence[float] | None = None,
    allow_channels: bool = False,
) -> LabelVolume:
    """Read a label volume from a NIfTI, NRRD, MetaImage or NumPy file.

    The reader is chosen by the file name's suffix (one of
    :data:`VOLUME_SUFFIXES`, case-insensitive) and the file's first bytes are
    checked against it.

    Parameters
    ----------
    path : str or path-like
        The file. ``.nii``/``.nii.gz`` (nibabel; either may or may not be
        gzip-compressed), ``.nrrd``/``.nhdr`` and ``.mha``/``.mhd``
        (SimpleITK), ``.npy``/``.npz`` (NumPy; an ``.npz`` holds one array).
    spacing_mm : sequence of float, optional
        Voxel size in mm per array axis, for ``.npy``/``.npz`` files, which
        carry none; 1 mm is assumed (``spacing_given=False``) when omitted.
        Files with a header use the header's spacing and ignore this.
    allow_channels : bool, default False
        Keep a non-singleton 4th axis of a NIfTI/ITK image as channels (a
        soft prediction with one channel per class), shape (x, y, z, c);
        ``meta["channel_axis"]`` is then 3. When False such a file is an
        :class:`~segeval.errors.InputError`.

    Returns
    -------
    LabelVolume
        ``labels`` in NIfTI voxel order (x, y, z), in the stored dtype (native
        byte order), read-only since it may share memory with the decoded
        file buffer: copy it to modify it. ``origin`` and ``direction`` are in
        RAS+ world coordinates (empty for NumPy files). ``meta`` holds
        ``format``, ``dtype`` (as stored on disk) and, for NIfTI/ITK files,
        ``axcodes`` (e.g. ``("R", "A", "S")``).

    Raises
    ------
    ReadError
        The file is missing, a directory, empty, truncated, corrupt, has an
        unknown suffix or is not the format its name says.
    InputError
        The file was read but holds something that is not a label volume
        (more than 4 axes, channels without ``allow_channels``, a non-numeric
        dtype).
    OptionError
        ``spacing_mm`` does not have one positive value per array axis.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "case_001.nii.gz")
    >>> _ = write_volume(path, np.zeros((4, 5, 6), np.uint8), spacing_mm=(0.8, 0.8, 2.5))
    >>> vol = read_volume(path)
    >>> vol.shape, vol.spacing_mm, vol.labels.dtype.name
    ((4, 5, 6), (0.8, 0.8, 2.5), 'uint8')
    """
    shown = os.fspath(path)
    file = Path(shown)
    error = _open_error(file, shown)
    if error is not None:
        raise error
    suffix = volume_suffix(file)
    try:
        size = file.stat().st_size
        with file.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        reason = exc.strerror or exc
        raise ReadError(f"{shown}: cannot be read ({reason}); check its permissions") from None
    if suffix is None:
        known = ", ".join(_DISPLAY_ORDER)
        kind = _sniff(head)
        hint = ""
        if kind is not None and _KINDS[kind][1] is not None:
            what, rename = _KINDS[kind]
            hint = f" (its content looks like {what}; rename it to {rename})"
        raise ReadError(f"{shown}: unknown volume suffix{hint}; segeval reads {known}")
    if size == 0:
        raise ReadError(
            f"{shown}: empty file (0 bytes); it was not written completely, re-export it"
        )
    fmt_name, accepted = _EXPECTED[suffix]
    kind = _sniff(head)
    if kind not in accepted:
        rename = _KINDS[kind][1] if kind is not None else None
        if kind == "git-lfs":
            hint = "fetch the real file with `git lfs pull`"
        elif kind == "gzip":
            hint = (
                f"it is gzip-compressed, which {suffix} files are not; decompress or re-export it"
            )
        elif rename is not None and rename != suffix:
            hint = f"rename it to {rename} or re-export it as {fmt_name}"
        else:
            hint = f"re-export it as {fmt_name} or check that it was written completely"
        raise ReadError(f"{shown}: not a {fmt_name} file ({_describe_content(head)}); {hint}")

    # Readers import their library only when a file of theirs is read, so
    # reading a .npy never pays for importing SimpleITK.
    if fmt_name == "NIfTI":
        from segeval.io.nifti import read_nifti

        return read_nifti(file, shown=shown, allow_channels=allow_channels)
    if fmt_name in ("NRRD", "MetaImage"):
        from segeval.io.itk import read_itk

        return read_itk(file, shown=shown, fmt_name=fmt_name, allow_channels=allow_channels)
    from segeval.io.npy import read_npy

    return read_npy(file, shown=shown, spacing_mm=spacing_mm)


def write_volume(
    path: str | os.PathLike[str],
    labels: Any,
    *,
    spacing_mm: Sequence[float] = (1.0, 1.0, 1.0),
    origin: Sequence[float] | None = None,
    direction: Sequence[float] | None = None,
) -> Path:
    """Write a label array to a volume file, in the format its suffix names.

    Used by the tests, the benchmarks and the sample-data script; the
    round trip ``read_volume(write_volume(p, a, ...))`` gives back ``a``
    with the same dtype, axis order and geometry (bool is stored as uint8).

    Parameters
    ----------
    path : str or path-like
        Destination; its suffix (one of :data:`VOLUME_SUFFIXES`) picks the
        format. ``.nii.gz`` is gzip-compressed deterministically (no
        timestamp), NRRD/MetaImage are written compressed.
    labels : ndarray, shape (x, y, z) or (x, y)
        The voxel array in NIfTI voxel order.
    spacing_mm : sequence of float, default (1, 1, 1)
        Voxel size per spatial axis, in mm (only as many as the array has
        axes are used). Not stored in ``.npy``/``.npz`` files.
    origin : sequence of float, optional
        World position of voxel (0, 0, 0) in RAS+ mm; default all zeros.
    direction : sequence of float, optional
        Row-major ``ndim x ndim`` direction cosines in RAS+; default identity.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    OptionError
        The suffix is not a volume suffix, or the geometry does not fit the array.
    """
    file = Path(path)
    suffix = volume_suffix(file)
    if suffix is None:
        raise OptionError(
            f"{os.fspath(path)}: unknown volume suffix; use one of {', '.join(_DISPLAY_ORDER)}"
        )
    if suffix in (".npy", ".npz"):
        from segeval.io.npy import write_npy

        write_npy(file, labels)
        return file
    if suffix in (".nii", ".nii.gz"):
        from segeval.io.nifti import write_nifti

        write_nifti(file, labels, spacing_mm=spacing_mm, origin=origin, direction=direction)
        return file
    from segeval.io.itk import write_itk

    write_itk(file, labels, spacing_mm=spacing_mm, origin=origin, direction=direction)
    return file
