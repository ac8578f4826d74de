"""segeval.batching.pool: scoring cases in parallel, failures, workers that die, bounded in-flight."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from segeval import io, scoring
from segeval.batching import MISSING_MESSAGE, WORKER_DIED, CaseTask, pair_cases, run_batch
from segeval.batching import pool as pool_module
from segeval.errors import OptionError
from segeval.records import CaseResult
from segeval.report.writers import to_csv, to_json
from segeval.settings import ScoreSettings
from segeval.summary import Report
from tests.batching._data import make_clean


def by_case(results: list[CaseResult]) -> dict[str, CaseResult]:
    return {r.case: r for r in results}


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
