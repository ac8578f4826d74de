"""Readers: round trips per suffix, axis order, cross-format geometry, bad inputs."""

from __future__ import annotations

import gzip
import importlib
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from segeval.errors import InputError, OptionError, ReadError, SegevalError
from segeval.io import (
    VOLUME_SUFFIXES,
    case_id,
    read_volume,
    volume_suffix,
    write_volume,
)
from segeval.io import nifti as nifti_io
from segeval.volume import LabelVolume

ALL_SUFFIXES = [".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd", ".npy", ".npz"]
HEADER_SUFFIXES = [s for s in ALL_SUFFIXES if s not in (".npy", ".npz")]

SPACING = (0.8, 0.7, 2.5)
ORIGIN = (-100.5, 20.25, 35.0)
# Column j is the world (RAS+) direction of array axis j: x runs left, y and z permute.
DIRECTION = (-1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0)


@pytest.fixture
def asym() -> np.ndarray:
    """Every voxel distinct and every axis a different length, so any transpose or flip shows."""
    arr = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6) - 60
    return arr


def _one_line(exc: pytest.ExceptionInfo[SegevalError], name: str) -> str:
    message = str(exc.value)
    assert "\n" not in message and "\r" not in message, message
    assert name in message, message
    # No library traceback chained behind ours.
    assert exc.value.__cause__ is None
    assert exc.value.__suppress_context__ or exc.value.__context__ is None
    return message


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("case_001.nii.gz", "case_001", id="nii.gz"),
        pytest.param("case_001_0000.nii.gz", "case_001", id="nnunet-channel-tag"),
        pytest.param("case_001_0001.nii.gz", "case_001_0001", id="other-channel-kept"),
        pytest.param("dir/CASE_7.NRRD", "CASE_7", id="upper-case-suffix"),
        pytest.param("case_0001.npy", "case_0001", id="case-number-not-a-tag"),
        pytest.param("a.b.mha", "a.b", id="dots-in-stem"),
        pytest.param("_0000.nii", "_0000", id="tag-alone-kept"),
        pytest.param("notes.txt", "notes.txt", id="no-volume-suffix"),
    ],
)
def test_case_id(name: str, expected: str) -> None:
    assert case_id(name) == expected


def test_volume_suffix_prefers_longest() -> None:
    assert volume_suffix("x.nii.gz") == ".nii.gz"
    assert volume_suffix("x.NII") == ".nii"
    assert volume_suffix(".nii") is None  # a bare suffix is not a volume name
    assert set(VOLUME_SUFFIXES) == set(ALL_SUFFIXES)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("suffix", ALL_SUFFIXES)
def test_conformance(tmp_path: Path, asym: np.ndarray, suffix: str) -> None:
    """Every reader honours the same LabelVolume contract."""
    path = write_volume(
        tmp_path / f"case{suffix}", asym, spacing_mm=SPACING, origin=ORIGIN, direction=DIRECTION
    )
    vol = read_volume(path)

    assert isinstance(vol, LabelVolume)
    assert isinstance(vol.labels, np.ndarray)
    assert vol.labels.dtype == np.int16 and vol.labels.dtype.isnative
    assert vol.shape == (4, 5, 6)
    np.testing.assert_array_equal(vol.labels, asym)
    assert not vol.labels.flags.writeable
    assert vol.path == str(path)
    assert vol.meta["dtype"] == "int16"
    assert vol.meta["format"]
    if suffix in (".npy", ".npz"):
        assert vol.spacing_mm == (1.0, 1.0, 1.0) and not vol.spacing_given
        assert vol.origin == () and vol.direction == ()
        assert "axcodes" not in vol.meta
    else:
        assert vol.spacing_given
        np.testing.assert_allclose(vol.spacing_mm, SPACING, atol=1e-6)
        np.testing.assert_allclose(vol.origin, ORIGIN, atol=1e-4)
        np.testing.assert_allclose(vol.direction, DIRECTION, atol=1e-6)
        assert vol.meta["axcodes"] == ("L", "S", "A")


@pytest.mark.parametrize("suffix", ALL_SUFFIXES)
@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint16", "int32", "int64", "float32", "bool"])
def test_dtype_preserved(tmp_path: Path, suffix: str, dtype: str) -> None:
    arr = (np.arange(3 * 4 * 5).reshape(3, 4, 5) % 3).astype(dtype)
    vol = read_volume(write_volume(tmp_path / f"d{suffix}", arr))
    stored = "uint8" if dtype == "bool" else dtype  # NIfTI and ITK have no bool
    expected = dtype if suffix in (".npy", ".npz") else stored
    assert vol.labels.dtype == np.dtype(expected)
    np.testing.assert_array_equal(vol.labels, arr)


def test_npy_spacing_from_caller(tmp_path: Path, asym: np.ndarray) -> None:
    path = write_volume(tmp_path / "a.npy", asym)
    vol = read_volume(path, spacing_mm=(0.5, 0.6, 3.0))
    assert vol.spacing_mm == (0.5, 0.6, 3.0) and vol.spacing_given


@pytest.mark.parametrize(
    "spacing",
    [
        pytest.param((1.0, 1.0), id="too-few"),
        pytest.param((1.0, 0.0, 1.0), id="zero"),
        pytest.param((1.0, float("nan"), 1.0), id="nan"),
    ],
)
def test_npy_bad_spacing(tmp_path: Path, asym: np.ndarray, spacing: tuple[float, ...]) -> None:
    path = write_volume(tmp_path / "a.npy", asym)
    with pytest.raises(OptionError) as exc:
        read_volume(path, spacing_mm=spacing)
    _one_line(exc, "a.npy")


def test_caller_spacing_replaces_the_header(tmp_path: Path, asym: np.ndarray) -> None:
    # One rule for every format (and for score, batch and segeval.score): a spacing
    # given replaces the file's, which the volume keeps for the report's note.
    path = write_volume(tmp_path / "a.nii.gz", asym, spacing_mm=SPACING)
    vol = read_volume(path, spacing_mm=(9.0, 9.0, 9.0))
    assert vol.spacing_mm == (9.0, 9.0, 9.0) and vol.meta["file_spacing_mm"] == SPACING
    assert "file_spacing_mm" not in read_volume(path, spacing_mm=SPACING).meta


def test_axis_order_nibabel_and_simpleitk_writers(tmp_path: Path, asym: np.ndarray) -> None:
    """An array written by nibabel and by SimpleITK directly reads back in (x, y, z)."""
    nib.save(nib.Nifti1Image(asym, np.eye(4), dtype=asym.dtype), tmp_path / "nib.nii.gz")
    image = sitk.GetImageFromArray(asym.transpose(2, 1, 0))  # SimpleITK arrays are (z, y, x)
    assert image.GetSize() == (4, 5, 6)
    assert image[3, 1, 2] == asym[3, 1, 2]  # ITK indexes (x, y, z)
    sitk.WriteImage(image, str(tmp_path / "itk.nrrd"))
    sitk.WriteImage(image, str(tmp_path / "itk.mha"))

    for name in ("nib.nii.gz", "itk.nrrd", "itk.mha"):
        vol = read_volume(tmp_path / name)
        assert vol.shape == (4, 5, 6), name
        np.testing.assert_array_equal(vol.labels, asym, err_msg=name)


def test_itk_array_is_a_transposed_view(tmp_path: Path, asym: np.ndarray) -> None:
    """The (z, y, x) -> (x, y, z) transpose must not copy: the result is Fortran-ordered."""
    vol = read_volume(write_volume(tmp_path / "a.nrrd", asym))
    assert vol.labels.flags.f_contiguous and not vol.labels.flags.owndata


def test_nifti_array_is_a_view_of_the_file_bytes(tmp_path: Path, asym: np.ndarray) -> None:
    vol = read_volume(write_volume(tmp_path / "a.nii.gz", asym))
    assert vol.labels.flags.f_contiguous and not vol.labels.flags.owndata


def test_cross_format_same_data_same_geometry(tmp_path: Path) -> None:
    """ITK's own NIfTI -> NRRD conversion (RAS -> LPS) reads back equal, oblique axes included."""
    rng = np.random.default_rng(7)
    arr = rng.integers(0, 5, size=(7, 8, 9), dtype=np.uint8)
    angle = np.deg2rad(20)
    rot = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag(SPACING)
    affine[:3, 3] = ORIGIN
    image = nib.Nifti1Image(arr, affine, dtype=np.uint8)
    image.header.set_qform(affine, code=1)
    image.header.set_sform(affine, code=1)
    nib.save(image, tmp_path / "c.nii.gz")
    sitk.WriteImage(sitk.ReadImage(str(tmp_path / "c.nii.gz")), str(tmp_path / "c.nrrd"))

    a = read_volume(tmp_path / "c.nii.gz")
    b = read_volume(tmp_path / "c.nrrd")
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.spacing_mm, b.spacing_mm, atol=1e-5)
    np.testing.assert_allclose(a.origin, b.origin, atol=1e-4)
    np.testing.assert_allclose(a.direction, b.direction, atol=1e-5)
    np.testing.assert_allclose(a.origin, ORIGIN, atol=1e-4)
    np.testing.assert_allclose(np.reshape(a.direction, (3, 3)), rot, atol=1e-5)
    assert a.meta["axcodes"] == b.meta["axcodes"] == tuple(nib.aff2axcodes(affine))


def test_itk_lps_orientation_codes(tmp_path: Path) -> None:
    """An ITK image with identity direction (LPS) is L, P, S; NIfTI identity is R, A, S."""
    image = sitk.GetImageFromArray(np.zeros((2, 3, 4), np.uint8))
    sitk.WriteImage(image, str(tmp_path / "lps.mha"))
    vol = read_volume(tmp_path / "lps.mha")
    assert vol.meta["axcodes"] == ("L", "P", "S")
    assert vol.direction == (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)
    assert read_volume(write_volume(tmp_path / "ras.nii", np.zeros((2, 3, 4)))).meta["axcodes"] == (
        "R",
        "A",
        "S",
    )


def test_2d_volumes(tmp_path: Path) -> None:
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for suffix in (".nii.gz", ".nrrd", ".npy"):
        vol = read_volume(write_volume(tmp_path / f"s{suffix}", arr, spacing_mm=(0.5, 2.0)))
        np.testing.assert_array_equal(vol.labels, arr)
        if suffix != ".npy":
            assert vol.spacing_mm == (0.5, 2.0)
            assert len(vol.origin) == 2 and len(vol.direction) == 4


# --------------------------------------------------------------------------- NIfTI specifics


def _nifti_bytes(
    arr: np.ndarray, slope: float = float("nan"), inter: float = float("nan")
) -> bytes:
    data = bytearray(nib.Nifti1Image(arr, np.eye(4), dtype=arr.dtype).to_bytes())
    struct.pack_into("<ff", data, 112, slope, inter)  # scl_slope, scl_inter
    return bytes(data)


@pytest.mark.parametrize(
    ("slope", "inter"),
    [
        pytest.param(1.0, 0.0, id="identity"),
        pytest.param(float("nan"), 5.0, id="nan-slope"),
        pytest.param(0.0, 5.0, id="zero-slope"),
    ],
)
def test_nifti_no_real_scaling_keeps_stored_ints(
    tmp_path: Path, asym: np.ndarray, slope: float, inter: float
) -> None:
    (tmp_path / "s.nii").write_bytes(_nifti_bytes(asym, slope, inter))
    vol = read_volume(tmp_path / "s.nii")
    assert vol.labels.dtype == np.int16
    np.testing.assert_array_equal(vol.labels, asym)


def test_nifti_real_scaling_is_applied(tmp_path: Path, asym: np.ndarray) -> None:
    (tmp_path / "s.nii").write_bytes(_nifti_bytes(asym, 0.5, 1.0))
    vol = read_volume(tmp_path / "s.nii")
    assert vol.labels.dtype.kind == "f"
    np.testing.assert_allclose(vol.labels, asym * 0.5 + 1.0)
    assert (vol.meta["scl_slope"], vol.meta["scl_inter"]) == (0.5, 1.0)


def test_nifti_big_endian_is_made_native(tmp_path: Path, asym: np.ndarray) -> None:
    header = nib.Nifti1Header(endianness=">")
    image = nib.Nifti1Image(asym, np.eye(4), header=header, dtype=np.dtype(">i2"))
    (tmp_path / "be.nii").write_bytes(image.to_bytes())
    vol = read_volume(tmp_path / "be.nii")
    assert vol.labels.dtype == np.dtype("int16") and vol.labels.dtype.isnative
    np.testing.assert_array_equal(vol.labels, asym)


def test_nifti2(tmp_path: Path, asym: np.ndarray) -> None:
    nib.save(
        nib.Nifti2Image(asym, np.diag([*SPACING, 1.0]), dtype=asym.dtype), tmp_path / "n2.nii.gz"
    )
    vol = read_volume(tmp_path / "n2.nii.gz")
    assert vol.meta["format"] == "nifti2"
    np.testing.assert_array_equal(vol.labels, asym)
    assert vol.spacing_mm == SPACING


@pytest.mark.parametrize(
    ("name", "compress"),
    [
        pytest.param("plain.nii.gz", False, id="uncompressed-named-nii.gz"),
        pytest.param("packed.nii", True, id="compressed-named-nii"),
    ],
)
def test_nifti_compression_follows_content(
    tmp_path: Path, asym: np.ndarray, name: str, compress: bool
) -> None:
    data = _nifti_bytes(asym)
    (tmp_path / name).write_bytes(gzip.compress(data) if compress else data)
    np.testing.assert_array_equal(read_volume(tmp_path / name).labels, asym)


def test_nifti_multi_member_gzip(tmp_path: Path, asym: np.ndarray) -> None:
    data = _nifti_bytes(asym)
    half = len(data) // 2
    (tmp_path / "m.nii.gz").write_bytes(gzip.compress(data[:half]) + gzip.compress(data[half:]))
    np.testing.assert_array_equal(read_volume(tmp_path / "m.nii.gz").labels, asym)


def test_nifti_singleton_4th_axis_squeezed(tmp_path: Path, asym: np.ndarray) -> None:
    vol = read_volume(write_volume(tmp_path / "t.nii.gz", asym[..., None]))
    assert vol.shape == (4, 5, 6)
    assert "channel_axis" not in vol.meta


def test_channels_kept_when_allowed(tmp_path: Path) -> None:
    probs = np.random.default_rng(0).random((3, 4, 5, 2)).astype(np.float32)
    for name in ("p.nii.gz", "p5.nii.gz"):
        arr = probs if name == "p.nii.gz" else probs[:, :, :, None, :]  # NIfTI vector layout
        vol = read_volume(write_volume(tmp_path / name, arr), allow_channels=True)
        assert vol.shape == (3, 4, 5, 2) and vol.meta["channel_axis"] == 3
        assert len(vol.spacing_mm) == 3
        np.testing.assert_array_equal(vol.labels, probs)


def test_itk_vector_pixels_are_channels(tmp_path: Path) -> None:
    probs = np.random.default_rng(1).random((3, 4, 5, 2)).astype(np.float32)
    image = sitk.GetImageFromArray(probs.transpose(2, 1, 0, 3), isVector=True)
    sitk.WriteImage(image, str(tmp_path / "v.nrrd"))
    with pytest.raises(InputError) as exc:
        read_volume(tmp_path / "v.nrrd")
    _one_line(exc, "v.nrrd")
    vol = read_volume(tmp_path / "v.nrrd", allow_channels=True)
    np.testing.assert_array_equal(vol.labels, probs)


# --------------------------------------------------------------------------- gzip decoders


def _available_decoders() -> list[object]:
    found = []
    for name in nifti_io.GZIP_DECODERS:
        try:
            found.append(pytest.param(importlib.import_module(name), id=name))
        except ImportError:
            continue
    return found


@pytest.mark.parametrize("decoder", _available_decoders())
def test_every_decoder_agrees(decoder: object) -> None:
    payload = np.random.default_rng(3).integers(0, 4, 200_000, dtype=np.uint8).tobytes()
    raw = gzip.compress(payload, mtime=0) + gzip.compress(b"tail", mtime=0)
    out = nifti_io.gunzip(raw, shown="x", decoder=decoder)  # type: ignore[arg-type]
    assert out.dtype == np.uint8 and bytes(out) == payload + b"tail"


@pytest.mark.parametrize("decoder", _available_decoders())
@pytest.mark.parametrize(
    "members",
    [
        # Larger than one output piece, and compressing over 1000-fold: the input
        # is left over (unconsumed_tail) after each piece.
        [bytes(5_000_000) + b"\x01" * 3_000_000],
        # Several members with zero padding between them and after the last: the
        # trailer's size hint (that of the last member, or 0) is too small.
        [b"abc" * 100_000, b"", b"\x00" * 2_500_000, b"end"],
        # An incompressible member larger than one input piece.
        [np.random.default_rng(5).integers(0, 256, 300_000, dtype=np.uint8).tobytes()],
    ],
    ids=["long-runs", "members-and-padding", "incompressible"],
)
def test_gunzip_pieces_and_members(decoder: object, members: list[bytes]) -> None:
    # Zero padding after every other member: 7 bytes, or more than one 64 KiB block.
    raw = b"".join(gzip.compress(m, mtime=0) + b"\x00" * (i % 2) * (7 if i % 4 == 1 else 70_000)
                   for i, m in enumerate(members))
    out = nifti_io.gunzip(raw, shown="x", decoder=decoder)  # type: ignore[arg-type]
    assert bytes(out) == b"".join(members)
    assert out.flags.writeable


def test_gunzip_detects_truncation_inside_a_later_piece() -> None:
    raw = gzip.compress(np.random.default_rng(6).integers(0, 256, 300_000, dtype=np.uint8).tobytes())
    with pytest.raises(ReadError, match="truncated gzip stream"):
        nifti_io.gunzip(raw[: len(raw) - 100_000], shown="x")
    damaged = bytearray(raw)
    damaged[-6] ^= 0xFF  # the CRC
    with pytest.raises(ReadError, match="corrupt gzip stream"):
        nifti_io.gunzip(bytes(damaged), shown="x")


def test_decoder_falls_back_to_stdlib(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("zlib_ng", "zlib_ng.zlib_ng", "isal", "isal.isal_zlib"):
        monkeypatch.setitem(sys.modules, name, None)  # makes the import fail
    nifti_io.gzip_decoder.cache_clear()
    try:
        assert nifti_io.gzip_decoder() is zlib
    finally:
        nifti_io.gzip_decoder.cache_clear()


def test_decoders_are_imported_lazily() -> None:
    import subprocess

    code = (
        "import sys, segeval.io; "
        "lazy = ('zlib_ng', 'isal', 'indexed_gzip', 'SimpleITK', 'nibabel'); "
        "bad = [m for m in lazy if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- bad inputs


def _good_nii_gz(tmp_path: Path) -> bytes:
    arr = np.zeros((16, 16, 16), np.uint8)
    arr[4:9, 4:9, 4:9] = 1
    return write_volume(tmp_path / "_good.nii.gz", arr).read_bytes()


def _npy_bytes(tmp_path: Path, arr: np.ndarray) -> bytes:
    np.save(tmp_path / "_tmp.npy", arr)
    return (tmp_path / "_tmp.npy").read_bytes()


def _npz_bytes(tmp_path: Path, **arrays: np.ndarray) -> bytes:
    np.savez(tmp_path / "_tmp.npz", **arrays)  # type: ignore[arg-type]
    return (tmp_path / "_tmp.npz").read_bytes()


def _corrupt(data: bytes) -> bytes:
    out = bytearray(data)
    middle = len(out) // 2
    out[middle : middle + 4] = bytes(b ^ 0xA5 for b in out[middle : middle + 4])
    return bytes(out)


Maker = Callable[[Path], Path]


def _file(name: str, content: Callable[[Path], bytes]) -> Maker:
    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content(tmp_path))
        return path

    return make


def _written(name: str, arr: np.ndarray) -> Maker:
    return lambda tmp_path: write_volume(tmp_path / name, arr)


def _truncated_itk(name: str) -> Maker:
    def make(tmp_path: Path) -> Path:
        arr = np.arange(4000, dtype=np.uint16).reshape(10, 20, 20)
        data = write_volume(tmp_path / f"_whole{Path(name).suffix}", arr).read_bytes()
        (tmp_path / name).write_bytes(data[:-40])
        return tmp_path / name

    return make


def _detached_without_data(tmp_path: Path) -> Path:
    path = write_volume(tmp_path / "head.mhd", np.zeros((3, 3, 3), np.uint8))
    for other in tmp_path.glob("head.*raw*"):
        other.unlink()
    return path


BAD_INPUTS = [
    pytest.param(
        lambda p: p / "missing.nii.gz", ReadError, "missing.nii.gz", "no such file", id="missing"
    ),
    pytest.param(
        lambda p: p / "nodir" / "x.nii.gz",
        ReadError,
        "x.nii.gz",
        "no such file",
        id="missing-folder",
    ),
    pytest.param(
        lambda p: (p / "cases.nii").mkdir() or p / "cases.nii",
        ReadError,
        "cases.nii",
        "directory",
        id="directory",
    ),
    pytest.param(
        _file("empty.nii.gz", lambda p: b""), ReadError, "empty.nii.gz", "empty", id="empty"
    ),
    pytest.param(
        _file("trunc.nii.gz", lambda p: _good_nii_gz(p)[:-60]),
        ReadError,
        "trunc.nii.gz",
        "truncated",
        id="truncated-gz",
    ),
    pytest.param(
        _file("bad.nii.gz", lambda p: _corrupt(_good_nii_gz(p))),
        ReadError,
        "bad.nii.gz",
        "corrupt",
        id="corrupt-gz",
    ),
    pytest.param(
        _file("short.nii", lambda p: gzip.decompress(_good_nii_gz(p))[:-100]),
        ReadError,
        "short.nii",
        "truncated",
        id="truncated-nii",
    ),
    pytest.param(
        _file("hdr.nii", lambda p: gzip.decompress(_good_nii_gz(p))[:200]),
        ReadError,
        "hdr.nii",
        "truncated",
        id="truncated-header",
    ),
    pytest.param(
        _file("zip.nii.gz", lambda p: _npz_bytes(p, a=np.zeros(3))),
        ReadError,
        "zip.nii.gz",
        "not a NIfTI file (starts with b'PK",
        id="zip-as-nii.gz",
    ),
    pytest.param(
        _file("npy.nii.gz", lambda p: _npy_bytes(p, np.zeros(3))),
        ReadError,
        "npy.nii.gz",
        "rename it to .npy",
        id="npy-as-nii.gz",
    ),
    pytest.param(
        _file("gznpy.nii.gz", lambda p: gzip.compress(_npy_bytes(p, np.zeros(3)))),
        ReadError,
        "gznpy.nii.gz",
        "not a NIfTI file (its gzip content",
        id="gzipped-npy-as-nii.gz",
    ),
    pytest.param(
        _file(
            "lfs.nii.gz", lambda p: b"version https://git-lfs.github.com/spec/v1\noid sha256:0\n"
        ),
        ReadError,
        "lfs.nii.gz",
        "git lfs pull",
        id="git-lfs-pointer",
    ),
    pytest.param(
        _file("nifti.nrrd", lambda p: gzip.decompress(_good_nii_gz(p))),
        ReadError,
        "nifti.nrrd",
        "rename it to .nii",
        id="nifti-as-nrrd",
    ),
    pytest.param(
        _file("text.mha", lambda p: b"hello world\n"),
        ReadError,
        "text.mha",
        "not a MetaImage file",
        id="text-as-mha",
    ),
    pytest.param(
        _file("scan.dcm", lambda p: b"\x00" * 200),
        ReadError,
        "scan.dcm",
        "unknown volume suffix",
        id="unknown-suffix",
    ),
    pytest.param(
        _file("nosuffix", lambda p: b"abc"),
        ReadError,
        "nosuffix",
        "unknown volume suffix",
        id="no-suffix",
    ),
    pytest.param(
        _file("two.npz", lambda p: _npz_bytes(p, a=np.zeros(3), b=np.ones(3))),
        ReadError,
        "two.npz",
        "holds 2 arrays (a, b)",
        id="npz-two-arrays",
    ),
    pytest.param(
        _file("none.npz", lambda p: _npz_bytes(p)),
        ReadError,
        "none.npz",
        "holds 0 arrays",
        id="npz-no-array",
    ),
    pytest.param(
        _file("cut.npz", lambda p: _npz_bytes(p, a=np.zeros(300))[:-50]),
        ReadError,
        "cut.npz",
        "damaged or truncated",
        id="truncated-npz",
    ),
    pytest.param(
        _file("cut.npy", lambda p: _npy_bytes(p, np.zeros(300))[:-50]),
        ReadError,
        "cut.npy",
        "damaged or truncated",
        id="truncated-npy",
    ),
    pytest.param(
        _file("obj.npy", lambda p: _npy_bytes(p, np.array([{"a": 1}], dtype=object))),
        ReadError,
        "obj.npy",
        "Python objects",
        id="pickled-npy",
    ),
    pytest.param(
        _truncated_itk("cut.nrrd"),
        ReadError,
        "cut.nrrd",
        "SimpleITK cannot read",
        id="truncated-nrrd",
    ),
    pytest.param(
        _truncated_itk("cut.mha"),
        ReadError,
        "cut.mha",
        "pixel data is missing or incomplete",
        id="truncated-mha",
    ),
    pytest.param(_detached_without_data, ReadError, "head.mhd", "data file", id="mhd-without-data"),
    pytest.param(
        _written("four.nii.gz", np.zeros((3, 3, 3, 2), np.uint8)),
        InputError,
        "four.nii.gz",
        "4-D image with 2 volumes",
        id="4d-non-singleton",
    ),
    pytest.param(
        _written("five.nii.gz", np.zeros((3, 3, 3, 2, 2), np.uint8)),
        InputError,
        "five.nii.gz",
        "5-D image",
        id="5d",
    ),
    pytest.param(
        _written("four.mha", np.zeros((3, 3, 3, 2), np.uint8)),
        InputError,
        "four.mha",
        "4-D image with 2 volumes",
        id="4d-itk",
    ),
    pytest.param(
        _written("c.npy", np.zeros(3, np.complex64)), InputError, "c.npy", "complex64", id="complex"
    ),
    pytest.param(_written("s.npy", np.array(3)), InputError, "s.npy", "single value", id="0-d"),
]


@pytest.mark.parametrize(("make", "error", "name", "says"), BAD_INPUTS)
def test_bad_input(
    tmp_path: Path, make: Maker, error: type[SegevalError], name: str, says: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    path = make(tmp_path)
    capfd.readouterr()
    with pytest.raises(error) as exc:
        read_volume(path)
    assert type(exc.value) is error
    message = _one_line(exc, name)
    assert says in message
    # The one-line error is all: no native library's own diagnostics beside it
    # (ITK's MetaImage reader printed four lines for a truncated .mha).
    assert capfd.readouterr().err == ""


def test_read_error_is_an_oserror(tmp_path: Path) -> None:
    """Callers that catch OSError for unreadable files keep working."""
    with pytest.raises(OSError):
        read_volume(tmp_path / "missing.nii.gz")


def test_write_volume_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(OptionError):
        write_volume(tmp_path / "x.png", np.zeros((2, 2, 2)))


# --------------------------------------------------------------------------- orientation codes


def _signed_permutations(n: int) -> list[np.ndarray]:
    import itertools

    out = []
    for perm in itertools.permutations(range(n)):
        for signs in itertools.product((-1.0, 1.0), repeat=n):
            d = np.zeros((n, n))
            for col, row in enumerate(perm):
                d[row, col] = signs[col]
            out.append(d)
    return out


@pytest.mark.parametrize("n", [2, 3])
def test_axcodes_fast_path_equals_nibabel(n: int) -> None:
    from segeval.io._content import axcodes as _axcodes

    rotations = [np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]) for t in (0.3, 2.0, -1.2)]
    # Oblique directions take nibabel's own rule; they must come out the same too.
    oblique = rotations if n == 2 else [np.pad(r, ((0, 1), (0, 1))) + np.diag([0.0, 0.0, 1.0]) for r in rotations]
    matrices = _signed_permutations(n) + oblique
    assert len(matrices) > 8
    for d in matrices:
        affine = np.eye(4)
        affine[:n, :n] = d
        assert _axcodes(d) == tuple(nib.aff2axcodes(affine))[:n], d
