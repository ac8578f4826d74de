"""Geometry check and nearest-neighbour resampling between prediction and ground truth."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from segeval.errors import GeometryMismatchError
from segeval.io import read_volume, write_volume
from segeval.io.itk import resample_to
from segeval.volume import LabelVolume, check_same_geometry, lps_to_ras

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
HINT = "use --resample-pred to resample the prediction onto the ground truth"


def _vol(
    labels: np.ndarray | None = None,
    *,
    spacing: tuple[float, ...] = (1.0, 1.0, 1.0),
    origin: tuple[float, ...] = (0.0, 0.0, 0.0),
    direction: tuple[float, ...] = IDENTITY,
    path: str = "gt.nii.gz",
    **kwargs: object,
) -> LabelVolume:
    arr = np.zeros((4, 5, 6), np.uint8) if labels is None else labels
    return LabelVolume(arr, spacing, origin, direction, path=path, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- check_same_geometry


def test_same_geometry_passes() -> None:
    check_same_geometry(_vol(path="pred.nii.gz"), _vol())


def test_float32_header_noise_is_tolerated() -> None:
    noisy = _vol(
        spacing=(float(np.float32(0.8)), 1.0, 1.0), origin=(float(np.float32(-120.7)), 0.0, 0.0)
    )
    check_same_geometry(noisy, _vol(spacing=(0.8, 1.0, 1.0), origin=(-120.7, 0.0, 0.0)))


@pytest.mark.parametrize(
    ("pred", "field", "values", "largest"),
    [
        pytest.param(
            _vol(np.zeros((4, 5, 7), np.uint8), path="pred.nii.gz"),
            "shape",
            "(pred (4, 5, 7) vs gt (4, 5, 6)",
            "largest difference 1 voxels",
            id="shape",
        ),
        pytest.param(
            _vol(spacing=(1.0, 1.0, 1.5), path="pred.nii.gz"),
            "spacing",
            "(pred (1, 1, 1.5) mm vs gt (1, 1, 1) mm",
            "largest difference 0.5 mm",
            id="spacing",
        ),
        pytest.param(
            _vol(origin=(0.0, -2.0, 0.0), path="pred.nii.gz"),
            "origin",
            "(pred (0, -2, 0) mm vs gt (0, 0, 0) mm",
            "largest difference 2 mm",
            id="origin",
        ),
        pytest.param(
            _vol(direction=(-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0), path="pred.nii.gz"),
            "direction",
            "(pred (-1, 0, 0, 0, 1, 0, 0, 0, 1) vs gt (1, 0, 0, 0, 1, 0, 0, 0, 1)",
            "largest difference 2",
            id="direction",
        ),
    ],
)
def test_mismatch_names_field_values_and_difference(
    pred: LabelVolume, field: str, values: str, largest: str
) -> None:
    with pytest.raises(GeometryMismatchError) as exc:
        check_same_geometry(pred, _vol())
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith("pred.nii.gz vs gt.nii.gz: ")
    assert f"{field} differs {values}" in message
    assert largest in message
    assert message.endswith(HINT)
    assert isinstance(exc.value, ValueError)


def test_every_differing_field_is_listed() -> None:
    pred = _vol(spacing=(2.0, 1.0, 1.0), origin=(5.0, 0.0, 0.0), path="p.nrrd")
    with pytest.raises(GeometryMismatchError) as exc:
        check_same_geometry(pred, _vol())
    message = str(exc.value)
    assert "spacing differs" in message and "origin differs" in message
    assert "shape" not in message and "direction" not in message


def test_tolerances_are_options() -> None:
    pred = _vol(origin=(0.01, 0.0, 0.0))
    with pytest.raises(GeometryMismatchError):
        check_same_geometry(pred, _vol())
    check_same_geometry(pred, _vol(), atol_mm=0.1)


def test_npy_without_origin_or_direction_skips_them() -> None:
    npy = _vol(origin=(), direction=(), path="pred.npy")
    check_same_geometry(
        npy, _vol(origin=(50.0, 0.0, 0.0), direction=(0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0))
    )


def test_assumed_spacing_is_not_compared() -> None:
    """A bare .npy (1 mm assumed) takes the ground truth's grid instead of failing."""
    npy = _vol(origin=(), direction=(), path="pred.npy", spacing_given=False)
    check_same_geometry(npy, _vol(spacing=(0.8, 0.8, 2.5)))
    given = _vol(origin=(), direction=(), path="pred.npy", spacing_given=True)
    with pytest.raises(GeometryMismatchError, match="spacing differs"):
        check_same_geometry(given, _vol(spacing=(0.8, 0.8, 2.5)))


def test_channel_axis_is_not_part_of_the_shape() -> None:
    soft = _vol(np.zeros((4, 5, 6, 3), np.float32), meta={"channel_axis": 3}, path="prob.nii.gz")
    check_same_geometry(soft, _vol())


def test_files_read_from_disk_compare_equal_across_formats(tmp_path: Path) -> None:
    arr = np.zeros((4, 5, 6), np.uint8)
    kwargs = {"spacing_mm": (0.8, 0.7, 2.5), "origin": (-10.3, 4.1, 7.7)}
    a = read_volume(write_volume(tmp_path / "pred.nii.gz", arr, **kwargs))  # type: ignore[arg-type]
    b = read_volume(write_volume(tmp_path / "gt.mha", arr, **kwargs))  # type: ignore[arg-type]
    check_same_geometry(a, b)


# --------------------------------------------------------------------------- resample_to


def _ramp() -> np.ndarray:
    """Distinct labels along x, constant along y and z, so a shift along x is easy to read."""
    return np.broadcast_to(np.arange(1, 9, dtype=np.uint8)[:, None, None], (8, 3, 2)).copy()


def test_resample_identity_grid_is_a_no_op() -> None:
    pred = _vol(_ramp(), path="pred.nii.gz")
    out = resample_to(pred, _vol(np.zeros((8, 3, 2), np.uint8)))
    np.testing.assert_array_equal(out.labels, pred.labels)
    assert out.labels.dtype == np.uint8 and out.path == "pred.nii.gz"
    assert out.meta["resampled"] is True


def test_resample_shifted_origin() -> None:
    """Prediction grid starts one voxel (2 mm) further right: gt voxel j sees pred voxel j - 1."""
    pred = _vol(_ramp(), spacing=(2.0, 1.0, 1.0), origin=(12.0, 0.0, 0.0), path="pred.nii.gz")
    gt = _vol(np.zeros((8, 3, 2), np.uint8), spacing=(2.0, 1.0, 1.0), origin=(10.0, 0.0, 0.0))
    out = resample_to(pred, gt)
    expected = np.zeros_like(_ramp())
    expected[1:] = _ramp()[:-1]  # voxel 0 lies outside the prediction: background
    np.testing.assert_array_equal(out.labels, expected)
    assert out.origin == gt.origin and out.spacing_mm == gt.spacing_mm


def test_resample_to_coarser_grid() -> None:
    """gt voxels 2 mm apart over pred voxels 1 mm apart, same origin: gt j = pred 2j."""
    pred = _vol(_ramp(), path="pred.nii.gz")
    gt = _vol(np.zeros((4, 3, 2), np.uint8), spacing=(2.0, 1.0, 1.0))
    np.testing.assert_array_equal(resample_to(pred, gt).labels[:, 0, 0], [1, 3, 5, 7])


def test_resample_to_finer_grid_rounds_to_nearest() -> None:
    """pred voxels 3 mm apart, gt 1 mm apart: gt j takes pred round(j / 3)."""
    pred = _vol(_ramp()[:4], spacing=(3.0, 1.0, 1.0), path="pred.nii.gz")
    gt = _vol(np.zeros((10, 3, 2), np.uint8))
    expected = [1, 1, 2, 2, 2, 3, 3, 3, 4, 4]
    np.testing.assert_array_equal(resample_to(pred, gt).labels[:, 1, 1], expected)


def test_resample_undoes_a_flipped_axis() -> None:
    """The voxels stored with x reversed (direction -x, origin at the far end) resample back."""
    ramp = _ramp()
    flipped = _vol(
        ramp[::-1].copy(),
        origin=(7.0, 0.0, 0.0),
        direction=(-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
        path="pred.nii.gz",
    )
    out = resample_to(flipped, _vol(np.zeros_like(ramp)))
    np.testing.assert_array_equal(out.labels, ramp)


def test_resample_lines_up_nifti_and_itk_files(tmp_path: Path) -> None:
    """NIfTI (RAS) and NRRD (LPS) files of one object: resampling one onto the other is identity."""
    rng = np.random.default_rng(5)
    arr = rng.integers(0, 4, size=(6, 7, 5), dtype=np.uint8)
    geometry = {
        "spacing_mm": (0.9, 1.1, 2.0),
        "origin": (-30.0, 12.5, 4.0),
        "direction": (0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0),
    }
    gt = read_volume(write_volume(tmp_path / "gt.nii.gz", arr, **geometry))  # type: ignore[arg-type]
    pred = read_volume(write_volume(tmp_path / "pred.nrrd", arr, **geometry))  # type: ignore[arg-type]
    np.testing.assert_array_equal(resample_to(pred, gt).labels, arr)
    # Array axis 1 points to +x (column 1 of the direction): moving the NRRD's
    # origin 1.1 mm (one voxel) to +x puts its voxel j - 1 at gt's voxel j.
    moved = replace(pred, origin=(pred.origin[0] + 1.1, pred.origin[1], pred.origin[2]))
    expected = np.zeros_like(arr)
    expected[:, 1:] = arr[:, :-1]
    np.testing.assert_array_equal(resample_to(moved, gt).labels, expected)


@pytest.mark.parametrize(
    "dtype", ["bool", "int8", "uint16", "int32", "int64", "float32", "float16"]
)
def test_resample_keeps_dtype(dtype: str) -> None:
    pred = _vol((_ramp() % 2).astype(dtype), path="pred.nii.gz")
    out = resample_to(pred, _vol(np.zeros((8, 3, 2), np.uint8)))
    assert out.labels.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out.labels, pred.labels)


def test_resample_channels_alike() -> None:
    probs = np.random.default_rng(2).random((8, 3, 2, 3)).astype(np.float32)
    pred = _vol(probs, origin=(1.0, 0.0, 0.0), meta={"channel_axis": 3}, path="prob.nii.gz")
    out = resample_to(pred, _vol(np.zeros((8, 3, 2), np.uint8)))
    assert out.shape == (8, 3, 2, 3)
    np.testing.assert_array_equal(out.labels[1:], probs[:-1])
    np.testing.assert_array_equal(out.labels[0], 0)


def test_resample_npy_prediction_uses_default_geometry() -> None:
    pred = _vol(_ramp(), origin=(), direction=(), path="pred.npy")
    out = resample_to(pred, _vol(np.zeros((8, 3, 2), np.uint8)))
    np.testing.assert_array_equal(out.labels, _ramp())


def test_resample_refuses_different_dimensionality() -> None:
    pred = _vol(
        np.zeros((4, 5), np.uint8),
        spacing=(1.0, 1.0),
        origin=(0.0, 0.0),
        direction=(1.0, 0.0, 0.0, 1.0),
        path="pred.nii.gz",
    )
    with pytest.raises(GeometryMismatchError) as exc:
        resample_to(pred, _vol())
    assert "2-D prediction onto a 3-D ground truth" in str(exc.value)


def test_lps_to_ras_is_its_own_inverse() -> None:
    origin, direction = (1.5, -2.0, 3.0), (0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0)
    assert lps_to_ras(*lps_to_ras(origin, direction)) == (origin, direction)
