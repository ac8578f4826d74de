"""segeval.records: a CaseResult's round trip through strict JSON."""

from __future__ import annotations

import json
import math

from segeval import CaseResult, Report, ScoreSettings
from segeval.records import jsonable


def _report_with_specials() -> Report:
    settings = ScoreSettings(metrics=("dice", "hd95")).to_dict()
    case = CaseResult(
        case="c1", pred="p.nii.gz", gt="g.nii.gz", shape=[2, 2], spacing=[1.0, 1.0],
        labels=[
            {"label": 1, "name": None, "dice": math.nan, "hd95": math.inf, "tp": 0, "fp": 0, "fn": 0, "tn": 4,
             "vol_pred_ml": 0.0, "vol_gt_ml": 0.0},
            {"label": "WT", "name": "WT", "members": [1, 2], "dice": 0.5, "hd95": 2.0, "tp": 1, "fp": 1,
             "fn": 1, "tn": 1, "vol_pred_ml": 0.002, "vol_gt_ml": 0.002},
        ],
        generalized_dice=math.nan,
        notes=["a note"],
    )
    return Report(settings=settings, cases=[case])


def test_case_result_round_trips_through_strict_json() -> None:
    original = _report_with_specials().cases[0]
    d = json.loads(json.dumps(jsonable(original.to_dict()), allow_nan=False))
    back = CaseResult.from_dict(d)
    assert back.labels[0]["name"] is None  # a null name stays None, not NaN
    assert math.isnan(back.labels[0]["dice"]) and back.labels[0]["hd95"] == math.inf
    assert back.labels[1]["label"] == "WT" and back.labels[1]["members"] == [1, 2]
    assert math.isnan(back.generalized_dice)
    assert jsonable(back.to_dict()) == jsonable(original.to_dict())
    assert (back.case, back.pred, back.gt, back.shape, back.spacing, back.notes, back.error) == (
        "c1", "p.nii.gz", "g.nii.gz", [2, 2], [1.0, 1.0], ["a note"], None)
