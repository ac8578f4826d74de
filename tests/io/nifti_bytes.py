"""NIfTI-1 files built byte by byte (struct-packed), for tests of forged and broken headers.

Field offsets are those of the NIfTI-1 standard (``nifti1.h``); nothing here
goes through nibabel, so a test can write any value into any field.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Sequence
from pathlib import Path

#: datatype code -> bits per voxel (the codes segeval reads, and a few it refuses).
BITPIX = {2: 8, 4: 16, 8: 32, 16: 32, 64: 64, 256: 8, 512: 16, 768: 32, 1024: 64, 1280: 64,
          32: 64, 128: 24, 1792: 128, 2304: 32}


def nifti1_header(
    dims: Sequence[int],
    *,
    datatype: int = 2,
    bitpix: int | None = None,
    pixdim: Sequence[float] = (1.0, 1.0, 1.0),
    vox_offset: float = 352.0,
    scl: tuple[float, float] = (0.0, 0.0),
    qform_code: int = 0,
    quatern: Sequence[float] = (0.0, 0.0, 0.0),
    qoffset: Sequence[float] = (0.0, 0.0, 0.0),
    sform_code: int = 1,
    srows: Sequence[Sequence[float]] = ((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0)),
    dim0: int | None = None,
) -> bytes:
    """A 352-byte single-file NIfTI-1 header (``n+1``, no extensions) with the fields given.

    ``dims`` are the sizes (dim[1..]); ``dim0`` overrides dim[0] (the number
    of axes), so that a test can make it disagree with ``dims``.
    """
    head = bytearray(352)
    struct.pack_into("<i", head, 0, 348)
    dim = [len(dims) if dim0 is None else dim0, *dims]
    dim += [1] * (8 - len(dim))
    struct.pack_into("<8h", head, 40, *dim[:8])
    struct.pack_into("<h", head, 70, datatype)
    struct.pack_into("<h", head, 72, BITPIX.get(datatype, 8) if bitpix is None else bitpix)
    pix = [1.0, *pixdim]
    pix += [1.0] * (8 - len(pix))
    struct.pack_into("<8f", head, 76, *pix[:8])
    struct.pack_into("<3f", head, 108, vox_offset, *scl)
    struct.pack_into("<b", head, 123, 2)  # xyzt_units: mm
    struct.pack_into("<2h", head, 252, qform_code, sform_code)
    struct.pack_into("<6f", head, 256, *quatern, *qoffset)
    for i, row in enumerate(srows):
        struct.pack_into("<4f", head, 280 + 16 * i, *row)
    head[344:348] = b"n+1\x00"
    return bytes(head)


def write_nifti_bytes(path: Path, header: bytes, voxels: bytes, *, compress: bool | None = None) -> Path:
    """Write ``header + voxels`` to ``path``, gzipped when ``compress`` (default: a ``.gz`` name)."""
    data = header + voxels
    if compress is None:
        compress = path.name.endswith(".gz")
    path.write_bytes(gzip.compress(data, compresslevel=1) if compress else data)
    return path
