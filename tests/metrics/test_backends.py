"""One metric core, several array libraries: NumPy, array_api_strict (proves the
core uses only the standard) and, given a GPU, CuPy. Results must equal NumPy's:
exactly for counts, to a tight tolerance for ratios."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import segeval
from segeval.backends import gpu_available, to_host
from segeval.metrics.confusion import joint_counts

_GPU_OK, _GPU_WHY = gpu_available()


@pytest.fixture(
    params=[
        pytest.param("array_api_strict", id="array_api_strict"),
        pytest.param("cupy", id="cupy", marks=pytest.mark.gpu),
    ]
)
def xp(request: pytest.FixtureRequest):
    if request.param == "cupy":
        if not _GPU_OK:
            pytest.skip(f"no GPU backend: {_GPU_WHY}")
        import cupy

        return cupy
    return pytest.importorskip("array_api_strict", reason="array_api_strict is a test dependency")


def _pair(seed: int, dtype: type = np.uint8, k: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, k, (24, 20, 12)).astype(dtype)
    pred = np.where(rng.random(gt.shape) < 0.7, gt, rng.integers(0, k, gt.shape)).astype(dtype)
    return pred, gt


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.int64, np.float32], ids=lambda d: d.__name__)
def test_joint_counts_equal_numpy(xp, dtype: type) -> None:
    pred, gt = _pair(1, dtype)
    ref = joint_counts(pred, gt)
    got = joint_counts(xp.asarray(pred), xp.asarray(gt))
    np.testing.assert_array_equal(got.values, ref.values)
    np.testing.assert_array_equal(got.counts, ref.counts)


def test_sparse_and_negative_labels(xp) -> None:
    pred, gt = _pair(2, np.int64)
    gt = np.where(gt == 3, 10**9, gt) - 2  # a huge value and negatives: the unique-value path
    ref = joint_counts(pred, gt, ignore_label=-2)
    got = joint_counts(xp.asarray(pred), xp.asarray(gt), ignore_label=-2)
    np.testing.assert_array_equal(got.values, ref.values)
    np.testing.assert_array_equal(got.counts, ref.counts)


@pytest.mark.parametrize("fn", [segeval.dice, segeval.iou, segeval.tversky], ids=lambda f: f.__name__)
def test_label_metrics_equal_numpy_and_stay_in_namespace(xp, fn) -> None:
    pred, gt = _pair(3)
    ref = fn(pred, gt)
    got = fn(xp.asarray(pred), xp.asarray(gt))
    assert not isinstance(got, np.ndarray)  # same library out as in
    np.testing.assert_allclose(to_host(got), ref, rtol=1e-12)


def test_soft_metrics_equal_numpy(xp) -> None:
    rng = np.random.default_rng(4)
    prob = rng.random((2, 8, 8, 4, 3))
    onehot = (rng.random(prob.shape) > 0.6).astype(np.float64)
    for fn in (segeval.dice, segeval.iou, segeval.tversky, segeval.generalized_dice):
        ref = fn(prob, onehot, axis=(1, 2, 3))
        got = fn(xp.asarray(prob), xp.asarray(onehot), axis=(1, 2, 3))
        np.testing.assert_allclose(to_host(got), ref, rtol=1e-12, err_msg=fn.__name__)


def test_bad_input_is_a_segeval_error(xp) -> None:
    pred, gt = _pair(5, np.float32)
    pred[0, 0, 0] = 0.5
    with pytest.raises(segeval.SegevalError, match="whole numbers"):
        joint_counts(xp.asarray(pred), xp.asarray(gt))
    with pytest.raises(segeval.SegevalError, match="shapes differ"):
        joint_counts(xp.asarray(gt[:, :, :4]), xp.asarray(gt))


def test_import_segeval_loads_no_optional_backend() -> None:
    code = "import sys, segeval, segeval.cli; print([m for m in ('cupy', 'dask', 'distributed') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_device_gpu_without_cupy_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    if _GPU_OK:
        pytest.skip("a GPU is present here; this checks the message given without one")
    from segeval.backends import get_backend
    from segeval.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError, match="segeval\\[gpu\\]|CUDA device"):
        get_backend("gpu")
    assert get_backend("auto").name == "cpu"


@pytest.mark.gpu
def test_score_on_gpu_equals_cpu() -> None:
    if not _GPU_OK:
        pytest.skip(f"no GPU backend: {_GPU_WHY}")
    pred, gt = _pair(6)
    kw = {"spacing_mm": (0.8, 0.8, 2.0), "metrics": "all", "regions": {"r": [1, 2]}, "ignore_label": 5}
    cpu = segeval.score(pred, gt, device="cpu", **kw).to_frame()
    gpu = segeval.score(pred, gt, device="gpu", **kw).to_frame()
    counts = ["tp", "fp", "fn", "tn"]
    np.testing.assert_array_equal(gpu[counts].to_numpy(), cpu[counts].to_numpy())
    metrics = [c for c in cpu.columns if c not in ("label", "name", *counts)]
    np.testing.assert_allclose(gpu[metrics].to_numpy(float), cpu[metrics].to_numpy(float), rtol=1e-9)


def test_cli_device_gpu_without_gpu_exits_2(tmp_path) -> None:
    if _GPU_OK:
        pytest.skip("a GPU is present here; this checks the message given without one")
    from typer.testing import CliRunner

    from segeval.cli import app

    pred, gt = _pair(7)
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "g.npy", gt)
    r = CliRunner().invoke(app, ["score", str(tmp_path / "p.npy"), str(tmp_path / "g.npy"), "--device", "gpu"])
    assert r.exit_code == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--device gpu" in lines[0] and "pip install" in lines[0]


def test_batch_device_gpu_without_gpu_exits_2(tmp_path) -> None:
    if _GPU_OK:
        pytest.skip("a GPU is present here; this checks the message given without one")
    from typer.testing import CliRunner

    from segeval.cli import app

    pred, gt = _pair(8)
    (tmp_path / "p").mkdir()
    (tmp_path / "g").mkdir()
    np.save(tmp_path / "p" / "c1.npy", pred)
    np.save(tmp_path / "g" / "c1.npy", gt)
    r = CliRunner().invoke(app, ["batch", str(tmp_path / "p"), str(tmp_path / "g"), "--device", "gpu", "-q"])
    assert r.exit_code == 2
    assert "--device gpu" in r.stderr and "pip install" in r.stderr


@pytest.mark.gpu
def test_batch_on_gpu_equals_cpu(tmp_path) -> None:
    if not _GPU_OK:
        pytest.skip(f"no GPU backend: {_GPU_WHY}")
    from segeval.batching import CaseTask, run_batch
    from segeval.settings import ScoreSettings

    tasks = []
    for i in range(3):
        pred, gt = _pair(10 + i)
        np.save(tmp_path / f"p{i}.npy", pred)
        np.save(tmp_path / f"g{i}.npy", gt)
        tasks.append(CaseTask(f"c{i}", tmp_path / f"p{i}.npy", tmp_path / f"g{i}.npy"))
    settings = ScoreSettings(metrics=("dice", "hd95", "nsd"))
    cpu = sorted((r.case, r.labels) for r in run_batch(tasks, settings, jobs=1))
    gpu = sorted((r.case, r.labels) for r in run_batch(tasks, settings, jobs=1, device="gpu"))
    assert [c for c, _ in cpu] == [c for c, _ in gpu]
    for (_, a), (_, b) in zip(cpu, gpu):
        for ra, rb in zip(a, b):
            assert ra["tp"] == rb["tp"] and ra["fp"] == rb["fp"]
            np.testing.assert_allclose([ra["dice"], ra["hd95"], ra["nsd"]], [rb["dice"], rb["hd95"], rb["nsd"]])
