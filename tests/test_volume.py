"""Geometry check, exact reorientation and nearest-neighbour resampling between prediction and ground truth."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from segeval.errors import GeometryMismatchError
from segeval.io import read_volume, write_volume
from segeval.io.itk import resample_to
from segeval.volume import (
    LabelVolume,
    check_same_geometry,
    lps_to_ras,
    orientation_codes,
    reorient_to,
)

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


# --------------------------------------------------------------------------- reorient_to

SIGNED_PERMUTATIONS = [(perm, signs) for perm in itertools.permutations(range(3))
                       for signs in itertools.product((1, -1), repeat=3)]
GRID: dict[str, Any] = {"spacing": (0.8, 1.1, 2.5), "origin": (-12.5, 30.25, 7.0),
        "direction": (0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0)}


def _labels(seed: int = 3) -> np.ndarray:
    """A small array with no symmetry: every flip or transpose of it is a different array."""
    return np.random.default_rng(seed).integers(0, 4, size=(4, 5, 6), dtype=np.uint8)


def _seen_as(vol: LabelVolume, perm: tuple[int, ...], signs: tuple[int, ...], path: str = "pred.nii.gz",
             ) -> LabelVolume:
    """The same voxels on the same grid, stored with array axis j = ``vol``'s axis perm[j] (reversed when
    signs[j] is -1): geometry adjusted so that every voxel keeps its world position."""
    rot = np.reshape(vol.direction, (3, 3))
    arr = vol.labels.transpose(perm)[tuple(slice(None, None, s) for s in signs)]
    origin = np.array(vol.origin)
    for j, k in enumerate(perm):
        if signs[j] < 0:
            origin += rot[:, k] * vol.spacing_mm[k] * (vol.shape[k] - 1)
    direction = rot[:, list(perm)] * np.array(signs)
    return LabelVolume(np.ascontiguousarray(arr), tuple(vol.spacing_mm[k] for k in perm), tuple(origin.tolist()),
                       tuple(direction.ravel().tolist()), path=path)


def _world_labels(vol: LabelVolume) -> dict[tuple[float, ...], int]:
    """World position (mm, rounded) -> label of every voxel: the oracle that two volumes show the same object."""
    rot = np.reshape(vol.direction, (3, 3)) * np.array(vol.spacing_mm)
    idx = np.indices(vol.shape).reshape(3, -1)
    world = (rot @ idx).T + np.array(vol.origin)
    return {tuple(np.round(w, 4)): int(v) for w, v in zip(world, vol.labels.reshape(-1))}


def _scores(pred: LabelVolume, gt: LabelVolume) -> list[dict[str, object]]:
    from segeval.scoring import score_case
    from segeval.settings import build_settings

    return score_case(pred, gt, build_settings(metrics="dice,iou,hd,hd95,assd,nsd")).labels


@pytest.mark.parametrize(("perm", "signs"), SIGNED_PERMUTATIONS, ids=[f"{p}{s}" for p, s in SIGNED_PERMUTATIONS])
def test_every_signed_permutation_is_undone_exactly(perm: tuple[int, ...], signs: tuple[int, ...]) -> None:
    gt = _vol(_labels(1), **GRID)
    pred = _vol(_labels(2), path="pred.nii.gz", **GRID)
    stored = _seen_as(pred, perm, signs)
    assert _world_labels(stored) == _world_labels(pred)  # the fixture itself: same voxels, same places
    out = reorient_to(stored, gt)
    assert out is not None
    np.testing.assert_array_equal(out.labels, pred.labels)
    check_same_geometry(out, gt)
    assert _scores(out, gt) == _scores(pred, gt)
    if perm == (0, 1, 2) and signs == (1, 1, 1):
        assert out is stored
    else:
        assert not out.labels.flags.writeable
        codes = f"{orientation_codes(stored)} -> {orientation_codes(gt)}"
        assert out.meta["notes"] == [f"prediction reoriented to the GT's axes ({codes}), exactly"]


@pytest.mark.parametrize("field", ["origin", "spacing"])
def test_a_grid_off_by_half_a_voxel_or_rescaled_is_not_reoriented(field: str) -> None:
    gt = _vol(_labels(1), **GRID)
    stored = _seen_as(_vol(_labels(2), path="pred.nii.gz", **GRID), (2, 0, 1), (-1, 1, 1))
    if field == "origin":
        off = replace(stored, origin=(stored.origin[0] + stored.spacing_mm[0] / 2, *stored.origin[1:]))
    else:
        off = replace(stored, spacing_mm=(stored.spacing_mm[0] * 1.01, *stored.spacing_mm[1:]))
    assert reorient_to(off, gt) is None


@pytest.mark.parametrize("case", ["oblique", "npy", "channels", "shape"])
def test_what_reorientation_leaves_alone(case: str) -> None:
    gt = _vol(_labels(1), **GRID)
    pred = _vol(_labels(2), path="pred.nii.gz", **GRID)
    if case == "oblique":
        c, s = np.cos(0.3), np.sin(0.3)
        rot = np.reshape(GRID["direction"], (3, 3)) @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        pred = replace(pred, direction=tuple(rot.ravel().tolist()))
    elif case == "npy":
        pred = replace(pred, origin=(), direction=(), spacing_given=False)
    elif case == "channels":
        pred = replace(pred, labels=np.zeros((4, 5, 6, 2), np.float32), meta={"channel_axis": 3})
    else:
        pred = replace(pred, labels=_labels(2)[:, :, :5])
    assert reorient_to(_seen_as(pred, (1, 0, 2), (1, -1, 1)) if case == "shape" else pred, gt) is None


def test_lps_nrrd_against_ras_nifti_scores_as_the_ras_file(tmp_path: Path) -> None:
    import segeval

    ras = {"spacing_mm": (0.8, 1.1, 2.5), "origin": (-12.5, 30.25, 7.0)}
    gt_path = write_volume(tmp_path / "gt.nii.gz", _labels(1), **ras)
    pred_path = write_volume(tmp_path / "pred.nii.gz", _labels(2), **ras)
    lps = _seen_as(read_volume(pred_path), (0, 1, 2), (-1, -1, 1))
    lps_path = write_volume(tmp_path / "pred.nrrd", lps.labels, spacing_mm=lps.spacing_mm, origin=lps.origin,
                            direction=lps.direction)
    with pytest.raises(GeometryMismatchError):
        check_same_geometry(read_volume(lps_path), read_volume(gt_path))
    expected = segeval.score(pred_path, gt_path, metrics="dice,hd95").cases[0]
    got = segeval.score(lps_path, gt_path, metrics="dice,hd95").cases[0]
    assert got.labels == expected.labels
    assert got.notes == ["prediction reoriented to the GT's axes (LPS -> RAS), exactly"]


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_every_signed_permutation_of_a_file_scores_the_same(tmp_path: Path, suffix: str) -> None:
    from segeval.scoring import load_case
    from segeval.settings import build_settings

    settings = build_settings(metrics="dice,hd95")
    geometry = {"spacing_mm": GRID["spacing"], "origin": GRID["origin"], "direction": GRID["direction"]}
    gt_path = write_volume(tmp_path / "gt.nii.gz", _labels(1), **geometry)
    pred_path = write_volume(tmp_path / "pred.nii.gz", _labels(2), **geometry)
    expected = _scores(*load_case(pred_path, gt_path, settings))
    pred = read_volume(pred_path)
    for i, (perm, signs) in enumerate(SIGNED_PERMUTATIONS):
        stored = _seen_as(pred, perm, signs)
        path = write_volume(tmp_path / f"p{i}{suffix}", stored.labels, spacing_mm=stored.spacing_mm,
                            origin=stored.origin, direction=stored.direction)
        for resample in (False, True):
            p, g = load_case(path, gt_path, settings, resample_pred=resample)
            np.testing.assert_array_equal(p.labels, pred.labels)
            assert _scores(p, g) == expected, (perm, signs, resample)
            assert "resampled" not in p.meta or (perm, signs) == ((0, 1, 2), (1, 1, 1))


def test_a_file_off_by_half_a_voxel_is_still_a_mismatch_or_resampled(tmp_path: Path) -> None:
    from segeval.scoring import load_case
    from segeval.settings import build_settings

    settings = build_settings()
    geometry = {"spacing_mm": GRID["spacing"], "origin": GRID["origin"], "direction": GRID["direction"]}
    gt_path = write_volume(tmp_path / "gt.nii.gz", _labels(1), **geometry)
    stored = _seen_as(read_volume(gt_path), (1, 0, 2), (1, 1, -1))
    shifted = (stored.origin[0], stored.origin[1], stored.origin[2] + GRID["spacing"][2] / 2)
    path = write_volume(tmp_path / "pred.nrrd", stored.labels, spacing_mm=stored.spacing_mm, origin=shifted,
                        direction=stored.direction)
    with pytest.raises(GeometryMismatchError, match="origin differs"):
        load_case(path, gt_path, settings)
    pred, _ = load_case(path, gt_path, settings, resample_pred=True)
    assert pred.meta["resampled"] is True and "reoriented" not in pred.meta
