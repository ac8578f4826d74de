"""describe(): header summary and label census."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from segeval.info import describe
from segeval.io import read_volume, write_volume
from segeval.volume import LabelVolume


def _census(info: dict[str, object]) -> list[tuple[int, int, float]]:
    return [(c["label"], c["voxels"], c["ml"]) for c in info["census"]]  # type: ignore[attr-defined, index]


def test_census_hand_computed(tmp_path: Path) -> None:
    """10 x 10 x 4 voxels of 0.5 x 0.5 x 2 mm (0.5 mm^3 = 0.0005 ml each)."""
    labels = np.zeros((10, 10, 4), np.uint8)
    labels[0:5, :, :] = 1  # 5 * 10 * 4 = 200 voxels
    labels[5:6, 0:3, 0:2] = 4  # 1 * 3 * 2 = 6 voxels
    path = write_volume(tmp_path / "gt.nii.gz", labels, spacing_mm=(0.5, 0.5, 2.0))
    info = describe(read_volume(path))

    assert info["kind"] == "labels"
    assert [(label, voxels) for label, voxels, _ in _census(info)] == [(0, 194), (1, 200), (4, 6)]
    assert [ml for _, _, ml in _census(info)] == pytest.approx([0.097, 0.1, 0.003])
    assert info["path"] == str(path)
    assert info["shape"] == [10, 10, 4]
    assert info["dtype"] == "uint8"
    assert info["spacing_mm"] == [0.5, 0.5, 2.0]
    assert info["axcodes"] == ["R", "A", "S"]
    assert info["origin"] == [0.0, 0.0, 0.0]
    json.dumps(info)  # JSON-ready


def test_npy_has_no_orientation() -> None:
    info = describe(
        LabelVolume(np.ones((2, 2), np.int32), (1.0, 1.0), path="a.npy", spacing_given=False)
    )
    assert info["axcodes"] is None and info["origin"] is None and info["direction"] is None
    assert info["spacing_given"] is False
    assert _census(info) == [(1, 4, 0.004)]


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        pytest.param([-128, -1, 0, 127], "int8", id="int8-extremes"),
        pytest.param([0, 65535], "uint16", id="uint16-extremes"),
        pytest.param([0, 3, 100_000], "int32", id="wide-range-unique"),
        pytest.param([0, 2**63], "uint64", id="uint64-huge"),
        pytest.param([-(2**40), -(2**40) + 2], "int64", id="int64-narrow-far-from-zero"),
        pytest.param([0.0, 2.0, -3.0], "float32", id="whole-floats"),
        pytest.param([False, True], "bool", id="bool"),
    ],
)
def test_census_dtypes(values: list[object], dtype: str) -> None:
    arr = np.array(values * 3, dtype=dtype).reshape(len(values), 3)
    info = describe(LabelVolume(arr, (1.0, 1.0)))
    expected = sorted(int(v) for v in values)
    assert info["kind"] == "labels"
    assert [label for label, _, _ in _census(info)] == expected
    assert all(voxels == 3 for _, voxels, _ in _census(info))
    assert all(isinstance(label, int) for label, _, _ in _census(info))


def test_soft_volume_has_range_not_census() -> None:
    probs = np.array([[0.0, 0.25], [0.75, 1.0]], np.float32)
    info = describe(LabelVolume(probs, (1.0, 1.0)))
    assert info["kind"] == "soft" and "census" not in info
    assert (info["min"], info["max"], info["nonfinite_voxels"]) == (0.0, 1.0, 0)


def test_nan_makes_a_float_volume_soft() -> None:
    arr = np.array([1.0, np.nan, 2.0, np.inf])
    info = describe(LabelVolume(arr, (1.0,)))
    assert info["kind"] == "soft"
    assert (info["min"], info["max"], info["nonfinite_voxels"]) == (1.0, 2.0, 2)
    all_nan = describe(LabelVolume(np.full(3, np.nan), (1.0,)))
    assert (all_nan["min"], all_nan["max"], all_nan["nonfinite_voxels"]) == (None, None, 3)


def test_fortran_and_transposed_arrays() -> None:
    c_order = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) % 5
    for arr in (np.asfortranarray(c_order), c_order.transpose(2, 1, 0), c_order[:, ::2]):
        expected = dict(zip(*np.unique(arr, return_counts=True)))
        got = {
            label: voxels
            for label, voxels, _ in _census(describe(LabelVolume(arr, (1.0, 1.0, 1.0))))
        }
        assert got == {int(k): int(v) for k, v in expected.items()}


def test_empty_volume() -> None:
    assert describe(LabelVolume(np.zeros((0, 3, 3), np.uint8), (1.0, 1.0, 1.0)))["census"] == []


def test_census_crosses_chunk_boundaries() -> None:
    arr = np.zeros(3 * (1 << 20) + 17, np.int16)
    arr[-5:] = -7
    arr[: 1 << 20] = 9
    assert [
        (label, voxels) for label, voxels, _ in _census(describe(LabelVolume(arr, (1.0,))))
    ] == [
        (-7, 5),
        (0, 2 * (1 << 20) + 12),
        (9, 1 << 20),
    ]


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.int8, np.int16, np.uint32, np.int64]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
    )
)
def test_census_matches_unique(arr: np.ndarray) -> None:
    values, counts = np.unique(arr, return_counts=True)
    info = describe(LabelVolume(arr, (1.0,) * arr.ndim))
    assert [(label, voxels) for label, voxels, _ in _census(info)] == [
        (int(v), int(c)) for v, c in zip(values, counts)
    ]
