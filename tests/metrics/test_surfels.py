"""Surface elements on the voxel-corner grid (DeepMind's surface distances): segeval.metrics.surfels.

The expected numbers of the ``test_deepmind_*`` tests are those asserted in
google-deepmind/surface-distance, ``surface_distance_test.py`` (the test named
in each docstring), written out here; DeepMind passes GT first and returns
pairs GT first, segeval takes pred first and returns pairs pred first.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from segeval.errors import InputError, OptionError
from segeval.metrics import _surfel_tables, surfels
from segeval.metrics.surfels import (
    SurfelDistances,
    average_distances,
    hausdorff,
    mean_average_distance,
    pooled_average_distance,
    robust_hausdorff,
    surface_dice,
    surface_overlap,
    surfel_areas,
    surfel_distances,
)

DIAG_2_1 = 0.5 * math.sqrt(2**2 + 1**2)  # a corner segment of a 2 mm x 1 mm pixel


def _nan_equal(a: float, b: float, places: int = 7) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return round(abs(a - b), places) == 0


def _check(d: SurfelDistances, *, average: tuple[float, float], hd100: float, hd95: float,
           overlap: tuple[float, float], dice: float, places: int = 7) -> None:
    """Compare every aggregate with DeepMind's expectations (pairs given pred first)."""
    got_avg = average_distances(d)
    assert _nan_equal(got_avg[0], average[0], places) and _nan_equal(got_avg[1], average[1], places), got_avg
    assert _nan_equal(robust_hausdorff(d, 100), hd100, places)
    assert _nan_equal(robust_hausdorff(d, 95), hd95, places)
    got_overlap = surface_overlap(d, 1.0)
    assert _nan_equal(got_overlap[0], overlap[0], places) and _nan_equal(got_overlap[1], overlap[1], places)
    assert _nan_equal(surface_dice(d, 1.0), dice, places)


# --------------------------------------------------------------------------- DeepMind's test suite, 2-D


def test_deepmind_2d_two_pixels_2mm_away() -> None:
    """SurfaceDistance2DTest.test_on_2_pixels_2mm_away."""
    gt = np.zeros((128, 128), bool)
    pred = np.zeros((128, 128), bool)
    gt[50, 70] = True
    pred[50, 72] = True
    d = surfel_distances(pred, gt, (2, 1))
    np.testing.assert_array_equal(d.gt_areas, [DIAG_2_1] * 4)
    np.testing.assert_array_equal(d.pred_areas, [DIAG_2_1] * 4)
    np.testing.assert_array_equal(d.gt_to_pred, [1.0, 1.0, 2.0, 2.0])
    np.testing.assert_array_equal(d.pred_to_gt, [1.0, 1.0, 2.0, 2.0])
    _check(d, average=(1.5, 1.5), hd100=2.0, hd95=2.0, overlap=(0.5, 0.5), dice=0.5)


def test_deepmind_2d_two_squares_shifted_by_one_pixel() -> None:
    """SurfaceDistance2DTest.test_two_squares_shifted_by_one_pixel (spacing 2 mm vertical, 1 mm horizontal).

    DeepMind lists the surfels clockwise from the top left (GT: diag, h, diag,
    v, diag, h, diag, v at distances 0 but one h at 1 mm; pred: diag, h,
    diag, v, v, diag, h, diag, v, v with the bottom three at 2 mm) and
    derives the metrics from those lists; here they are sorted by (distance,
    area) and the metrics worked out by hand.
    """
    gt = np.zeros((6, 6), bool)
    gt[1:3, 1:3] = True
    pred = np.zeros((6, 6), bool)
    pred[1:4, 1:3] = True
    d = surfel_distances(pred, gt, (2, 1))
    h, v, g = 1.0, 2.0, DIAG_2_1
    np.testing.assert_array_equal(d.gt_to_pred, [0] * 7 + [1])
    np.testing.assert_allclose(d.gt_areas, [h, g, g, g, g, v, v, h], rtol=1e-15)
    np.testing.assert_array_equal(d.pred_to_gt, [0] * 7 + [2] * 3)
    np.testing.assert_allclose(d.pred_areas, [h, g, g, v, v, v, v, h, g, g], rtol=1e-15)
    area_gt = 2 * h + 4 * g + 2 * v
    area_pred = 2 * h + 4 * g + 4 * v
    far_pred = h + 2 * g  # the three pred surfels 2 mm from GT
    _check(d, average=(2 * far_pred / area_pred, 1 * h / area_gt), hd100=2.0, hd95=2.0,
           overlap=((area_pred - far_pred) / area_pred, 1.0),
           dice=(area_gt + area_pred - far_pred) / (area_gt + area_pred))


def test_deepmind_2d_empty_prediction() -> None:
    """SurfaceDistance2DTest.test_empty_prediction_mask."""
    gt = np.zeros((128, 128), bool)
    gt[50, 60] = True
    d = surfel_distances(np.zeros_like(gt), gt, (3, 2))
    _check(d, average=(math.nan, math.inf), hd100=math.inf, hd95=math.inf, overlap=(math.nan, 0.0), dice=0.0)


def test_deepmind_2d_empty_ground_truth() -> None:
    """SurfaceDistance2DTest.test_empty_ground_truth_mask."""
    pred = np.zeros((128, 128), bool)
    pred[50, 60] = True
    d = surfel_distances(pred, np.zeros_like(pred), (3, 2))
    _check(d, average=(math.inf, math.nan), hd100=math.inf, hd95=math.inf, overlap=(0.0, math.nan), dice=0.0)


@pytest.mark.parametrize("shape, spacing", [
    pytest.param((128, 128), (3, 2), id="2d"),
    pytest.param((128, 128, 128), (3, 2, 1), id="3d"),
])
def test_deepmind_both_empty(shape: tuple[int, ...], spacing: tuple[int, ...]) -> None:
    """SurfaceDistance2DTest and SurfaceDistance3DTest.test_both_empty_masks."""
    empty = np.zeros(shape, bool)
    d = surfel_distances(empty, empty, spacing)
    assert d.n_pred == d.n_gt == 0
    _check(d, average=(math.nan, math.nan), hd100=math.inf, hd95=math.inf, overlap=(math.nan, math.nan),
           dice=math.nan)


# --------------------------------------------------------------------------- DeepMind's test suite, 3-D


def test_deepmind_3d_two_voxels_2mm_away() -> None:
    """SurfaceDistance3DTest.test_on_2_pixels_2mm_away."""
    gt = np.zeros((128, 128, 128), bool)
    pred = np.zeros((128, 128, 128), bool)
    gt[50, 60, 70] = True
    pred[50, 60, 72] = True
    d = surfel_distances(pred, gt, (3, 2, 1))
    _check(d, average=(1.5, 1.5), hd100=2.0, hd95=2.0, overlap=(0.5, 0.5), dice=0.5)


def test_deepmind_3d_two_cubes_shifted_by_one_voxel() -> None:
    """SurfaceDistance3DTest.test_two_cubes_shifted_by_one_pixel (asserted to 3 places there)."""
    gt = np.zeros((100, 100, 100), bool)
    pred = np.zeros((100, 100, 100), bool)
    gt[0:50, :, :] = True
    pred[0:51, :, :] = True
    d = surfel_distances(pred, gt, (2, 1, 1))
    _check(d, average=(0.339, 0.322), hd100=2.0, hd95=2.0, overlap=(0.830, 0.842), dice=0.836, places=3)


def test_deepmind_3d_empty_prediction() -> None:
    """SurfaceDistance3DTest.test_empty_prediction_mask."""
    gt = np.zeros((128, 128, 128), bool)
    gt[50, 60, 70] = True
    d = surfel_distances(np.zeros_like(gt), gt, (3, 2, 1))
    _check(d, average=(math.nan, math.inf), hd100=math.inf, hd95=math.inf, overlap=(math.nan, 0.0), dice=0.0)


def test_deepmind_3d_empty_ground_truth() -> None:
    """SurfaceDistance3DTest.test_empty_ground_truth_mask."""
    pred = np.zeros((128, 128, 128), bool)
    pred[50, 60, 72] = True
    d = surfel_distances(pred, np.zeros_like(pred), (3, 2, 1))
    _check(d, average=(math.inf, math.nan), hd100=math.inf, hd95=math.inf, overlap=(0.0, math.nan), dice=0.0)


# --------------------------------------------------------------------------- by hand


@pytest.mark.parametrize("spacing, area", [
    # the iso-surface of one voxel is the octahedron through the 6 face centres
    pytest.param((1.0, 1.0, 1.0), math.sqrt(3), id="1mm: regular octahedron, 8 x sqrt(3)/8"),
    # vertices at +-1, +-0.5, +-0.5 mm: each face 0.5 |(0.25, 0.5, 0.5)| = 0.375
    pytest.param((2.0, 1.0, 1.0), 3.0, id="2x1x1 mm: 8 x 0.375"),
])
def test_one_voxel_is_an_octahedron(spacing: tuple[float, ...], area: float) -> None:
    m = np.zeros((3, 3, 3), bool)
    m[1, 1, 1] = True
    d = surfel_distances(m, m, spacing)
    assert d.n_pred == 8
    assert d.pred_areas.sum() == pytest.approx(area, rel=1e-14)
    np.testing.assert_array_equal(d.pred_to_gt, 0.0)


def test_cube_area_is_faces_edges_and_corners() -> None:
    """A 4^3 cube at 1 mm: 6 flat 3x3 faces, 12 edge strips 3 long and sqrt(1/2) wide, 8 corner triangles."""
    m = np.zeros((6, 6, 6), bool)
    m[1:5, 1:5, 1:5] = True
    d = surfel_distances(m, m, (1, 1, 1))
    assert d.gt_areas.sum() == pytest.approx(6 * 9 + 12 * 3 * math.sqrt(0.5) + 8 * math.sqrt(3) / 8, rel=1e-14)


def test_one_pixel_2d_and_its_shift() -> None:
    """A pixel's contour is the diamond through its edge midpoints; moved 3 pixels along axis 1 (1 mm each)."""
    gt = np.zeros((5, 8), bool)
    gt[2, 2] = True
    pred = np.roll(gt, 3, axis=1)
    d = surfel_distances(pred, gt, (2.0, 1.0))
    np.testing.assert_allclose(d.pred_areas, [DIAG_2_1] * 4, rtol=1e-15)
    # the diamonds' corners: (+-1 mm, 0) and (0, +-0.5 mm) around centres 3 mm apart
    np.testing.assert_allclose(d.gt_to_pred, [2.0, 2.0, 3.0, 3.0])
    assert hausdorff(d) == 3.0
    assert mean_average_distance(d) == pooled_average_distance(d) == 2.5


def test_percentile_is_the_first_distance_whose_cumulative_area_reaches_it() -> None:
    d = SurfelDistances(np.array([0.0, 1.0, 2.0, 3.0]), np.ones(4), np.array([5.0]), np.array([2.0]))
    assert robust_hausdorff(d, 50) == 5.0  # the GT side's one surfel
    half = SurfelDistances(d.pred_to_gt, d.pred_areas, np.array([0.0]), np.array([1.0]))
    assert robust_hausdorff(half, 50) == 1.0  # cumulative 0.25, 0.5 reaches 0.5 at the 2nd
    assert robust_hausdorff(half, 50.1) == 2.0
    assert robust_hausdorff(half, 100) == 3.0
    weighted = SurfelDistances(d.pred_to_gt, np.array([1.0, 1.0, 1.0, 7.0]), np.array([0.0]), np.array([1.0]))
    assert robust_hausdorff(weighted, 40) == 3.0  # the last surfel holds 70 % of the area
    assert surface_dice(weighted, 1.0) == pytest.approx((2 + 1) / (10 + 1))
    assert pooled_average_distance(weighted) == pytest.approx((0 + 1 + 2 + 21) / 11)
    assert mean_average_distance(weighted) == pytest.approx((24 / 10 + 0) / 2)


def test_crops_and_flips_change_nothing() -> None:
    rng = np.random.default_rng(3)
    gt = np.zeros((20, 22, 18), bool)
    gt[4:15, 5:17, 3:14] = rng.random((11, 12, 11)) < 0.7
    pred = np.zeros_like(gt)
    pred[5:16, 4:16, 4:15] = rng.random((11, 12, 11)) < 0.7
    spacing = (0.7, 1.3, 2.9)
    whole = surfel_distances(pred, gt, spacing)
    crop = surfel_distances(pred[3:17, 3:18, 2:16], gt[3:17, 3:18, 2:16], spacing)
    flipped = surfel_distances(pred[::-1, :, ::-1], gt[::-1, :, ::-1], spacing)
    transposed = surfel_distances(pred.transpose(2, 0, 1), gt.transpose(2, 0, 1), (2.9, 0.7, 1.3))
    for other in (crop, flipped, transposed):
        np.testing.assert_allclose(other.pred_to_gt, whole.pred_to_gt, rtol=1e-12)
        np.testing.assert_allclose(np.sort(other.pred_areas), np.sort(whole.pred_areas), rtol=1e-12)
        np.testing.assert_allclose(other.gt_to_pred, whole.gt_to_pred, rtol=1e-12)
        np.testing.assert_allclose(np.sort(other.gt_areas), np.sort(whole.gt_areas), rtol=1e-12)


def test_a_surface_seen_from_outside_has_the_same_area() -> None:
    for spacing in [(1.0, 1.0, 1.0), (0.5, 1.7, 3.1)]:
        table = surfel_areas(spacing)
        np.testing.assert_allclose(table, table[::-1], rtol=1e-14)  # code c and 255 - c
        assert table[0] == table[255] == 0
    table_2d = surfel_areas((3.0, 2.0))
    np.testing.assert_allclose(table_2d, table_2d[::-1], rtol=1e-14)
    assert table_2d[0b0011] == 2.0 and table_2d[0b0101] == 3.0  # a horizontal and a vertical side


def test_tied_triangulations_have_one_area_at_every_spacing() -> None:
    """The mean over a non-planar polygon's largest-area triangulations is each one's area (module docstring)."""
    rng = np.random.default_rng(0)
    spacings = rng.uniform(0.1, 5.0, size=(10, 3))
    for code in range(256):
        for polygon in _surfel_tables._cell_polygons(code, 3):
            options = [_surfel_tables._triangle_normals(polygon, t) for t in _surfel_tables._triangulations(len(polygon))]
            areas = np.array([np.linalg.norm(n, axis=1).sum() for n in options])
            best = [n for n, a in zip(options, areas, strict=True) if a >= areas.max() - 1e-12]
            for s0, s1, s2 in spacings:
                scale = np.array([s1 * s2, s0 * s2, s0 * s1])
                values = [np.linalg.norm(n * scale, axis=1).sum() for n in best]
                assert max(values) - min(values) <= 1e-12 * max(values), code


def test_matches_deepmind_tables_when_installed() -> None:
    """A development check: the derived tables equal DeepMind's lookup tables (its package, where installed)."""
    tables = pytest.importorskip("surface_distance.lookup_tables", reason="DeepMind's surface-distance not installed")
    rng = np.random.default_rng(1)
    for spacing in [(1.0, 1.0, 1.0), *map(tuple, rng.uniform(0.2, 4.0, size=(5, 3)))]:
        np.testing.assert_allclose(surfel_areas(spacing), tables.create_table_neighbour_code_to_surface_area(spacing),
                                   rtol=1e-13, atol=0)
    for spacing in [(1.0, 1.0), (2.0, 0.5)]:
        np.testing.assert_allclose(surfel_areas(spacing),
                                   tables.create_table_neighbour_code_to_contour_length(spacing), rtol=1e-13)


@pytest.mark.parametrize("pred, gt, spacing, error", [
    pytest.param(np.zeros((3, 3)), np.zeros((3, 4)), (1, 1), InputError, id="shapes differ"),
    pytest.param(np.zeros(3), np.zeros(3), (1,), InputError, id="1-D"),
    pytest.param(np.zeros((3, 3)), np.zeros((3, 3)), (1, 1, 1), OptionError, id="spacing length"),
    pytest.param(np.zeros((3, 3)), np.zeros((3, 3)), (1, 0), OptionError, id="zero spacing"),
])
def test_bad_input(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        surfel_distances(pred, gt, spacing)


def test_bad_percentile_and_tolerance() -> None:
    d = surfel_distances(np.ones((2, 2), bool), np.ones((2, 2), bool), (1, 1))
    with pytest.raises(OptionError, match="--percentile"):
        robust_hausdorff(d, 0)
    with pytest.raises(OptionError, match="--tolerance"):
        surface_dice(d, -1)


# --------------------------------------------------------------------------- --surface-weights area, wired in


def _label_maps() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    gt = np.zeros((24, 20, 16), np.uint8)
    gt[3:12, 4:15, 3:12] = 1
    gt[12:20, 6:12, 5:11] = 2
    gt[5:8, 15:18, 10:13] = 3
    pred = np.roll(gt, 1, axis=0)
    pred[rng.random(gt.shape) < 0.02] = 2
    pred[pred == 3] = 0  # label 3 missed
    return pred, gt


def test_surface_metrics_with_area_weights_are_the_surfel_aggregates() -> None:
    from segeval.metrics.surface import surface_metrics

    pred, gt = _label_maps()
    spacing = (0.8, 1.1, 2.5)
    classes = [(1,), (2,), (1, 2), (3,)]
    got = surface_metrics(pred, gt, classes=classes, spacing_mm=spacing, tolerance_mm=1.5, percentile=90,
                          weights="area")
    for i, members in enumerate(classes[:3]):
        d = surfel_distances(np.isin(pred, members), np.isin(gt, members), spacing)
        assert got["hd"][i] == hausdorff(d)
        assert got["hd95"][i] == robust_hausdorff(d, 90)
        assert got["assd"][i] == pooled_average_distance(d)
        assert got["masd"][i] == mean_average_distance(d)
        assert got["nsd"][i] == surface_dice(d, 1.5)
        assert got["hd95_pooled"][i] == surfels.pooled_robust_hausdorff(d, 90)
    # label 3, missed: every distance inf, nsd 0 (the empty-mask rules of the voxel weights)
    assert [got[m][3] for m in ("hd", "hd95", "assd", "masd", "nsd")] == [math.inf] * 4 + [0.0]
    voxels = surface_metrics(pred, gt, classes=classes, spacing_mm=spacing, tolerance_mm=1.5, percentile=90)
    assert not np.array_equal(voxels["assd"][:3], got["assd"][:3])


def test_one_metric_functions_take_the_weights() -> None:
    from segeval.metrics.surface import assd, hausdorff_percentile, masd, nsd

    pred, gt = _label_maps()
    d = surfel_distances(pred == 1, gt == 1, (1.0, 1.0, 2.0))
    kw = {"labels": [1], "spacing_mm": (1.0, 1.0, 2.0), "weights": "area"}
    assert hausdorff_percentile(pred, gt, **kw).tolist() == [robust_hausdorff(d, 95)]
    assert assd(pred, gt, **kw).tolist() == [pooled_average_distance(d)]
    assert masd(pred, gt, **kw).tolist() == [mean_average_distance(d)]
    assert nsd(pred, gt, tolerance_mm=2.0, **kw).tolist() == [surface_dice(d, 2.0)]
    with pytest.raises(OptionError, match="--surface-weights"):
        nsd(pred, gt, weights="areas")


@pytest.mark.parametrize("empty, hd95, nsd_value", [
    pytest.param("nan", math.nan, math.nan, id="nan"),
    pytest.param("one", 0.0, 1.0, id="one"),
    pytest.param("zero", math.inf, 0.0, id="zero"),
])
def test_a_class_absent_from_both_follows_empty(empty: str, hd95: float, nsd_value: float) -> None:
    from segeval.metrics.surface import surface_metrics

    pred, gt = _label_maps()
    got = surface_metrics(pred, gt, classes=[(9,)], metrics=["hd95", "nsd"], empty=empty, weights="area")
    assert _nan_equal(float(got["hd95"][0]), hd95) and _nan_equal(float(got["nsd"][0]), nsd_value)


def test_background_class_and_default_classes() -> None:
    from segeval.metrics.surface import surface_metrics

    pred, gt = _label_maps()
    found, per_class = surfels.class_surfels(pred, gt, None, (1.0, 1.0, 1.0))
    assert found == [(1,), (2,), (3,)]
    _, (background,) = surfels.class_surfels(pred, gt, [(0,)], None)
    direct = surfel_distances(pred == 0, gt == 0, (1.0, 1.0, 1.0))
    np.testing.assert_array_equal(background.pred_to_gt, direct.pred_to_gt)
    got = surface_metrics(pred, gt, metrics=["hd"], weights="area")
    assert got["hd"].tolist() == [hausdorff(d) for d in per_class]


def test_settings_record_area_weights_only_when_chosen() -> None:
    from segeval.settings import ScoreSettings, build_settings

    area = build_settings(metrics="hd95", surface_weights="area")
    assert area.surface_weights == "area" and area.to_dict()["surface_weights"] == "area"
    assert ScoreSettings.from_dict(area.to_dict()).surface_weights == "area"
    default = build_settings(metrics="hd95")
    assert default.surface_weights == "voxels" and "surface_weights" not in default.to_dict()
    assert ScoreSettings.from_dict(default.to_dict()).surface_weights == "voxels"
    with pytest.raises(OptionError, match="--surface-weights: expected voxels or area"):
        build_settings(surface_weights="mesh")


def test_score_api_cli_and_batch_with_area_weights(tmp_path: Any) -> None:
    import json

    from typer.testing import CliRunner

    import segeval
    from segeval.cli import app
    from segeval.io import write_volume

    pred, gt = _label_maps()
    spacing = (0.8, 1.1, 2.5)
    (tmp_path / "p").mkdir()
    (tmp_path / "g").mkdir()
    p = write_volume(tmp_path / "p" / "c1.nii.gz", pred, spacing_mm=spacing)
    g = write_volume(tmp_path / "g" / "c1.nii.gz", gt, spacing_mm=spacing)
    api = segeval.score(pred, gt, metrics="hd95,nsd", spacing_mm=spacing, surface_weights="area")
    d = surfel_distances(pred == 1, gt == 1, spacing)
    assert api.cases[0].labels[0]["hd95"] == robust_hausdorff(d, 95)
    assert api.cases[0].labels[0]["nsd"] == pytest.approx(surface_dice(d, 1.0), rel=1e-15)
    assert api.settings["surface_weights"] == "area"
    runner = CliRunner()
    cli = runner.invoke(app, ["score", str(p), str(g), "--metrics", "hd95,nsd", "--surface-weights", "area",
                              "--format", "json"])
    assert cli.exit_code == 0, cli.output
    report = json.loads(cli.stdout)
    assert report["settings"]["surface_weights"] == "area"
    assert report["cases"][0]["labels"][0]["hd95"] == robust_hausdorff(d, 95)
    out = tmp_path / "batch.json"
    batch = runner.invoke(app, ["batch", str(tmp_path / "p"), str(tmp_path / "g"), "--metrics", "hd95,nsd",
                                "--surface-weights", "area", "-o", str(out), "-q"])
    assert batch.exit_code == 0, batch.output
    saved = json.loads(out.read_text())
    assert saved["settings"]["surface_weights"] == "area"
    assert saved["cases"][0]["labels"][0]["hd95"] == robust_hausdorff(d, 95)
    api_batch = segeval.batch(tmp_path / "p", tmp_path / "g", metrics="hd95,nsd", surface_weights="area", jobs=1)
    assert api_batch.cases[0].labels[0]["hd95"] == robust_hausdorff(d, 95)
    assert api_batch.settings["surface_weights"] == "area"
    bad = runner.invoke(app, ["score", str(p), str(g), "--metrics", "hd95", "--surface-weights", "areas"])
    assert bad.exit_code == 2 and "--surface-weights: expected voxels or area" in bad.output
