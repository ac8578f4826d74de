"""Two folders in, a report out: ``segeval batch`` as one Python call.

:func:`pair_folders` is how ``segeval batch`` finds its cases (two folders or
a ``--pairs`` CSV, and the ``dataset.json`` that decides the label set);
:func:`batch` adds the settings and the resumable run, so that a notebook
goes from two folders to a DataFrame in two lines::

    report = segeval.batch("predictions/", "labelsTs/", metrics="dice,hd95")
    report.to_frame(wide=True)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from segeval.backends import Backend
from segeval.batching.pairing import (
    Pairing,
    check_missing,
    find_dataset_json,
    pair_cases,
    read_pairs_csv,
)
from segeval.batching.run import Progress, run_resumable
from segeval.errors import InputError, OptionError
from segeval.settings import build_settings
from segeval.summary import Report

__all__ = ["batch", "nothing_paired", "pair_folders"]

_LISTED = 10
PathLike = str | os.PathLike[str]


def _ids(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (f" ... and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


def nothing_paired(pairing: Pairing, pred_dir: PathLike | None, gt_dir: PathLike | None,
                   pairs: PathLike | None) -> str:
    """Why no case paired, in one line, with what to try."""
    if pairs is not None:
        return f"--pairs {pairs}: none of the listed prediction files exists"
    gt_ids = [t.case for t in pairing.missing_pred]
    pred_ids = [Path(p).name for p in pairing.extra_pred]
    if not pred_ids:
        return f"prediction folder {pred_dir}: no volume files (GT cases: {_ids(gt_ids)})"
    return (
        f"no prediction in {pred_dir} has the case id of a GT file in {gt_dir} (GT: {_ids(gt_ids[:3])}; "
        f"predictions: {_ids(pred_ids[:3])}); check the folders, or say how names differ with --pred-suffix, "
        "--case-regex or --recursive, or give --pairs FILE"
    )


def pair_folders(
    pred_dir: PathLike | None = None,
    gt_dir: PathLike | None = None,
    *,
    pairs: PathLike | None = None,
    pattern: str | None = None,
    pred_suffix: str | None = None,
    recursive: bool = False,
    case_regex: str | None = None,
) -> tuple[Pairing, Path | None]:
    """The cases of a run and the ``dataset.json`` beside them (None when there is none).

    Parameters
    ----------
    pred_dir, gt_dir : path, optional
        The two folders (see :func:`segeval.batching.pairing.pair_cases`).
    pairs : path, optional
        A CSV of ``case,pred,gt`` instead of the folders.
    pattern, pred_suffix, recursive, case_regex
        As :func:`segeval.batching.pairing.pair_cases`.

    Raises
    ------
    OptionError
        Folders and ``pairs`` both given (or neither), or folder options with ``pairs``.
    InputError
        No case pairs; the message says what each folder holds.
    """
    if pairs is not None:
        if pred_dir is not None or gt_dir is not None:
            raise OptionError("--pairs replaces PRED_DIR and GT_DIR; give one or the other")
        for given, option in ((pattern is not None, "--pattern"), (pred_suffix is not None, "--pred-suffix"),
                              (recursive, "--recursive"), (case_regex is not None, "--case-regex")):
            if given:
                raise OptionError(f"{option} pairs files in PRED_DIR and GT_DIR; with --pairs, list the files there")
        pairing = read_pairs_csv(pairs)
        dataset_json = find_dataset_json(pairs)
    else:
        if pred_dir is None or gt_dir is None:
            raise OptionError("give PRED_DIR and GT_DIR (two folders), or --pairs FILE")
        pairing = pair_cases(pred_dir, gt_dir, pattern=pattern, pred_suffix=pred_suffix, recursive=recursive,
                             case_regex=case_regex)
        dataset_json = find_dataset_json(gt_dir)
    if not pairing.matched:
        raise InputError(nothing_paired(pairing, pred_dir, gt_dir, pairs))
    return pairing, dataset_json


def batch(
    pred_dir: PathLike | None = None,
    gt_dir: PathLike | None = None,
    *,
    pairs: PathLike | None = None,
    pattern: str | None = None,
    pred_suffix: str | None = None,
    recursive: bool = False,
    case_regex: str | None = None,
    missing: str = "error",
    labels: Sequence[int] | Mapping[str, int] | str | None = None,
    regions: Mapping[str, Sequence[int]] | Sequence[str] | None = None,
    ignore_label: int | None = None,
    include_background: bool = False,
    label_names: Mapping[int, str] | PathLike | None = None,
    metrics: str | Sequence[str] | None = None,
    alpha: float = 0.3,
    beta: float = 0.7,
    smooth: float = 0.0,
    empty: str = "nan",
    spacing_mm: Sequence[float] | str | None = None,
    tolerance_mm: float = 1.0,
    percentile: float = 95.0,
    inf_distance: str | float | None = None,
    resample_pred: bool = False,
    allow_outside_data_files: bool = False,
    jobs: int | None = None,
    output: PathLike | None = None,
    fmt: str | None = None,
    resume: bool = False,
    device: str | Backend = "cpu",
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
    surface_weights: str = "voxels",
    scheduler: Any = None,
    retries: int | None = None,
    resources: str | Sequence[tuple[str, float]] | None = None,
) -> Report:
    """Score every case of two folders (or a ``pairs`` CSV): ``segeval batch`` from Python.

    The options are those of ``segeval batch`` and :func:`segeval.score`
    (one settings builder reads all three), so the same folders and options
    give the same numbers.

    Parameters
    ----------
    pred_dir, gt_dir, pairs, pattern, pred_suffix, recursive, case_regex
        Which files make a case: :func:`pair_folders`.
    missing : {"error", "zero", "skip"}
        A GT case without a prediction: a failed case, an empty prediction, or left out.
    labels, regions, ignore_label, include_background, label_names, metrics, alpha, beta, smooth, empty,
    spacing_mm, tolerance_mm, percentile, inf_distance, resample_pred, allow_outside_data_files, surface_weights
        As :func:`segeval.score`. Without ``label_names``, a ``dataset.json`` in or
        beside ``gt_dir`` decides the label set, as on the command line.
    jobs : int, optional
        Worker processes (default: every core).
    output : path, optional
        Also write the report there, streamed as cases finish (``fmt`` from its extension).
    resume : bool
        With ``output``: keep the cases it already holds and score only the rest.
    device : {"cpu", "gpu", "auto"} or Backend
        Where to compute.
    progress, warn : callable, optional
        A progress bar (:data:`segeval.batching.run.Progress`) and a receiver of warnings.
    scheduler : str or distributed.Client, optional
        Score on this Dask cluster (``"tcp://host:8786"``, or a client to use and
        leave open) instead of local processes, as ``--scheduler`` does; the
        workers read the files from the same paths. ``$DASK_SCHEDULER_ADDRESS``
        is not read here: name the cluster. Needs ``segeval[dask]``.
    retries, resources
        With ``scheduler`` only: as ``--retries`` (default 1) and ``--resources`` (``"GPU=1"``).

    Returns
    -------
    Report
        Every case, sorted by case id; ``to_frame()``, ``to_frame(wide=True)`` and
        ``summary_frame()`` make DataFrames of it.

    Raises
    ------
    OptionError, InputError, LabelSpecError
        Bad options, or no case pairs. A case that cannot be scored does not
        raise: it is in the report with its ``error``.

    Examples
    --------
    >>> import os, tempfile, numpy as np, segeval
    >>> from segeval.io import write_volume
    >>> top = tempfile.mkdtemp(); gt = np.zeros((4, 4, 2), np.uint8); gt[:2] = 1
    >>> for d in ("pred", "gt"):
    ...     os.mkdir(os.path.join(top, d))
    ...     _ = write_volume(os.path.join(top, d, "a.nii.gz"), gt)
    >>> report = segeval.batch(os.path.join(top, "pred"), os.path.join(top, "gt"), jobs=1)
    >>> report.to_frame()[["case", "label", "dice"]].values.tolist()
    [['a', 1, 1.0]]
    """
    check_missing(missing)
    if resume and output is None:
        raise OptionError("resume needs output: the report of the run to continue")
    if jobs is not None and jobs < 1:
        raise OptionError(f"jobs: must be at least 1 (got {jobs})")
    cluster = _cluster(scheduler, retries, resources)
    pairing, dataset_json = pair_folders(pred_dir, gt_dir, pairs=pairs, pattern=pattern, pred_suffix=pred_suffix,
                                         recursive=recursive, case_regex=case_regex)
    settings = build_settings(
        labels=labels, label_names=label_names, regions=regions, ignore_label=ignore_label,
        include_background=include_background, metrics=metrics, alpha=alpha, beta=beta, smooth=smooth,
        empty=empty, tolerance_mm=tolerance_mm, percentile=percentile, spacing_mm=spacing_mm,
        inf_distance=inf_distance, dataset_json=dataset_json if label_names is None else None,
        surface_weights=surface_weights,
    )
    if fmt is None and output is not None:
        from segeval.report.writers import format_of_output

        fmt = format_of_output(output)
    return run_resumable(
        pairing.tasks(missing), settings, output=output, fmt=fmt or "json", resume=resume, jobs=jobs,
        resample_pred=resample_pred, missing=missing, pairing=pairing.rule, device=device,
        allow_outside_data_files=allow_outside_data_files, progress=progress, warn=warn, cluster=cluster,
    )


def _cluster(scheduler: Any, retries: int | None, resources: str | Sequence[tuple[str, float]] | None) -> Any:
    """The :class:`~segeval.batching.cluster.ClusterOptions` of :func:`batch`'s ``scheduler``, or None."""
    if scheduler is None:
        if retries is not None or resources:
            raise OptionError("retries and resources are for runs on a Dask cluster: give scheduler too")
        return None
    from segeval.batching.cluster import cluster_options

    tries = 1 if retries is None else retries
    if isinstance(scheduler, str):
        return cluster_options(scheduler, retries=tries, resources=resources, environ={})
    options = cluster_options("client", retries=tries, resources=resources, environ={})  # checks the rest
    assert options is not None  # an address was given
    return replace(options, address=None, client=scheduler)
