"""segeval.metrics.boundaries: the distance-transform formulation (the GPU path's) equals the KD-tree one, on NumPy and CuPy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from segeval.backends import gpu_available
from segeval.metrics.surface import SURFACE_METRICS, surface_metrics

_GPU_OK, _GPU_WHY = gpu_available()


def _blobs(seed: int, shape: tuple[int, ...] = (28, 24, 14), k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gt = np.zeros(shape, np.uint8)
    for label in range(1, k):
        seed_vol = rng.random(shape) < 0.002
        gt[ndimage.binary_dilation(seed_vol, iterations=3) & (gt == 0)] = label
    pred = np.roll(gt, 1, axis=seed % 3).copy()
    pred[rng.random(shape) < 0.003] = k - 1  # islands
    pred[pred == 2] = 0 if seed % 2 else 2  # a missed class in odd seeds
    return pred, gt


@pytest.fixture(params=[pytest.param("numpy", id="numpy"), pytest.param("cupy", id="cupy", marks=pytest.mark.gpu)])
def lib(request: pytest.FixtureRequest):
    if request.param == "cupy":
        if not _GPU_OK:
            pytest.skip(f"no GPU backend: {_GPU_WHY}")
        import cupy

        return cupy
    return np


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.8, 0.8, 2.5)], ids=["iso", "aniso"])
def test_edt_equals_kdtree(lib, seed: int, spacing: tuple[float, ...]) -> None:
    pred, gt = _blobs(seed)
    classes = [(1,), (2,), (3,), (4,), (7,), (1, 2), (2, 3, 4)]
    kw = {"classes": classes, "spacing_mm": spacing, "tolerance_mm": 1.5, "percentile": 95.0}
    ref = surface_metrics(pred, gt, **kw)
    got = surface_metrics(lib.asarray(pred), lib.asarray(gt), method="edt", **kw)
    for m in SURFACE_METRICS:
        np.testing.assert_allclose(got[m], ref[m], rtol=1e-9, atol=1e-9, err_msg=m)


def test_peers_fixture(lib) -> None:
    gt = np.zeros((12, 12, 12), np.uint8)
    gt[2:10, 2:10, 4:6] = 1
    pred = np.zeros_like(gt)
    pred[2:10, 2:10, 4] = 1
    pred[5:7, 5:7, 5:11] = 1
    r = surface_metrics(lib.asarray(pred), lib.asarray(gt), method="edt")
    assert r["hd"][0] == 5.0 and r["hd95"][0] == 4.0 and r["hd95_pooled"][0] == 3.0
    assert r["assd"][0] == pytest.approx(0.5556, abs=1e-4)
    assert r["nsd"][0] == pytest.approx(0.9259, abs=1e-4)


@pytest.mark.parametrize("empty", ["nan", "one", "zero"])
def test_empty_rules_match(lib, empty: str) -> None:
    gt = np.zeros((6, 6, 6), np.uint8)
    gt[1:3, 1:3, 1:3] = 1
    pred = np.zeros_like(gt)
    kw = {"classes": [(1,), (2,)], "empty": empty}
    ref = surface_metrics(pred, gt, **kw)
    got = surface_metrics(lib.asarray(pred), lib.asarray(gt), method="edt", **kw)
    for m in SURFACE_METRICS:
        np.testing.assert_array_equal(got[m], ref[m])
