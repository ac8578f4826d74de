"""Soft (probabilistic) inputs reproduce the textbook training-loss formulas.

The reference formulas are written out here in plain NumPy, independently of
segeval, on (batch, x, y, z, class) arrays reduced over axis=(1, 2, 3), as Keras'
Dice and Tversky losses are.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import segeval
from segeval.errors import InputError, OptionError

AXES = (1, 2, 3)
N_CLASSES = 3


@pytest.fixture
def batch(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(probabilities, one-hot ground truth, logits), shaped (batch=2, 6, 5, 4, class=3).

    Class 2 is absent from sample 1's ground truth, as happens in training batches.
    """
    labels = rng.integers(0, N_CLASSES, size=(2, 6, 5, 4))
    labels[1][labels[1] == 2] = 0
    y = np.eye(N_CLASSES)[labels]
    logits = rng.normal(size=y.shape) * 2.0 + 1.5 * (2 * y - 1)
    p = 1.0 / (1.0 + np.exp(-logits))
    return p, y, logits


def keras_dice(y: np.ndarray, p: np.ndarray, s: float) -> np.ndarray:
    inter = np.sum(y * p, axis=AXES)
    return (2.0 * inter + s) / (np.sum(y, axis=AXES) + np.sum(p, axis=AXES) + s)


def tversky_index(y: np.ndarray, p: np.ndarray, alpha: float, beta: float, s: float) -> np.ndarray:
    tp = np.sum(y * p, axis=AXES)
    fp = np.sum((1 - y) * p, axis=AXES)  # alpha weighs false positives
    fn = np.sum(y * (1 - p), axis=AXES)  # beta weighs false negatives
    return (tp + s) / (tp + alpha * fp + beta * fn + s)


def soft_iou(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    inter = np.sum(y * p, axis=AXES)
    return inter / (np.sum(y, axis=AXES) + np.sum(p, axis=AXES) - inter)


def generalized_dice_eps(y: np.ndarray, p: np.ndarray, eps: float) -> np.ndarray:
    w = 1.0 / (np.sum(y, axis=AXES) ** 2 + eps)  # (batch, class)
    num = 2.0 * np.sum(w * np.sum(y * p, axis=AXES), axis=-1)
    den = np.sum(w * (np.sum(y, axis=AXES) + np.sum(p, axis=AXES)), axis=-1)
    return num / den


@pytest.mark.parametrize("smooth", [pytest.param(s, id=f"smooth-{s}") for s in (0.0, 1.0, 1e-5)])
def test_dice_is_keras_dice_per_sample_and_class(batch: tuple, smooth: float) -> None:
    p, y, _ = batch
    got = segeval.dice(p, y, axis=AXES, smooth=smooth)
    assert got.shape == (2, N_CLASSES)
    np.testing.assert_allclose(got, keras_dice(y, p, smooth), rtol=1e-12)


@pytest.mark.parametrize("smooth", [pytest.param(s, id=f"smooth-{s}") for s in (0.0, 1.0)])
def test_tversky_alpha_on_fp_beta_on_fn(batch: tuple, smooth: float) -> None:
    p, y, _ = batch
    beta = 0.7
    alpha = 1 - beta
    got = segeval.tversky(p, y, alpha=alpha, beta=beta, axis=AXES, smooth=smooth)
    np.testing.assert_allclose(got, tversky_index(y, p, alpha, beta, smooth), rtol=1e-12)
    # The weights are not interchangeable: swapping them gives another number.
    swapped = segeval.tversky(p, y, alpha=beta, beta=alpha, axis=AXES, smooth=smooth)
    assert not np.allclose(swapped, got)


def test_iou_is_intersection_over_union(batch: tuple) -> None:
    p, y, _ = batch
    np.testing.assert_allclose(segeval.iou(p, y, axis=AXES), soft_iou(y, p), rtol=1e-12)


@pytest.mark.parametrize("eps", [pytest.param(e, id=f"eps-{e}") for e in (1e-6, 1e-3, 1.0)])
def test_generalized_dice_with_epsilon_weights(batch: tuple, eps: float) -> None:
    p, y, _ = batch
    got = segeval.generalized_dice(p, y, axis=AXES, eps=eps)
    assert got.shape == (2,)
    np.testing.assert_allclose(got, generalized_dice_eps(y, p, eps), rtol=1e-10)


def test_generalized_dice_sudre_weights_without_epsilon(batch: tuple) -> None:
    """eps=None: w = 1 / (sum y)^2 and a class absent from gt takes the largest finite weight."""
    p, y, _ = batch
    vol = np.sum(y, axis=AXES)
    w = np.zeros_like(vol)
    for b in range(vol.shape[0]):
        present = vol[b] > 0
        w[b, present] = 1.0 / vol[b, present] ** 2
        w[b, ~present] = w[b, present].max()
    inter, total = np.sum(y * p, axis=AXES), np.sum(y, axis=AXES) + np.sum(p, axis=AXES)
    want = 2 * np.sum(w * inter, axis=-1) / np.sum(w * total, axis=-1)
    np.testing.assert_allclose(segeval.generalized_dice(p, y, axis=AXES), want, rtol=1e-12)


def test_sigmoid_then_dice_on_logits(batch: tuple) -> None:
    p, y, logits = batch
    sig = 1.0 / (1.0 + np.exp(-logits))
    got = segeval.dice(logits, y, axis=AXES, smooth=1.0, from_logits=True)
    np.testing.assert_allclose(got, keras_dice(y, sig, 1.0), rtol=1e-12)
    np.testing.assert_allclose(got, segeval.dice(p, y, axis=AXES, smooth=1.0), rtol=1e-12)
    np.testing.assert_allclose(
        segeval.generalized_dice(logits, y, axis=AXES, eps=1e-6, from_logits=True),
        generalized_dice_eps(y, sig, 1e-6), rtol=1e-10,
    )


def test_extreme_logits_saturate_without_warnings() -> None:
    logits = np.array([[-1000.0, -50.0, 50.0, 1000.0]])
    y = np.array([[0.0, 0.0, 1.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = segeval.dice(logits, y, axis=1, from_logits=True)
    np.testing.assert_allclose(got, [1.0], atol=1e-12)


def test_float32_inputs_and_negative_axes(batch: tuple) -> None:
    p, y, _ = batch
    want = keras_dice(y, p, 1.0)
    got = segeval.dice(p.astype(np.float32), y.astype(np.float32), axis=(-4, -3, -2), smooth=1.0)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, keras_dice(y, p.astype(np.float32).astype(np.float64), 1.0), rtol=1e-12)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_hard_one_hot_equals_the_label_map_result(rng: np.random.Generator) -> None:
    gt = rng.integers(0, 4, size=(7, 6, 5))
    pred = rng.integers(0, 4, size=(7, 6, 5))
    onehot_gt = np.eye(4)[gt]
    onehot_pred = np.eye(4)[pred]
    soft = segeval.dice(onehot_pred, onehot_gt, axis=(0, 1, 2))
    np.testing.assert_allclose(soft[1:], segeval.dice(pred, gt, labels=[1, 2, 3]), rtol=1e-12)
    np.testing.assert_allclose(
        segeval.tversky(onehot_pred, onehot_gt, axis=(0, 1, 2))[1:],
        segeval.tversky(pred, gt, labels=[1, 2, 3]), rtol=1e-12,
    )


@pytest.mark.parametrize(
    "empty, smooth, expected",
    [
        pytest.param("nan", 0.0, math.nan, id="nan"),
        pytest.param("one", 0.0, 1.0, id="one"),
        pytest.param("zero", 0.0, 0.0, id="zero"),
        pytest.param("nan", 1.0, 1.0, id="smoothed"),
    ],
)
def test_soft_class_empty_in_both(empty: str, smooth: float, expected: float) -> None:
    z = np.zeros((1, 4, 4, 1))
    np.testing.assert_equal(segeval.dice(z, z, axis=(1, 2), smooth=smooth, empty=empty), [[expected]])


@pytest.mark.parametrize(
    "pred, gt, kwargs, error, match",
    [
        pytest.param(np.zeros((2, 3)), np.zeros((3, 2)), {"axis": 1}, InputError, "shapes differ", id="shapes"),
        pytest.param(np.array([[0.5, np.nan]]), np.zeros((1, 2)), {"axis": 1}, InputError, "NaN", id="nan"),
        pytest.param(np.array([[0.5, np.inf]]), np.zeros((1, 2)), {"axis": 1}, InputError, "infinite", id="inf"),
        pytest.param(np.zeros((1, 2)), np.array([[np.nan, 0.0]]), {"axis": 1}, InputError, "NaN", id="nan-gt"),
        pytest.param(np.zeros((1, 2)), np.zeros((1, 2)), {"axis": 2}, OptionError, "axis", id="axis-out-of-range"),
        pytest.param(np.zeros((1, 2)), np.zeros((1, 2)), {"axis": (1, -1)}, OptionError, "axis",
                     id="axis-repeated"),
        pytest.param(np.zeros((1, 2)), np.zeros((1, 2)), {"axis": 1, "labels": [1]}, OptionError, "labels",
                     id="labels-with-axis"),
        pytest.param(np.zeros((1, 2)), np.zeros((1, 2)), {"axis": 1, "smooth": -1.0}, OptionError, "smooth",
                     id="negative-smooth"),
    ],
)
def test_bad_soft_inputs(pred: np.ndarray, gt: np.ndarray, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match) as info:
        segeval.dice(pred, gt, **kwargs)
    assert "\n" not in str(info.value)


def test_probabilities_without_axis_are_refused_as_label_maps() -> None:
    with pytest.raises(InputError, match="soft API with axis="):
        segeval.dice(np.full((2, 2), 0.3), np.zeros((2, 2)))
