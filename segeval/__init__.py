"""segeval: score segmentation label volumes, per class, in one pass.

>>> import numpy as np, segeval
>>> gt = np.array([[1, 1, 0], [2, 2, 0]]); pred = np.array([[1, 0, 0], [2, 2, 2]])
>>> segeval.dice(pred, gt).round(4)
array([0.6667, 0.8   ])
"""

from segeval._version import __version__
from segeval.errors import SegevalError
from segeval.metrics.confusion import confusion_matrix
from segeval.metrics.overlap import dice, generalized_dice, iou, tversky
from segeval.records import CaseResult
from segeval.scoring import score, score_case
from segeval.settings import ScoreSettings, build_settings
from segeval.summary import Report
from segeval.volume import LabelVolume

__all__ = [
    "CaseResult",
    "LabelVolume",
    "Report",
    "ScoreSettings",
    "SegevalError",
    "__version__",
    "build_settings",
    "confusion_matrix",
    "dice",
    "generalized_dice",
    "iou",
    "score",
    "score_case",
    "tversky",
]
