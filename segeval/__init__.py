"""segeval: score segmentation label volumes, per class, in one pass.

The public API is loaded on first use (``segeval.score`` imports the scoring
stack when it is first touched), so ``import segeval`` and the ``segeval``
command start fast, and the command can take over Ctrl-C before anything
heavy is imported.

>>> import numpy as np, segeval
>>> gt = np.array([[1, 1, 0], [2, 2, 0]]); pred = np.array([[1, 0, 0], [2, 2, 2]])
>>> segeval.dice(pred, gt).round(4)
array([0.6667, 0.8   ])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from segeval._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from segeval.batching.folders import batch
    from segeval.check import check_dataset
    from segeval.errors import SegevalError
    from segeval.metrics.confusion import confusion_matrix
    from segeval.metrics.overlap import dice, generalized_dice, iou, tversky
    from segeval.ranking import Ranking, rank
    from segeval.records import CaseResult
    from segeval.report.reading import load_report as read_report
    from segeval.scoring import score, score_case
    from segeval.settings import ScoreSettings, build_settings
    from segeval.summary import Report
    from segeval.volume import LabelVolume

_EXPORTS = {
    "CaseResult": "segeval.records",
    "LabelVolume": "segeval.volume",
    "Ranking": "segeval.ranking.run",
    "Report": "segeval.summary",
    "ScoreSettings": "segeval.settings",
    "SegevalError": "segeval.errors",
    "batch": "segeval.batching.folders",
    "build_settings": "segeval.settings",
    "check_dataset": "segeval.check",
    "confusion_matrix": "segeval.metrics.confusion",
    "dice": "segeval.metrics.overlap",
    "generalized_dice": "segeval.metrics.overlap",
    "iou": "segeval.metrics.overlap",
    "rank": "segeval.ranking.run",
    "read_report": "segeval.report.reading:load_report",
    "score": "segeval.scoring",
    "score_case": "segeval.scoring",
    "tversky": "segeval.metrics.overlap",
}

__all__ = [
    "CaseResult",
    "LabelVolume",
    "Ranking",
    "Report",
    "ScoreSettings",
    "SegevalError",
    "__version__",
    "batch",
    "build_settings",
    "check_dataset",
    "confusion_matrix",
    "dice",
    "generalized_dice",
    "iou",
    "rank",
    "read_report",
    "score",
    "score_case",
    "tversky",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'segeval' has no attribute {name!r}")
    module, _, attribute = module.partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
