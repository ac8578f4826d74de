"""Score whole folders of cases: pair files, score in worker processes, stream, resume.

* :mod:`segeval.batching.pairing`: which files make a case (:func:`pair_cases`,
  :func:`read_pairs_csv`, :class:`Pairing`);
* :mod:`segeval.batching.pool`: cases scored in parallel, results as they finish
  (:func:`run_batch`);
* :mod:`segeval.batching.journal`: results on disk as they arrive, and back for
  ``--resume`` (:class:`ResultStream`, :func:`load_finished`);
* :mod:`segeval.batching.run`: the whole resumable run (:func:`run_resumable`);
* :mod:`segeval.batching.folders`: two folders in, a report out (:func:`batch`,
  ``segeval.batch``), and how a run finds its cases (:func:`pair_folders`).

Nothing here prints or exits; the CLI (``segeval.cli.batch``) does that.
"""

from segeval.batching.folders import batch, pair_folders
from segeval.batching.journal import (
    JOURNAL_SUFFIX,
    STREAMED_FORMATS,
    ResultStream,
    journal_path,
    load_finished,
)
from segeval.batching.pairing import (
    MISSING_POLICIES,
    PRED_SUFFIXES,
    Pairing,
    argument_order_warnings,
    find_dataset_json,
    pair_cases,
    read_pairs_csv,
)
from segeval.batching.pool import MISSING_MESSAGE, WORKER_DIED, BatchRun, available_cores, run_batch
from segeval.batching.run import BatchInterrupted, run_resumable, run_settings
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
    "batch",
    "find_dataset_json",
    "journal_path",
    "load_finished",
    "pair_cases",
    "pair_folders",
    "read_pairs_csv",
    "run_batch",
    "run_resumable",
    "run_settings",
    "score_task",
]
