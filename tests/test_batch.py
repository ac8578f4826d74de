"""segeval.batch and segeval.report.nnunet: pairing, parallel scoring, streaming, resume, summaries."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from segeval import io, scoring
from segeval.batch import (
    MISSING_MESSAGE,
    WORKER_DIED,
    CaseTask,
    ResultStream,
    find_dataset_json,
    journal_path,
    load_finished,
    pair_cases,
    read_pairs_csv,
    run_batch,
)
from segeval.batch import pool as pool_module
from segeval.errors import InputError, OptionError, ReportError
from segeval.io import write_volume
from segeval.records import CaseResult
from segeval.report.nnunet import nnunet_summary, to_nnunet_json
from segeval.report.writers import render_summary, to_csv, to_json
from segeval.settings import ScoreSettings
from segeval.summary import Report, worst_cases

SPACING = (0.8, 0.8, 2.0)
SHAPE = (16, 16, 8)


def case_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A tiny (pred, gt) pair with labels 1..3 that differs from case to case."""
    rng = np.random.default_rng(seed)
    gt = np.zeros(SHAPE, np.uint8)
    gt[2:9, 2:9, 1:6] = 1
    gt[10:14, 3:7, 2:5] = 2
    if seed % 2:
        gt[4:6, 11:14, 2:4] = 3
    pred = gt.copy()
    shift = int(rng.integers(1, 3))
    pred[2:9, 2:9, 1:6] = 0
    pred[2 + shift : 9 + shift, 2:9, 1:6] = 1
    pred[rng.integers(0, 16), rng.integers(0, 16), rng.integers(0, 8)] = 2
    return pred, gt


def make_scenario(root: Path) -> dict[str, Any]:
    """pred/ and gt/ with 8 GT cases: two without prediction, one extra prediction,
    one corrupt prediction, one geometry mismatch, mixed formats and an nnU-Net ``_0000`` tag."""
    pred_dir, gt_dir = root / "pred", root / "gt"
    pred_dir.mkdir(parents=True)
    gt_dir.mkdir(parents=True)
    for i in range(8):
        pred, gt = case_pair(i)
        gt_name = f"case_{i:02d}.nrrd" if i == 1 else f"case_{i:02d}.nii.gz"
        write_volume(gt_dir / gt_name, gt, spacing_mm=SPACING)
        if i >= 6:
            continue  # case_06, case_07: no prediction
        pred_name = f"case_{i:02d}_0000.nii.gz" if i == 2 else f"case_{i:02d}.nii.gz"
        if i == 3:
            (pred_dir / pred_name).write_bytes(b"\x1f\x8b\x08\x00garbage, not a volume")
        elif i == 4:
            write_volume(pred_dir / pred_name, pred, spacing_mm=(1.0, 0.8, 2.0))
        else:
            write_volume(pred_dir / pred_name, pred, spacing_mm=SPACING)
    write_volume(pred_dir / "case_99.nii.gz", case_pair(99)[0], spacing_mm=SPACING)
    return {"pred": pred_dir, "gt": gt_dir, "ok": ["case_00", "case_01", "case_02", "case_05"],
            "corrupt": "case_03", "mismatch": "case_04", "missing": ["case_06", "case_07"]}


def make_clean(root: Path, n: int) -> tuple[Path, Path]:
    """``n`` good cases in pred/ and gt/."""
    pred_dir, gt_dir = root / "pred", root / "gt"
    pred_dir.mkdir(parents=True)
    gt_dir.mkdir(parents=True)
    for i in range(n):
        pred, gt = case_pair(i)
        write_volume(pred_dir / f"case_{i:03d}.nii.gz", pred, spacing_mm=SPACING)
        write_volume(gt_dir / f"case_{i:03d}.nii.gz", gt, spacing_mm=SPACING)
    return pred_dir, gt_dir


@pytest.fixture
def scenario(tmp_path: Path) -> dict[str, Any]:
    return make_scenario(tmp_path)


def by_case(results: list[CaseResult]) -> dict[str, CaseResult]:
    return {r.case: r for r in results}


# ----------------------------------------------------------------------------- pairing


def test_pairing_reports_matched_missing_and_extra(scenario: dict[str, Any]) -> None:
    pairing = pair_cases(scenario["pred"], scenario["gt"])
    assert [t.case for t in pairing.matched] == ["case_00", "case_01", "case_02", "case_03", "case_04", "case_05"]
    assert [t.case for t in pairing.missing_pred] == ["case_06", "case_07"]
    assert all(t.pred is None for t in pairing.missing_pred)
    assert [Path(p).name for p in pairing.extra_pred] == ["case_99.nii.gz"]
    matched = {t.case: t for t in pairing.matched}
    assert matched["case_01"].gt.endswith("case_01.nrrd")  # across formats
    assert matched["case_02"].pred.endswith("case_02_0000.nii.gz")  # nnU-Net channel tag


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        pytest.param("error", 8, id="error"),
        pytest.param("zero", 8, id="zero"),
        pytest.param("skip", 6, id="skip"),
    ],
)
def test_pairing_tasks_by_missing_policy(scenario: dict[str, Any], missing: str, expected: int) -> None:
    tasks = pair_cases(scenario["pred"], scenario["gt"]).tasks(missing)
    assert len(tasks) == expected
    assert [t.case for t in tasks] == sorted(t.case for t in tasks)


def test_pairing_prefers_an_image_over_npz_probabilities(tmp_path: Path) -> None:
    pred_dir, gt_dir = make_clean(tmp_path, 2)
    np.savez(pred_dir / "case_000.npz", probabilities=np.zeros((2, *SHAPE), np.float32))
    pairing = pair_cases(pred_dir, gt_dir)
    assert [t.pred for t in pairing.matched] == [str(pred_dir / "case_000.nii.gz"), str(pred_dir / "case_001.nii.gz")]
    assert [Path(p).name for p in pairing.shadowed] == ["case_000.npz"]


def test_pairing_refuses_two_images_with_one_case_id(tmp_path: Path) -> None:
    pred_dir, gt_dir = make_clean(tmp_path, 1)
    write_volume(pred_dir / "case_000.nrrd", case_pair(0)[0], spacing_mm=SPACING)
    with pytest.raises(InputError, match=r"2 files have case id 'case_000' \(case_000.nii.gz, case_000.nrrd\)"):
        pair_cases(pred_dir, gt_dir)


def test_pairing_pattern_and_hidden_files(tmp_path: Path) -> None:
    pred_dir, gt_dir = make_clean(tmp_path, 3)
    (gt_dir / "._case_000.nii.gz").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (gt_dir / "dataset.json").write_text("{}")
    pairing = pair_cases(pred_dir, gt_dir, pattern="case_00[01].nii.gz")
    assert [t.case for t in pairing.matched] == ["case_000", "case_001"]
    assert not pairing.missing_pred and not pairing.extra_pred


def test_pairing_errors_name_the_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="GT folder .*nope: no such folder"):
        pair_cases(tmp_path, tmp_path / "nope")
    with pytest.raises(InputError, match="GT folder .*empty: no volume files"):
        pair_cases(tmp_path, tmp_path / "empty")


def test_read_pairs_csv(tmp_path: Path) -> None:
    pred_dir, gt_dir = make_clean(tmp_path, 3)
    sheet = tmp_path / "pairs.csv"
    sheet.write_text(
        "case,pred,gt\n"
        "a,pred/case_000.nii.gz,gt/case_000.nii.gz\n"
        ",pred/case_001.nii.gz,gt/case_001.nii.gz\n"
        "c,,gt/case_002.nii.gz\n"
        "d,pred/absent.nii.gz,gt/case_002.nii.gz\n"
    )
    pairing = read_pairs_csv(sheet)
    assert [(t.case, t.pred) for t in pairing.matched] == [
        ("a", str(pred_dir / "case_000.nii.gz")), ("case_001", str(pred_dir / "case_001.nii.gz"))]
    assert [t.case for t in pairing.missing_pred] == ["c", "d"]
    assert pairing.matched[0].gt == str(gt_dir / "case_000.nii.gz")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("name,file\nx,y\n", "needs a header with columns case,pred,gt", id="columns"),
        pytest.param("case,pred,gt\na,p.nii.gz,\n", "line 2: the gt cell is empty", id="empty-gt"),
        pytest.param("case,pred,gt\na,,g.nii.gz\na,,h.nii.gz\n", "line 3: case 'a' is already on line 2", id="twice"),
        pytest.param("case,pred,gt\n", "no cases listed", id="empty"),
    ],
)
def test_read_pairs_csv_errors(tmp_path: Path, text: str, message: str) -> None:
    sheet = tmp_path / "pairs.csv"
    sheet.write_text(text)
    with pytest.raises(InputError, match=message):
        read_pairs_csv(sheet)


def test_find_dataset_json_in_or_beside_the_gt_folder(tmp_path: Path) -> None:
    labels = tmp_path / "Dataset001" / "labelsTs"
    labels.mkdir(parents=True)
    assert find_dataset_json(labels) is None
    (tmp_path / "Dataset001" / "dataset.json").write_text("{}")
    assert find_dataset_json(labels) == tmp_path / "Dataset001" / "dataset.json"
    (labels / "dataset.json").write_text("{}")
    assert find_dataset_json(labels) == labels / "dataset.json"


# ----------------------------------------------------------------------------- scoring


def test_failed_cases_carry_their_error_and_the_others_go_on(scenario: dict[str, Any]) -> None:
    tasks = pair_cases(scenario["pred"], scenario["gt"]).tasks("error")
    results = by_case(list(run_batch(tasks, ScoreSettings(), jobs=1)))
    assert sorted(results) == [f"case_{i:02d}" for i in range(8)]
    for cid in scenario["ok"]:
        assert results[cid].error is None and results[cid].labels
    assert "corrupt gzip stream" in results["case_03"].error and "case_03.nii.gz" in results["case_03"].error
    assert "spacing differs" in results["case_04"].error
    for cid in scenario["missing"]:
        assert results[cid].error == MISSING_MESSAGE
    assert all("\n" not in r.error for r in results.values() if r.error)


def test_missing_zero_scores_an_empty_prediction(scenario: dict[str, Any]) -> None:
    tasks = pair_cases(scenario["pred"], scenario["gt"]).tasks("zero")
    results = by_case(list(run_batch(tasks, ScoreSettings(), jobs=1, missing="zero")))
    case = results["case_06"]
    assert case.error is None and case.pred is None
    assert [r["dice"] for r in case.labels] == [0.0, 0.0]
    assert [r["fp"] for r in case.labels] == [0, 0]
    assert case.notes[0].startswith("no prediction: scored as an empty prediction")


def test_missing_skip_leaves_the_cases_out(scenario: dict[str, Any]) -> None:
    tasks = pair_cases(scenario["pred"], scenario["gt"]).tasks("error")  # the policy of run_batch decides
    results = by_case(list(run_batch(tasks, ScoreSettings(), jobs=1, missing="skip")))
    assert "case_06" not in results and "case_07" not in results and len(results) == 6


def test_resample_pred_scores_the_mismatched_case(scenario: dict[str, Any]) -> None:
    tasks = [t for t in pair_cases(scenario["pred"], scenario["gt"]).matched if t.case == "case_04"]
    (result,) = run_batch(tasks, ScoreSettings(), jobs=1, resample_pred=True)
    assert result.error is None and result.labels


def test_unexpected_exceptions_become_type_and_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pred_dir, gt_dir = make_clean(tmp_path, 2)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(scoring, "score_case", broken)
    results = list(run_batch(pair_cases(pred_dir, gt_dir).tasks(), ScoreSettings(), jobs=1))
    assert [r.error for r in results] == ["RuntimeError: boom second line"] * 2


def test_each_file_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pred_dir, gt_dir = make_clean(tmp_path, 3)
    seen: list[str] = []
    real = io.read_volume

    def counting(path: Any, **kwargs: Any) -> Any:
        seen.append(os.fspath(path))
        return real(path, **kwargs)

    monkeypatch.setattr(io, "read_volume", counting)
    list(run_batch(pair_cases(pred_dir, gt_dir).tasks(), ScoreSettings(), jobs=1))
    assert len(seen) == 6 and len(set(seen)) == 6


def test_jobs_2_equals_jobs_1(scenario: dict[str, Any]) -> None:
    tasks = pair_cases(scenario["pred"], scenario["gt"]).tasks("zero")
    settings = ScoreSettings(metrics=("dice", "iou", "hd95", "nsd"))
    one = sorted(run_batch(tasks, settings, jobs=1, missing="zero"), key=lambda r: r.case)
    two = sorted(run_batch(tasks, settings, jobs=2, missing="zero"), key=lambda r: r.case)
    report_one = Report(settings=settings.to_dict(), cases=one)
    report_two = Report(settings=settings.to_dict(), cases=two)
    assert to_json(report_two) == to_json(report_one)
    assert to_csv(report_two) == to_csv(report_one)


def test_pool_keeps_a_bounded_number_of_cases_in_flight(tmp_path: Path) -> None:
    pred_dir, gt_dir = make_clean(tmp_path, 12)
    seen: list[int] = []
    run = run_batch(pair_cases(pred_dir, gt_dir).tasks(), ScoreSettings(), jobs=2)
    pool = run._source  # type: ignore[attr-defined]
    assert isinstance(pool, pool_module._PoolRun)
    seen.append(len(pool._pending))
    results = []
    for r in run:
        results.append(r)
        seen.append(len(pool._pending))
    assert len(results) == 12 and max(seen) <= 4
    assert pool._executor is None  # shut down at the end


def test_on_result_is_called_for_every_case(scenario: dict[str, Any]) -> None:
    calls: list[str] = []
    tasks = pair_cases(scenario["pred"], scenario["gt"]).tasks("error")
    got = [r.case for r in run_batch(tasks, ScoreSettings(), jobs=1, on_result=lambda r: calls.append(r.case))]
    assert calls == got and len(got) == 8


class _KillsItsWorker:
    """Unpickling this in a worker process kills that process (a stand-in for an OOM kill)."""

    def __reduce__(self) -> tuple[Any, tuple[int]]:
        return (os._exit, (7,))


def test_a_worker_that_dies_fails_only_its_case(tmp_path: Path) -> None:
    pred_dir, gt_dir = make_clean(tmp_path, 4)
    tasks = pair_cases(pred_dir, gt_dir).tasks()
    deadly = CaseTask("deadly", _KillsItsWorker(), tasks[0].gt)  # type: ignore[arg-type]
    results = by_case(list(run_batch([*tasks[:2], deadly, *tasks[2:]], ScoreSettings(), jobs=2)))
    assert results["deadly"].error == WORKER_DIED
    assert all(results[t.case].error is None for t in tasks)


def test_run_batch_rejects_bad_options() -> None:
    with pytest.raises(OptionError, match="--jobs: must be at least 1"):
        run_batch([], ScoreSettings(), jobs=0)
    with pytest.raises(OptionError, match="--missing: expected one of error, zero, skip"):
        run_batch([], ScoreSettings(), missing="maybe")


# ----------------------------------------------------------------------------- streaming and resume


def _scored(tmp_path: Path, n: int = 4) -> tuple[list[CaseResult], ScoreSettings]:
    pred_dir, gt_dir = make_clean(tmp_path / "data", n)
    settings = ScoreSettings()
    results = sorted(run_batch(pair_cases(pred_dir, gt_dir).tasks(), settings, jobs=1), key=lambda r: r.case)
    return results, settings


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "md"])
def test_stream_then_finish_writes_the_report_and_removes_the_journal(tmp_path: Path, fmt: str) -> None:
    results, settings = _scored(tmp_path)
    out = tmp_path / f"results.{fmt}"
    stream = ResultStream(out, fmt, settings.to_dict())
    for r in reversed(results):
        stream.add(r)
    lines = journal_path(out).read_text().splitlines()
    assert json.loads(lines[0])["settings"] == json.loads(json.dumps(settings.to_dict()))
    assert [json.loads(line)["case"] for line in lines[1:]] == [r.case for r in reversed(results)]
    if fmt == "csv":  # rows appended as cases finish
        assert out.read_text().count("\n") == 1 + sum(len(r.labels) for r in results)
    if fmt == "jsonl":  # the output itself grows a line per case, as the journal does
        streamed = out.read_text().splitlines()
        assert json.loads(streamed[0])["settings"] == json.loads(lines[0])["settings"]
        assert streamed[1:] == lines[1:]
    report = Report(settings=settings.to_dict(), cases=results)
    stream.finish(report)
    assert not journal_path(out).exists()
    from segeval.report.writers import render

    assert out.read_text() == render(report, fmt)


def test_resume_reads_the_journal_and_ignores_a_torn_last_line(tmp_path: Path) -> None:
    results, settings = _scored(tmp_path)
    out = tmp_path / "results.json"
    stream = ResultStream(out, "json", settings.to_dict())
    for r in results[:3]:
        stream.add(r)
    stream.close()
    with journal_path(out).open("a") as fh:
        fh.write(json.dumps(results[3].to_dict())[:40])  # killed mid-write
    kept = load_finished(out, settings.to_dict(), fmt="json")
    assert [c.case for c in kept] == [r.case for r in results[:3]]
    assert to_json(Report(settings.to_dict(), kept)) == to_json(Report(settings.to_dict(), results[:3]))


def test_resume_keeps_successes_only_and_the_last_record_of_a_case(tmp_path: Path) -> None:
    results, settings = _scored(tmp_path)
    out = tmp_path / "results.csv"
    stream = ResultStream(out, "csv", settings.to_dict())
    stream.add(CaseResult(case=results[0].case, error="ReadError: flaky disk"))
    stream.add(CaseResult(case=results[1].case, error="ReadError: flaky disk"))
    stream.add(results[1])
    stream.close()
    kept = load_finished(out, settings.to_dict(), fmt="csv")
    assert [c.case for c in kept] == [results[1].case]


def test_resume_refuses_other_settings(tmp_path: Path) -> None:
    results, settings = _scored(tmp_path)
    out = tmp_path / "results.json"
    with ResultStream(out, "json", settings.to_dict()) as stream:
        stream.add(results[0])
    other = ScoreSettings(alpha=0.5)
    with pytest.raises(ReportError, match=r"other settings \(alpha 0.3 there, 0.5 now\)"):
        load_finished(out, other.to_dict(), fmt="json")


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_resume_reads_a_finished_report(tmp_path: Path, fmt: str) -> None:
    results, settings = _scored(tmp_path)
    out = tmp_path / f"results.{fmt}"
    stream = ResultStream(out, fmt, settings.to_dict())
    report = Report(settings=settings.to_dict(), cases=results)
    stream.finish(report)
    kept = sorted(load_finished(out, settings.to_dict(), fmt=fmt), key=lambda c: c.case)
    again = Report(settings=settings.to_dict(), cases=kept)
    if fmt == "csv":
        assert to_csv(again) == to_csv(report)
        # the generalized Dice, not in the CSV, is recomputed to the same bits
        assert [c.generalized_dice for c in kept] == [c.generalized_dice for c in results]
    else:
        assert to_json(again) == to_json(report)


def test_resume_of_a_finished_jsonl_refuses_other_settings_and_other_files(tmp_path: Path) -> None:
    results, settings = _scored(tmp_path)
    out = tmp_path / "results.jsonl"
    ResultStream(out, "jsonl", settings.to_dict()).finish(Report(settings=settings.to_dict(), cases=results))
    with pytest.raises(ReportError, match=r"other settings \(alpha 0.3 there, 0.5 now\)"):
        load_finished(out, ScoreSettings(alpha=0.5).to_dict(), fmt="jsonl")
    out.write_text('{"case": "a"}\n')
    with pytest.raises(ReportError, match="is not a segeval JSON Lines report"):
        load_finished(out, settings.to_dict(), fmt="jsonl")


def test_resume_of_a_finished_csv_keeps_regions(tmp_path: Path) -> None:
    from segeval.labels import LabelSpec

    pred_dir, gt_dir = make_clean(tmp_path / "data", 2)
    settings = ScoreSettings(spec=LabelSpec(regions=(("WT", (1, 2)),)))
    results = sorted(run_batch(pair_cases(pred_dir, gt_dir).tasks(), settings, jobs=1), key=lambda r: r.case)
    out = tmp_path / "results.csv"
    ResultStream(out, "csv", settings.to_dict()).finish(Report(settings=settings.to_dict(), cases=results))
    kept = sorted(load_finished(out, settings.to_dict(), fmt="csv"), key=lambda c: c.case)
    assert [r for r in kept[0].labels if r["label"] == "WT"] == [r for r in results[0].labels if r["label"] == "WT"]
    assert nnunet_summary(kept)["mean"].keys() == nnunet_summary(results)["mean"].keys()


def test_resume_of_a_finished_csv_checks_the_columns(tmp_path: Path) -> None:
    results, settings = _scored(tmp_path)
    out = tmp_path / "results.csv"
    ResultStream(out, "csv", settings.to_dict()).finish(Report(settings=settings.to_dict(), cases=results))
    with pytest.raises(ReportError, match="give the same --metrics"):
        load_finished(out, ScoreSettings(metrics=("dice",)).to_dict(), fmt="csv")


def test_resume_with_nothing_written_yet(tmp_path: Path) -> None:
    assert load_finished(tmp_path / "results.csv", ScoreSettings().to_dict(), fmt="csv") == []


# ----------------------------------------------------------------------------- summaries


def test_worst_cases_by_macro_dice() -> None:
    def case(name: str, *dice: float) -> CaseResult:
        return CaseResult(case=name, labels=[{"label": i + 1, "dice": d} for i, d in enumerate(dice)])

    cases = [case("a", 0.9, 0.7), case("b", 0.5), case("c", float("nan")), case("d", 0.8),
             CaseResult(case="e", error="failed"), case("f", 0.6, 1.0)]
    assert [(c.case, v) for c, v in worst_cases(cases, n=3)] == [("b", 0.5), ("a", 0.8), ("d", 0.8)]


@pytest.mark.parametrize("fmt", ["csv", "json", "md"])
def test_render_summary(tmp_path: Path, fmt: str) -> None:
    results, settings = _scored(tmp_path)
    report = Report(settings=settings.to_dict(), cases=results)
    text = render_summary(report, fmt)
    summary = report.summary()
    dice1 = next(e for e in summary["per_label"] if e["label"] == 1)["dice"]
    if fmt == "csv":
        rows = [line.split(",") for line in text.splitlines()]
        assert rows[0] == ["label", "name", "metric", "mean", "std", "median", "min", "max", "n", "n_nan"]
        row = next(r for r in rows if r[0] == "1" and r[2] == "dice")
        assert float(row[3]) == dice1["mean"] and int(row[8]) == dice1["n"] == 4
        assert rows[-1][2] == "generalized_dice"
    elif fmt == "json":
        data = json.loads(text)
        assert data["summary"]["per_label"][0]["dice"]["mean"] == dice1["mean"]
        assert set(data["summary"]["per_label"][0]["dice"]) == {"mean", "std", "median", "min", "max", "n", "n_nan"}
    else:
        assert "| 1 |" in text and "Generalized Dice per case: mean" in text


# ----------------------------------------------------------------------------- nnU-Net summary.json


def _nnunet_oracle(pairs: list[tuple[np.ndarray, np.ndarray, str, str]], keys: list[Any]) -> dict[str, Any]:
    """What nnU-Net v2's compute_metrics_on_folder computes, by its definitions, on arrays."""
    per_case = []
    for pred, ref, pred_file, ref_file in pairs:
        metrics = {}
        for k in keys:
            members = k if isinstance(k, tuple) else (k,)
            mr, mp = np.isin(ref, members), np.isin(pred, members)
            tp, fp = int(np.sum(mr & mp)), int(np.sum(~mr & mp))
            fn, tn = int(np.sum(mr & ~mp)), int(np.sum(~mr & ~mp))
            nan = tp + fp + fn == 0
            metrics[str(k)] = {
                "Dice": float("nan") if nan else 2 * tp / (2 * tp + fp + fn),
                "IoU": float("nan") if nan else tp / (tp + fp + fn),
                "FP": fp, "TP": tp, "FN": fn, "TN": tn, "n_pred": fp + tp, "n_ref": fn + tp,
            }
        per_case.append({"metrics": metrics, "prediction_file": pred_file, "reference_file": ref_file})
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = {str(k): {m: float(np.nanmean([c["metrics"][str(k)][m] for c in per_case]))
                             for m in per_case[0]["metrics"][str(keys[0])]} for k in keys}
    return {"metric_per_case": per_case, "mean": mean}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return bool(a == b) and type(a) is type(b)


def test_nnunet_summary_matches_nnunets_layout_and_numbers(tmp_path: Path) -> None:
    root = tmp_path
    arrays = []
    for i in range(3):
        pred, gt = case_pair(i)
        write_volume(root / f"p{i}.nii.gz", pred, spacing_mm=SPACING)
        write_volume(root / f"g{i}.nii.gz", gt, spacing_mm=SPACING)
        arrays.append((pred, gt, str(root / f"p{i}.nii.gz"), str(root / f"g{i}.nii.gz")))
    from segeval.labels import LabelSpec

    settings = ScoreSettings(spec=LabelSpec(regions=(("WT", (1, 2)),)))
    tasks = [CaseTask(f"c{i}", a[2], a[3]) for i, a in enumerate(arrays)]
    cases = sorted(run_batch(tasks, settings, jobs=1), key=lambda c: c.case)
    # label 5: in dataset.json but in no case; label 3: absent from case 0 and 2
    got = json.loads(to_nnunet_json(nnunet_summary(cases, extra_labels=[5])))
    expected = _nnunet_oracle(arrays, [1, 2, 3, 5, (1, 2)])
    assert set(got) == {"metric_per_case", "mean", "foreground_mean"}
    assert _same(got["metric_per_case"], expected["metric_per_case"])
    assert _same(got["mean"], expected["mean"])
    assert list(got["metric_per_case"][0]["metrics"]) == sorted(["1", "2", "3", "5", "(1, 2)"])
    assert math.isnan(got["mean"]["5"]["Dice"])
    # nnU-Net's np.mean would make this NaN because class 5 is NaN in every case
    fg = [got["mean"][k]["Dice"] for k in ("1", "2", "3", "(1, 2)")]
    assert got["foreground_mean"]["Dice"] == pytest.approx(sum(fg) / 4)
    assert got["foreground_mean"]["TP"] == pytest.approx(
        np.mean([got["mean"][k]["TP"] for k in ("1", "2", "3", "5", "(1, 2)")]))


def test_nnunet_json_text_is_what_nnunet_writes() -> None:
    case = CaseResult(case="a", pred="p.nii.gz", gt="g.nii.gz", shape=[2, 2, 1],
                      labels=[{"label": 1, "tp": 1, "fp": 0, "fn": 1, "tn": 2}])
    text = to_nnunet_json(nnunet_summary([case], extra_labels=[2]))
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=4)  # nnU-Net's save_json
    assert text.startswith('{\n    "foreground_mean": {\n        "Dice": 0.6666666666666666,')
    assert '"Dice": NaN' in text  # as Python's json writes nnU-Net's NaN
    # keys parse back as nnU-Net's key_to_label_or_region does
    assert [int(k) for k in data["mean"]] == [1, 2]
    assert data["metric_per_case"][0]["metrics"]["2"]["TN"] == 4


def test_nnunet_summary_leaves_failed_cases_out() -> None:
    ok = CaseResult(case="a", pred="p", gt="g", labels=[{"label": 1, "tp": 1, "fp": 0, "fn": 0, "tn": 3}])
    bad = CaseResult(case="b", pred="q", gt="h", error="ReadError: corrupt")
    data = nnunet_summary([ok, bad])
    assert [c["reference_file"] for c in data["metric_per_case"]] == ["g"]


def test_write_atomic_names_the_option_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    from segeval.errors import OutputError
    from segeval.report.writers import write_atomic

    with pytest.raises(OutputError, match=r"^--summary .*nowhere.s\.csv: folder .*nowhere does not exist$"):
        write_atomic(tmp_path / "nowhere" / "s.csv", "x", option="--summary")
    with pytest.raises(OutputError, match=r"^-o .*: is a directory; give a file name$"):
        write_atomic(tmp_path, "x")
    write_atomic(tmp_path / "s.csv", "a,b\n", option="--summary")
    assert [p.name for p in tmp_path.iterdir()] == ["s.csv"] and (tmp_path / "s.csv").read_text() == "a,b\n"
