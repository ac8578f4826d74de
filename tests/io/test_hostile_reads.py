"""Hostile volume files: reads bounded by what the header declares, one line for every broken header.

Issue 15, items 2 (bounded reads), 7 (data files outside the header's folder),
8 (NIfTI headers that crashed the reader) and 17 (ITK's own reason for a bad
TransformMatrix). Every file is built from bytes in the test; the memory
cases run the command in a subprocess under an address-space limit.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from segeval.cli import app
from segeval.errors import InputError, OptionError, ReadError, SegevalError
from segeval.io import read_volume
from tests.hostile import ADDRESS_SPACE, segeval_limited
from tests.io.nifti_bytes import nifti1_header, write_nifti_bytes

CUBE = np.zeros((8, 8, 8), np.uint8)
CUBE[2:4, 2:4, 2:4] = 1

# A gzip member of 16 MiB of zeros is 16 KiB: 128 of them inflate to 2 GiB, far past the limit.
_ZEROS_MEMBER = gzip.compress(bytes(16 << 20), compresslevel=9)


def _cube_nii() -> bytes:
    return nifti1_header((8, 8, 8)) + CUBE.tobytes(order="F")


def _bomb(path: Path) -> Path:
    """An 8x8x8 NIfTI whose gzip stream goes on with 2 GiB of zeros in 128 more members (2 MB on disk)."""
    path.write_bytes(gzip.compress(_cube_nii()) + _ZEROS_MEMBER * 128)
    return path


BOMB_NOTE = ("segeval: warning: bomb.nii.gz holds more data beyond the 512 voxel bytes its header declares; "
             "they were not read")


def _assert_bounded(ran, limit_mib: float = 200) -> None:
    assert "Traceback" not in ran.stderr and "MemoryError" not in ran.stderr, ran.stderr
    assert ran.peak_mib < limit_mib, f"peak {ran.peak_mib:.0f} MiB"


# --------------------------------------------------------------------------- item 2: bounded reads


def test_gzip_bomb_inflates_only_what_the_header_declares(tmp_path: Path) -> None:
    """Before: the whole stream was inflated (1.6 GB for a 1.5 MB bomb). Now: 512 bytes and a note."""
    _bomb(tmp_path / "bomb.nii.gz")
    assert (tmp_path / "bomb.nii.gz").stat().st_size < 3 << 20
    ran = segeval_limited("info", "bomb.nii.gz", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    _assert_bounded(ran)
    assert ran.err_lines == [BOMB_NOTE]
    assert ["1", "8", "0.01"] in [line.split() for line in ran.stdout.splitlines()]  # label 1: 8 voxels


def test_gzip_bomb_in_score_is_scored_in_bounded_memory(tmp_path: Path) -> None:
    _bomb(tmp_path / "bomb.nii.gz")
    (tmp_path / "gt.nii").write_bytes(_cube_nii())
    ran = segeval_limited("score", "bomb.nii.gz", "gt.nii", "--format", "csv", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    _assert_bounded(ran)
    assert ",1," in ran.stdout
    assert ran.err_lines == [BOMB_NOTE]


def test_forged_gzip_size_field_allocates_nothing_up_front(tmp_path: Path) -> None:
    """The gzip trailer's ISIZE claims 4 GiB - 16: the reader never trusts it (before: 4 GiB allocated)."""
    data = bytearray(gzip.compress(_cube_nii()))
    data[-4:] = struct.pack("<I", 0xFFFFFFF0)
    (tmp_path / "forged.nii.gz").write_bytes(bytes(data))
    ran = segeval_limited("info", "forged.nii.gz", cwd=tmp_path)
    _assert_bounded(ran)
    assert ran.returncode == 2
    assert ran.err_lines == [
        ("segeval: error: forged.nii.gz: corrupt gzip stream (Error -3 while decompressing data: incorrect "
         "length check); the file is damaged, re-copy or re-export it")
    ]


def test_nii_with_a_4_gib_tail_reads_only_its_voxels(tmp_path: Path) -> None:
    """A sparse file: 864 bytes of NIfTI and 4 GiB of hole after them (before: 4.2 GB read)."""
    path = tmp_path / "tail.nii"
    path.write_bytes(_cube_nii())
    os.truncate(path, 4 << 30)
    ran = segeval_limited("info", "tail.nii", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    _assert_bounded(ran)
    assert ran.err_lines == [(f"segeval: warning: tail.nii holds {(4 << 30) - 864} more bytes beyond the 512 "
                              "voxel bytes its header declares; they were not read")]


@pytest.mark.parametrize(("name", "compress", "says"), [
    ("big.nii", False, "the file of 1352 bytes is shorter"),
    ("big.nii.gz", True, "cannot inflate to that"),
])
def test_declared_size_past_the_file_is_refused_before_allocating(
    tmp_path: Path, name: str, compress: bool, says: str
) -> None:
    """1200^3 uint16 voxels (3.2 GiB, past the address-space limit) declared by a 1 KiB file."""
    write_nifti_bytes(tmp_path / name, nifti1_header((1200, 1200, 1200), datatype=512), bytes(1000),
                      compress=compress)
    ran = segeval_limited("info", name, cwd=tmp_path)
    _assert_bounded(ran)
    assert ran.returncode == 2
    assert len(ran.err_lines) == 1 and ran.err_lines[0].startswith(f"segeval: error: {name}: truncated NIfTI")
    assert says in ran.stderr and str(1200**3 * 2) in ran.stderr


def _npy_header(shape: tuple[int, ...], descr: str = "|u1") -> bytes:
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    text += b" " * (63 - (len(text) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_npy_header_claiming_909_tib_is_one_line(tmp_path: Path, suffix: str) -> None:
    shape = (99_999_999, 99_999_999, 100)  # 909 TiB of uint8; before: ArrayMemoryError traceback
    data = _npy_header(shape) + bytes(64)
    path = tmp_path / f"huge{suffix}"
    if suffix == ".npy":
        path.write_bytes(data)
    else:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("arr_0.npy", data)
    ran = segeval_limited("info", path.name, cwd=tmp_path)
    _assert_bounded(ran)
    assert ran.returncode == 2
    assert ran.err_lines == [(f"segeval: error: {path.name}: its header declares {math.prod(shape):,} voxels "
                              f"(shape {shape}), more than segeval reads (4,294,967,296; set SEGEVAL_MAX_VOXELS "
                              "to allow more)")]


def test_npy_shorter_than_its_header_is_refused_before_allocating(tmp_path: Path) -> None:
    (tmp_path / "short.npy").write_bytes(_npy_header((1500, 1500, 1000)) + bytes(100))  # 2.1 GB declared
    ran = segeval_limited("info", "short.npy", cwd=tmp_path)
    _assert_bounded(ran)
    assert ran.returncode == 2 and len(ran.err_lines) == 1
    assert "short.npy" in ran.stderr and "truncated" in ran.stderr


def test_voxel_limit_is_documented_and_can_be_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cube.nii"
    path.write_bytes(_cube_nii())
    monkeypatch.setenv("SEGEVAL_MAX_VOXELS", "511")
    with pytest.raises(InputError, match=r"cube.nii: its header declares 512 voxels .*\(511; set SEGEVAL_MAX"):
        read_volume(path)
    monkeypatch.setenv("SEGEVAL_MAX_VOXELS", "512")
    assert read_volume(path).shape == (8, 8, 8)
    monkeypatch.setenv("SEGEVAL_MAX_VOXELS", "lots")
    with pytest.raises(OptionError, match="SEGEVAL_MAX_VOXELS='lots': give a positive whole number"):
        read_volume(path)


def test_itk_declared_size_is_checked_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "big.mhd").write_text("ObjectType = Image\nNDims = 3\nDimSize = 100000 100000 1000\n"
                                      "ElementType = MET_UCHAR\nElementDataFile = big.raw\n")
    (tmp_path / "big.raw").write_bytes(bytes(10))
    with pytest.raises(InputError, match=r"big.mhd: its header declares 10,000,000,000,000 voxels"):
        read_volume(tmp_path / "big.mhd")


# --------------------------------------------------------------------------- item 8: broken NIfTI headers


def _nii(tmp_path: Path, name: str = "bad.nii", voxels: bytes = CUBE.tobytes(order="F"), **fields) -> Path:
    fields.setdefault("dims", (8, 8, 8))
    return write_nifti_bytes(tmp_path / name, nifti1_header(**fields), voxels)


NAN, INF = float("nan"), float("inf")
BAD_HEADERS = [
    pytest.param({"dims": (8, -8, 8)}, "dim = [3, 8, -8, 8]", id="negative-dim"),
    pytest.param({"dims": (8, 8, 8), "dim0": 9}, "dim[0] must be 1..7", id="dim0-9"),
    pytest.param({"dims": (8, 8, 8), "dim0": 0}, "dim[0] must be 1..7", id="dim0-0"),
    pytest.param({"dims": (32767,) * 7}, "its header declares", id="overflowing-count"),
    pytest.param({"srows": ((NAN, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0))}, "sform/qform affine holds NaN or inf",
                 id="nan-sform"),
    pytest.param({"srows": ((1, 0, 0, INF), (0, 1, 0, 0), (0, 0, 1, 0))}, "sform/qform affine holds NaN or inf",
                 id="inf-sform-offset"),
    pytest.param({"sform_code": 0, "qform_code": 1, "quatern": (NAN, 0.0, 0.0)}, "invalid NIfTI geometry",
                 id="nan-quaternion"),
    pytest.param({"sform_code": 0, "qform_code": 1, "qoffset": (INF, 0.0, 0.0)}, "invalid NIfTI geometry",
                 id="inf-qoffset"),
    pytest.param({"sform_code": 0, "qform_code": 1, "pixdim": (NAN, 1.0, 1.0)}, "invalid NIfTI geometry",
                 id="nan-pixdim"),
    pytest.param({"sform_code": 0, "qform_code": 1, "pixdim": (-INF, 1.0, 1.0)}, "invalid NIfTI geometry",
                 id="inf-pixdim"),
    pytest.param({"vox_offset": NAN}, "invalid NIfTI header", id="nan-vox-offset"),
    pytest.param({"vox_offset": -352.0}, "invalid NIfTI header", id="negative-vox-offset"),
    pytest.param({"vox_offset": 1e9}, "vox_offset 1000000000: more than", id="vox-offset-1e9"),
    pytest.param({"vox_offset": 4000.0}, "truncated NIfTI file", id="vox-offset-past-the-end"),
    pytest.param({"scl": (2.0, INF)}, "invalid intercept inf", id="inf-intercept"),
    pytest.param({"datatype": 9999}, "invalid NIfTI header", id="unknown-datatype"),
    pytest.param({"datatype": 32}, "complex", id="complex-datatype"),
]


@pytest.mark.parametrize(("fields", "says"), BAD_HEADERS)
def test_broken_nifti_header_is_one_line_naming_file_and_field(tmp_path: Path, fields: dict, says: str) -> None:
    path = _nii(tmp_path, **fields)
    with pytest.raises(SegevalError) as info:
        read_volume(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and says in message
    assert "\n" not in message


def test_zero_voxel_size_is_read_as_1_mm_with_a_note(tmp_path: Path) -> None:
    """nibabel's rule (zero pixdim means 1 mm; a non-finite scl_slope means no scaling), said aloud."""
    vol = read_volume(_nii(tmp_path, sform_code=0, qform_code=1, pixdim=(0.0, 0.7, 2.0), scl=(INF, 0.0)))
    assert vol.spacing_mm == pytest.approx((1.0, 0.7, 2.0)) and vol.labels.dtype == np.uint8
    assert vol.meta["notes"] == [(f"{tmp_path / 'bad.nii'}: its header gives voxel size 0 for pixdim[1]; read "
                                  "as 1 mm, as nibabel does (give --spacing if that is wrong)")]


def test_broken_header_in_a_batch_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for folder in ("pred", "gt"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "ok.nii").write_bytes(_cube_nii())
    _nii(tmp_path / "pred", "bad.nii", dims=(32767,) * 7)
    (tmp_path / "gt" / "bad.nii").write_bytes(_cube_nii())
    r = CliRunner().invoke(app, ["batch", "pred", "gt", "-o", "out.json", "--jobs", "1", "--quiet"])
    assert r.exit_code == 3, r.output
    import json

    failed = [c for c in json.loads(Path("out.json").read_text())["cases"] if c.get("error")]
    assert [c["case"] for c in failed] == ["bad"]
    assert failed[0]["error"].startswith(f"{Path('pred') / 'bad.nii'}: its header declares")


def test_nibabel_writes_nothing_to_stderr(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """nibabel logs "pixdim[0] (qfac) should be 1" and the like; segeval's one line is all that shows."""
    head = bytearray(nifti1_header((8, 8, 8), sform_code=0, qform_code=1))
    struct.pack_into("<f", head, 76, 0.5)  # pixdim[0], qfac: nibabel logs a complaint about it
    (tmp_path / "qfac.nii").write_bytes(bytes(head) + CUBE.tobytes(order="F"))
    read_volume(tmp_path / "qfac.nii")
    assert capfd.readouterr().err == ""


# --------------------------------------------------------------------------- fuzz of NIfTI header fields

_FLOATS = st.one_of(st.sampled_from([0.0, -1.0, 1.0, 0.5, 1e30, -1e30, NAN, INF, -INF]),
                    st.floats(-1e6, 1e6, width=32))
_DATATYPES = st.sampled_from([2, 4, 8, 16, 64, 256, 512, 768, 1024, 1280, 32, 128, 1792, 2304, 0, 9999, -4])


@st.composite
def nifti_files(draw: st.DrawFn) -> tuple[bytes, bool, int]:
    """Header fields drawn from sane and hostile values, and 0..4 KiB of voxel bytes after them."""
    n = draw(st.integers(1, 7))
    dims = draw(st.lists(st.one_of(st.integers(-2, 12), st.sampled_from([0, 1, 255, 32767, -32768])),
                         min_size=n, max_size=n))
    fields = {
        "dim0": draw(st.one_of(st.just(n), st.integers(-1, 9))),
        "datatype": draw(_DATATYPES),
        "bitpix": draw(st.one_of(st.none(), st.sampled_from([0, 1, 8, 16, 64, 999]))),
        "pixdim": draw(st.lists(_FLOATS, min_size=3, max_size=3)),
        "vox_offset": draw(st.one_of(st.just(352.0), st.sampled_from([0.0, 100.0, 348.0, 353.5, 1e9, -5.0, NAN,
                                                                      INF]))),
        "scl": (draw(_FLOATS), draw(_FLOATS)),
        "qform_code": draw(st.integers(-1, 5)),
        "quatern": draw(st.lists(_FLOATS, min_size=3, max_size=3)),
        "qoffset": draw(st.lists(_FLOATS, min_size=3, max_size=3)),
        "sform_code": draw(st.integers(-1, 5)),
        "srows": [draw(st.lists(_FLOATS, min_size=4, max_size=4)) for _ in range(3)],
    }
    header = nifti1_header(dims, **fields)
    n_voxel_bytes = draw(st.integers(0, 4096))
    declared = max(0, math.prod(max(d, 0) for d in dims[: max(fields["dim0"], 0)]) or 0) * 8
    return header + bytes(n_voxel_bytes), draw(st.booleans()), declared


_WARM: list[bool] = []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=nifti_files())
def test_fuzzed_nifti_headers_exit_0_or_2_with_one_line_in_bounded_memory(
    tmp_path: Path, case: tuple[bytes, bool, int]
) -> None:
    data, compress, _declared = case
    path = tmp_path / ("fuzz.nii.gz" if compress else "fuzz.nii")
    path.write_bytes(gzip.compress(data, compresslevel=1) if compress else data)
    runner = CliRunner()
    if not _WARM:  # imports and caches, outside the measurement
        runner.invoke(app, ["info", str(path)])
        _WARM.append(True)
    tracemalloc.start()
    try:
        r = runner.invoke(app, ["info", str(path)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.exit_code in (0, 2), (r.exit_code, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    if r.exit_code == 2:
        assert len(err) == 1 and err[0].startswith(f"segeval: error: {path}"), err
    else:  # notes about the file (data past the voxels, a zero voxel size), one line each
        assert all(line.startswith("segeval: warning: ") for line in err), err
    # What is allocated is bounded by what the file can hold (4 KiB of voxels, as float64 at most),
    # never by what the header declares.
    assert peak < 8 << 20, peak


# --------------------------------------------------------------------------- item 7: data files elsewhere

_MHD = "ObjectType = Image\nNDims = 3\nDimSize = 3 3 3\nElementType = MET_UCHAR\nElementDataFile = {}\n"


@pytest.fixture
def data_files(tmp_path: Path) -> Path:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    for where in ("data.raw", "sub/data.raw", "sub/deeper/data.raw"):
        (tmp_path / where).write_bytes(bytes(range(27)))
    return tmp_path


@pytest.mark.parametrize(("header", "name", "text"), [
    pytest.param("sub/up.mhd", "../data.raw", _MHD, id="mhd-parent"),
    pytest.param("sub/abs.mhd", "/etc/passwd", _MHD, id="mhd-absolute"),
    pytest.param("sub/proc.mhd", "/proc/self/environ", _MHD, id="mhd-proc"),
    pytest.param("sub/list.mhd", "LIST\n../data.raw", _MHD.replace("NDims = 3", "NDims = 3\nElementNumberOfChannels = 1"),
                 id="mhd-list"),
    pytest.param("sub/up.nhdr", "../data.raw",
                 "NRRD0004\ntype: uchar\ndimension: 3\nsizes: 3 3 3\nencoding: raw\ndata file: {}\n\n", id="nhdr"),
])
def test_data_file_outside_the_header_folder_is_refused(data_files: Path, header: str, name: str,
                                                        text: str) -> None:
    path = data_files / header
    path.write_text(text.format(name))
    with pytest.raises(ReadError, match="outside the header's folder; .*--allow-outside-data-files"):
        read_volume(path)
    r = CliRunner().invoke(app, ["info", str(path)])
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1 and "census" not in r.stdout
    assert "Voxels" not in r.stdout  # no census of /etc/passwd's bytes


def test_data_file_beside_or_below_is_read_and_the_flag_allows_others(data_files: Path) -> None:
    (data_files / "sub" / "below.mhd").write_text(_MHD.format("deeper/data.raw"))
    assert read_volume(data_files / "sub" / "below.mhd").labels.ravel(order="F").tolist() == list(range(27))
    (data_files / "sub" / "up.mhd").write_text(_MHD.format("../data.raw"))
    vol = read_volume(data_files / "sub" / "up.mhd", allow_outside_data_files=True)
    assert vol.shape == (3, 3, 3)
    r = CliRunner().invoke(app, ["info", "--allow-outside-data-files", str(data_files / "sub" / "up.mhd")])
    assert r.exit_code == 0, r.output


def test_header_that_hides_its_data_file_past_the_first_mib_is_refused(data_files: Path) -> None:
    path = data_files / "sub" / "long.mhd"
    path.write_text("ObjectType = Image\n" + "Comment = x\n" * 100_000 + _MHD.format("/etc/passwd"))
    with pytest.raises(ReadError, match="does not end within its first MiB"):
        read_volume(path)


# --------------------------------------------------------------------------- item 17: ITK's reason


@pytest.mark.parametrize("matrix", ["0 0 0 0 0 0 0 0 0", "1 0 0 1 0 0 0 0 1", "nan 0 0 0 1 0 0 0 1"])
def test_singular_transform_matrix_gives_itks_reason(tmp_path: Path, matrix: str) -> None:
    (tmp_path / "data.raw").write_bytes(bytes(27))
    text = _MHD.format("data.raw").replace("ElementType", f"TransformMatrix = {matrix}\nElementType")
    (tmp_path / "bad.mhd").write_text(text)
    with pytest.raises(ReadError) as info:
        read_volume(tmp_path / "bad.mhd")
    message = str(info.value)
    assert "Bad direction, determinant is 0" in message and "(0 0 0)" not in message


def test_address_space_limit_is_below_what_the_old_reader_needed() -> None:
    """The limit must be smaller than the 1.6 GB the bomb took before the fix, or the tests prove nothing."""
    assert ADDRESS_SPACE < 1 << 30
