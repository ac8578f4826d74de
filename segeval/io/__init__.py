"""Read and write label volumes: NIfTI, NRRD, MetaImage and NumPy files, from one table of formats.

:func:`read_volume` picks the format from the file name's suffix (:data:`FORMATS`)
and checks the first bytes of the file against it, so that a file that is not
what its name says (a zip saved as ``.nii.gz``, a Git LFS pointer, an empty or
truncated download) fails with one line that names the file and says what
to do, never with a traceback from nibabel, SimpleITK or zlib.

Every reader returns a :class:`~segeval.volume.LabelVolume` whose array is in
NIfTI voxel order (x, y, z), in its stored dtype, read-only, and whose origin
and direction are in NIfTI's RAS+ world (ITK's LPS is converted on read).
Readers import their library only when a file of theirs is read, so reading a
``.npy`` never pays for importing SimpleITK.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segeval.errors import OptionError, ReadError
from segeval.io._content import KINDS, describe_content, sniff
from segeval.volume import LabelVolume, with_spacing

__all__ = ["FORMATS", "VOLUME_SUFFIXES", "Format", "case_id", "format_of", "read_volume", "volume_suffix",
           "write_volume"]


@dataclass(frozen=True)
class Format:
    """One volume format: its names, what its content may look like, and its reader and writer.

    Attributes
    ----------
    name : str
        For messages (``"NIfTI"``).
    suffixes : tuple of str
        File name suffixes, lower case.
    contents : frozenset of str
        Content kinds (:data:`segeval.io._content.KINDS`) a file of this
        format may start with.
    module : str
        The module holding ``read`` and ``write``, imported on first use.
    """

    name: str
    suffixes: tuple[str, ...]
    contents: frozenset[str]
    module: str

    def read(self, path: Path, *, shown: str, allow_channels: bool, allow_outside_data_files: bool) -> LabelVolume:
        """Read ``path`` (already checked to exist and to start like this format)."""
        reader: Any = importlib.import_module(self.module).read
        return reader(path, shown=shown, fmt_name=self.name, allow_channels=allow_channels,  # type: ignore[no-any-return]
                      allow_outside_data_files=allow_outside_data_files)

    def write(self, path: Path, labels: Any, **geometry: Any) -> None:
        """Write ``labels`` to ``path`` with ``spacing_mm``, ``origin`` and ``direction``."""
        writer: Any = importlib.import_module(self.module).write
        writer(path, labels, **geometry)


#: Every format segeval reads, in the order messages list them. A gzip-compressed
#: NIfTI named .nii, or an uncompressed one named .nii.gz, is still NIfTI: the
#: content picks the decompression, the name the format.
FORMATS: tuple[Format, ...] = (
    Format("NIfTI", (".nii", ".nii.gz"), frozenset({"gzip", "nifti1", "nifti2"}), "segeval.io.nifti"),
    Format("NRRD", (".nrrd", ".nhdr"), frozenset({"nrrd"}), "segeval.io.itk"),
    Format("MetaImage", (".mha", ".mhd"), frozenset({"metaimage"}), "segeval.io.itk"),
    Format("NumPy .npy", (".npy",), frozenset({"npy"}), "segeval.io.npy"),
    Format("NumPy .npz", (".npz",), frozenset({"zip"}), "segeval.io.npy"),
)

#: File name suffixes segeval reads, longest first so that ``.nii.gz`` wins over ``.nii``.
VOLUME_SUFFIXES: tuple[str, ...] = tuple(
    sorted((s for f in FORMATS for s in f.suffixes), key=lambda s: (-len(s), s))
)
_BY_SUFFIX = {s: f for f in FORMATS for s in f.suffixes}
_KNOWN = ", ".join(s for f in FORMATS for s in f.suffixes)

_SNIFF_BYTES = 4096
_CHANNEL_TAG = re.compile(r"(.+)_0000$")


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


def format_of(path: str | os.PathLike[str]) -> Format | None:
    """The format a file name's suffix names, or None.

    Examples
    --------
    >>> format_of("gt/case.NRRD").name
    'NRRD'
    """
    suffix = volume_suffix(path)
    return _BY_SUFFIX[suffix] if suffix is not None else None


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


def read_volume(
    path: str | os.PathLike[str],
    *,
    spacing_mm: Sequence[float] | None = None,
    allow_channels: bool = False,
    allow_outside_data_files: bool = False,
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
        Voxel size in mm per spatial axis, replacing what the file says (and
        the 1 mm assumed for ``.npy``/``.npz`` files, which carry none:
        ``spacing_given=False`` when omitted for those).
    allow_channels : bool, default False
        Keep a non-singleton 4th axis of a NIfTI/ITK image as channels (a
        soft prediction with one channel per class), shape (x, y, z, c);
        ``meta["channel_axis"]`` is then 3. When False such a file is an
        :class:`~segeval.errors.InputError`.
    allow_outside_data_files : bool, default False
        Read the data files a detached MetaImage or NRRD header (``.mhd``,
        ``.nhdr``) names wherever they are; by default only files beside the
        header or below its folder are read (a header can name any file).

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
        ``spacing_mm`` does not have one positive value per spatial axis.

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
    fmt = format_of(file)
    try:
        size = file.stat().st_size
        with file.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        reason = exc.strerror or exc
        raise ReadError(f"{shown}: cannot be read ({reason}); check its permissions") from None
    kind = sniff(head)
    if fmt is None:
        hint = ""
        if kind is not None and KINDS[kind][1] is not None:
            what, rename = KINDS[kind]
            hint = f" (its content looks like {what}; rename it to {rename})"
        raise ReadError(f"{shown}: unknown volume suffix{hint}; segeval reads {_KNOWN}")
    if size == 0:
        raise ReadError(
            f"{shown}: empty file (0 bytes); it was not written completely, re-export it"
        )
    if kind not in fmt.contents:
        raise ReadError(f"{shown}: not a {fmt.name} file ({describe_content(head)}); "
                        f"{_content_hint(kind, volume_suffix(file), fmt.name)}")
    volume = fmt.read(file, shown=shown, allow_channels=allow_channels,
                      allow_outside_data_files=allow_outside_data_files)
    return with_spacing(volume, spacing_mm)


def _content_hint(kind: str | None, suffix: str | None, fmt_name: str) -> str:
    """What to do with a file whose content is not its suffix's format."""
    rename = KINDS[kind][1] if kind is not None else None
    if kind == "git-lfs":
        return "fetch the real file with `git lfs pull`"
    if kind == "gzip":
        return f"it is gzip-compressed, which {suffix} files are not; decompress or re-export it"
    if rename is not None and rename != suffix:
        return f"rename it to {rename} or re-export it as {fmt_name}"
    return f"re-export it as {fmt_name} or check that it was written completely"


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
    fmt = format_of(file)
    if fmt is None:
        raise OptionError(f"{os.fspath(path)}: unknown volume suffix; use one of {_KNOWN}")
    fmt.write(file, labels, spacing_mm=spacing_mm, origin=origin, direction=direction)
    return file
