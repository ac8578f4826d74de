"""Score whole folders of cases: pair files, score in worker processes, stream, resume.

* :mod:`segeval.batch.pairing`: which files make a case (:func:`pair_cases`,
  :func:`read_pairs_csv`, :class:`Pairing`);
* :mod:`segeval.batch.pool`: cases scored in parallel, results as they finish
  (:func:`run_batch`);
* :mod:`segeval.batch.journal`: results on disk as they arrive, and back for
  ``--resume`` (:class:`ResultStream`, :func:`load_finished`);
* :mod:`segeval.batch.run`: the whole resumable run, usable from Python
  (:func:`run_resumable`).

Nothing here prints or exits; the CLI (``segeval.cli.batch``) does that.
"""

from segeval.batch.journal import (
    JOURNAL_SUFFIX,
    STREAMED_FORMATS,
    ResultStream,
    journal_path,
    load_finished,
)
from segeval.batch.pairing import (
    MISSING_POLICIES,
    PRED_SUFFIXES,
    Pairing,
    argument_order_warnings,
    find_dataset_json,
    pair_cases,
    read_pairs_csv,
)
from segeval.batch.pool import MISSING_MESSAGE, WORKER_DIED, BatchRun, available_cores, run_batch
from segeval.batch.run import BatchInterrupted, run_resumable, run_settings
from segeval.records import CaseTask
from segeval.scoring import score_task

__all__ = [
    "JOURNAL_SUFFIX",
    "MISSING_MESSAGE",
    "MISSING_POLICIES",
    "PRED_SUFFIXES",
    "STREAMED_FORMATS",
    "WORKER_DIED",
    "BatchInterrupted",
    "BatchRun",
    "CaseTask",
    "Pairing",
    "ResultStream",
    "argument_order_warnings",
    "available_cores",
    "find_dataset_json",
    "journal_path",
    "load_finished",
    "pair_cases",
    "read_pairs_csv",
    "run_batch",
    "run_resumable",
    "run_settings",
    "score_task",
]
