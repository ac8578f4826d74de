"""``segeval batch PRED_DIR GT_DIR``: every case of two folders, in parallel, streamed, resumable."""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from segeval._malloc import keep_freed_memory
from segeval.cli import app
from segeval.cli._common import (
    AlphaOpt,
    BackgroundOpt,
    BetaOpt,
    ConfigOpt,
    DebugOpt,
    DeviceOpt,
    EmptyOpt,
    FailUnderOpt,
    FormatOpt,
    IgnoreOpt,
    InfOpt,
    LabelNamesOpt,
    LabelsOpt,
    MetricsOpt,
    OutputOpt,
    PercentileOpt,
    QuietOpt,
    RegionOpt,
    ResampleOpt,
    SmoothOpt,
    SpacingOpt,
    ToleranceOpt,
    build_settings,
    check_device,
    output_format,
    stderr_console,
    stdout_console,
    warn,
)
from segeval.cli.score import _gate_checks, _judge

if TYPE_CHECKING:  # pragma: no cover
    from segeval.batch import Pairing
    from segeval.report.schema import CaseResult, Report

_SUMMARY_FORMATS = {".csv": "csv", ".json": "json", ".md": "md", ".markdown": "md"}
_LISTED = 10  # case ids named per line in the pairing report and failure list


@app.command(
    "batch",
    epilog=(
        "Example: segeval batch predictions/ labelsTs/ -o results.csv --summary summary.md "
        "--nnunet-summary summary.json --jobs 8"
    ),
)
def batch_command(
    pred_dir: Annotated[Path | None, typer.Argument(
        help="Folder of predicted label volumes.", metavar="PRED_DIR", show_default=False)] = None,
    gt_dir: Annotated[Path | None, typer.Argument(
        help="Folder of ground-truth label volumes; a dataset.json in it or beside it names the labels.",
        metavar="GT_DIR", show_default=False)] = None,
    labels: LabelsOpt = None,
    label_names: LabelNamesOpt = None,
    region: RegionOpt = None,
    ignore_label: IgnoreOpt = None,
    include_background: BackgroundOpt = False,
    metrics: MetricsOpt = None,
    alpha: AlphaOpt = 0.3,
    beta: BetaOpt = 0.7,
    smooth: SmoothOpt = 0.0,
    empty: EmptyOpt = "nan",
    tolerance: ToleranceOpt = 1.0,
    percentile: PercentileOpt = 95.0,
    spacing: SpacingOpt = None,
    inf_distance: InfOpt = None,
    resample_pred: ResampleOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    device: DeviceOpt = "cpu",
    fail_under: FailUnderOpt = None,
    config: ConfigOpt = None,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", help="Worker processes. Default: all cores; 1 scores in this process.")] = None,
    pattern: Annotated[str | None, typer.Option(
        "--pattern", help="Glob of the files that are cases, e.g. '*.nii.gz'. Default: every readable volume.")] = None,
    pairs: Annotated[Path | None, typer.Option(
        "--pairs", help="CSV with columns case,pred,gt (paths relative to it), instead of PRED_DIR GT_DIR.")] = None,
    missing: Annotated[str, typer.Option(
        "--missing", help="A GT case without prediction: error (a failed case), zero (scored as an empty "
        "prediction) or skip (left out, listed).")] = "error",
    summary: Annotated[Path | None, typer.Option(
        "--summary", help="Write per-label statistics (mean, std, median, min, max, n, n_nan) to a "
        ".csv, .json or .md file.")] = None,
    nnunet_summary: Annotated[Path | None, typer.Option(
        "--nnunet-summary", help="Also write nnU-Net v2's summary.json layout (metric_per_case, mean, "
        "foreground_mean) to this file.")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="With -o: keep the cases already scored there (by an interrupted or earlier run) "
        "and score only the rest; failed cases are tried again.")] = False,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Dask scheduler ADDRESS to run cases on (needs segeval[dask]).")] = None,
    debug: DebugOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Score every case of two folders (or a --pairs CSV) in parallel.

    Cases pair by file name minus its volume suffix and an nnU-Net _0000 tag,
    across formats. Results stream to -o as cases finish, so an interrupted run
    keeps them and --resume scores only the rest. Prints the per-label summary
    and the five worst cases by macro Dice. Exit 0; 1 when a --fail-under bar is
    not met; 2 on bad input; 3 when some cases failed (they are in the report,
    with their error).
    """
    from segeval.batch import MISSING_POLICIES, find_dataset_json, pair_cases, read_pairs_csv
    from segeval.errors import InputError, OptionError
    from segeval.labels import read_label_names
    from segeval.report.writers import check_writable

    out_fmt = output_format(fmt, output)
    if missing not in MISSING_POLICIES:
        raise OptionError(f"--missing: expected error, zero or skip; got {missing!r}")
    if jobs is not None and jobs < 1:
        raise OptionError(f"--jobs: must be at least 1 (got {jobs})")
    if resume and output is None:
        raise OptionError("--resume needs -o FILE: the output of the run to continue")
    summary_fmt = _summary_format(summary)
    # Fail before scoring, not after an hour of it, when an output cannot be written.
    for path, option in ((output, "-o"), (summary, "--summary"), (nnunet_summary, "--nnunet-summary")):
        if path is not None:
            check_writable(path, option)
    if scheduler is not None:
        _check_scheduler(scheduler)

    if pairs is not None:
        if pred_dir is not None or gt_dir is not None:
            raise OptionError("--pairs replaces PRED_DIR and GT_DIR; give one or the other")
        if pattern is not None:
            raise OptionError("--pattern chooses files in PRED_DIR and GT_DIR; with --pairs, list the files there")
        pairing = read_pairs_csv(pairs)
        dataset_json = None
    else:
        if pred_dir is None or gt_dir is None:
            raise OptionError("give PRED_DIR and GT_DIR (two folders), or --pairs FILE")
        pairing = pair_cases(pred_dir, gt_dir, pattern=pattern)
        dataset_json = find_dataset_json(gt_dir)
    if not pairing.matched:
        raise InputError(_nothing_paired(pairing, pred_dir, gt_dir, pairs))

    names: dict[int, str] = {}
    regions: tuple[tuple[str, tuple[int, ...]], ...] = ()
    if label_names is not None:
        dataset_json = None  # the names given win over the folder's dataset.json
    if dataset_json is not None:
        names, regions = read_label_names(dataset_json)
    settings = build_settings(
        labels=labels, label_names=label_names, region=region, ignore_label=ignore_label,
        include_background=include_background, metrics=metrics, alpha=alpha, beta=beta,
        smooth=smooth, empty=empty, tolerance=tolerance, percentile=percentile, spacing=spacing,
        inf_distance=inf_distance, extra_names=names, extra_regions=regions,
    )
    checks = _gate_checks(fail_under, config)
    backend = check_device(device)
    if not quiet:
        _report_pairing(pairing, missing, dataset_json)
        ignore = [k for k, v in names.items() if v.strip().lower() == "ignore"]
        if ignore and ignore_label is None:
            warn(f"{dataset_json} names label {ignore[0]} 'ignore', which nnU-Net leaves out of every count; "
                 f"give --ignore-label {ignore[0]} to do the same")

    # The numbers: scored here, or kept from the run being resumed.
    report = _score_all(
        pairing, settings, missing=missing, jobs=jobs, resample_pred=resample_pred, device=backend,
        output=output, out_fmt=out_fmt, resume=resume, quiet=quiet,
    )
    if report is None:
        return 130

    if output is None and out_fmt != "table":
        typer.echo(_render(report, out_fmt), nl=False)
    elif not quiet:
        console = stdout_console()
        for renderable in _summary_tables(report, explicit_metrics=metrics is not None):
            console.print(renderable)
    if summary is not None:
        from segeval.batch import render_summary
        from segeval.report.writers import write_atomic

        write_atomic(summary, render_summary(report, summary_fmt), option="--summary")
    if nnunet_summary is not None:
        _write_nnunet(nnunet_summary, report, settings)
    _report_problems(report, quiet)

    code = 3 if any(c.error is not None for c in report.cases) else 0
    if checks and _judge(report, checks, quiet) != 0:
        code = 1  # DESIGN.md: a failed gate (1) outranks failed cases (3)
    return code


def _score_all(
    pairing: Pairing,
    settings: Any,
    *,
    missing: str,
    jobs: int | None,
    resample_pred: bool,
    device: str,
    output: Path | None,
    out_fmt: str,
    resume: bool,
    quiet: bool,
) -> Report | None:
    """Score the cases not already done; stream them to -o. None when interrupted (message written)."""
    from segeval.batch import STREAMED_FORMATS, ResultStream, journal_path, load_finished, run_batch
    from segeval.report.schema import Report

    settings_dict = settings.to_dict()
    tasks = pairing.tasks(missing)
    kept: list[CaseResult] = []
    if resume and output is not None:
        by_case = {t.case: t for t in tasks}
        finished = load_finished(output, settings_dict, fmt=out_fmt)
        kept = [c for c in finished if c.case in by_case]
        for c in kept:  # a CSV does not hold the file names
            c.pred = c.pred if c.pred is not None else by_case[c.case].pred
            c.gt = c.gt if c.gt is not None else by_case[c.case].gt
        if len(kept) < len(finished):
            warn(f"--resume: {len(finished) - len(kept)} cases in {output} are not in this run's pairing "
                 "and are left out", quiet=quiet)
        if not quiet:
            sys.stderr.write(f"segeval: resuming: {len(kept)} cases already scored in {output}; "
                             f"{len(tasks) - len(kept)} to score\n")
    elif output is not None and journal_path(output).exists():
        warn(f"{journal_path(output)} holds the cases of an interrupted run; they are replaced "
             "(use --resume to keep them)", quiet=quiet)
    done = {c.case for c in kept}
    todo = [t for t in tasks if t.case not in done]
    results: dict[str, CaseResult] = {c.case: c for c in kept}

    # Set before numba loads its OpenMP layer: idle OpenMP threads spin by default and
    # slow the next case's decompression about 2x on a small machine.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # This process scores the cases itself with --jobs 1: reuse freed volumes.
    keep_freed_memory()
    stream = ResultStream(output, out_fmt, settings_dict, kept=kept) if output is not None else None
    try:
        # run_batch starts the workers before the progress bar starts its thread.
        with run_batch(todo, settings, jobs=jobs, resample_pred=resample_pred, missing=missing,
                       device=device) as run, \
                _progress(len(todo), enabled=not quiet and sys.stderr.isatty()) as progress:
            bar = progress.add_task("Scoring", total=len(todo), failed="")
            n_failed = 0
            for result in run:
                if stream is not None:
                    stream.add(result)
                results[result.case] = result
                n_failed += result.error is not None
                progress.update(bar, advance=1, failed=f"[red]{n_failed} failed[/]" if n_failed else "")
    except KeyboardInterrupt:
        if stream is not None:
            stream.close()
        scored = len(results) - len(kept)
        if stream is None:
            where = "nothing was saved (give -o FILE to keep results)"
        else:
            kept_in = stream.output if out_fmt in STREAMED_FORMATS else stream.journal
            where = (f"the {len(results)} finished cases are in {kept_in}; run the same command with --resume "
                     "to score the rest")
        sys.stderr.write(f"segeval: interrupted after {scored} of {len(todo)} cases; {where}\n")
        return None
    report = Report(settings=settings_dict, cases=sorted(results.values(), key=lambda c: c.case))
    if stream is not None:
        stream.finish(report)
    return report


def _render(report: Report, fmt: str) -> str:
    from segeval.report.writers import render

    return render(report, fmt)


def _summary_format(path: Path | None) -> str:
    from segeval.errors import OptionError

    if path is None:
        return ""
    fmt = _SUMMARY_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise OptionError(f"--summary {path}: give a .csv, .json or .md file name")
    return fmt


def _check_scheduler(address: str) -> None:
    from segeval._optional import import_optional
    from segeval.errors import OptionError

    import_optional("dask.distributed")
    raise OptionError(
        f"--scheduler {address}: running cases on a Dask cluster is not available in this version; "
        "run without --scheduler (cases run on this machine's cores, see --jobs)"
    )


def _ids(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (f" ... and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


def _nothing_paired(pairing: Pairing, pred_dir: Path | None, gt_dir: Path | None, pairs: Path | None) -> str:
    if pairs is not None:
        return f"--pairs {pairs}: none of the listed prediction files exists"
    gt_ids = [t.case for t in pairing.missing_pred]
    pred_ids = [Path(p).name for p in pairing.extra_pred]
    if not pred_ids:
        return f"prediction folder {pred_dir}: no volume files (GT cases: {_ids(gt_ids)})"
    return (
        f"no prediction in {pred_dir} has the case id of a GT file in {gt_dir} (GT: {_ids(gt_ids[:3])}; "
        f"predictions: {_ids(pred_ids[:3])}); check the folders or give --pairs FILE"
    )


def _report_pairing(pairing: Pairing, missing: str, dataset_json: Path | None) -> None:
    """Before any scoring: how many cases pair up, and what does not."""
    n = len(pairing.matched)
    sys.stderr.write(f"segeval: {n} case{'s' if n != 1 else ''} paired by case id\n")
    if pairing.missing_pred:
        fate = {"error": "recorded as failed", "zero": "scored as empty predictions",
                "skip": "left out"}[missing]
        k = len(pairing.missing_pred)
        warn(f"{k} GT case{'s have' if k != 1 else ' has'} no prediction ({fate}, --missing {missing}): "
             f"{_ids([t.case for t in pairing.missing_pred])}")
    if pairing.extra_pred:
        k = len(pairing.extra_pred)
        warn(f"{k} prediction{'s have' if k != 1 else ' has'} no GT case (not scored): "
             f"{_ids([Path(p).name for p in pairing.extra_pred])}")
    if pairing.shadowed:
        k = len(pairing.shadowed)
        warn(f"{k} file{'s' if k != 1 else ''} left out beside an image with the same case id "
             f"(e.g. nnU-Net probabilities): {_ids([Path(p).name for p in pairing.shadowed])}")
    if dataset_json is not None:
        sys.stderr.write(f"segeval: label names from {dataset_json}\n")


def _report_problems(report: Report, quiet: bool) -> None:
    """After the run: every failed case (always), and the cases' warnings grouped."""
    failed = [c for c in report.cases if c.error is not None]
    if failed:
        sys.stderr.write(f"segeval: {len(failed)} of {len(report.cases)} cases failed:\n")
        for c in failed[:_LISTED]:
            sys.stderr.write(f"  {c.case}: {c.error}\n")
        if len(failed) > _LISTED:
            sys.stderr.write(f"  ... and {len(failed) - _LISTED} more (see the report)\n")
    notes: Counter[str] = Counter()
    first: dict[str, str] = {}
    for c in report.cases:
        for note in c.notes:
            notes[note] += 1
            first.setdefault(note, c.case)
    for note, count in notes.items():
        warn(f"{note} ({count} case{'s' if count != 1 else ''}, e.g. {first[note]})", quiet=quiet)


def _write_nnunet(path: Path, report: Report, settings: Any) -> None:
    from segeval.report.nnunet import nnunet_summary, to_nnunet_json
    from segeval.report.writers import write_atomic

    spec = settings.spec
    extra: list[int] = []
    if spec.labels is None:
        # nnU-Net evaluates every foreground label of dataset.json, present or not.
        floor = 0 if spec.include_background else 1
        extra = sorted(k for k in spec.names if k >= floor and k != spec.ignore_label)
    write_atomic(path, to_nnunet_json(nnunet_summary(report.cases, extra_labels=extra)),
                 option="--nnunet-summary")


class _NoProgress(contextlib.AbstractContextManager["_NoProgress"]):
    """What ``_progress`` gives when it is off: the same calls, doing nothing (and no rich import)."""

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None


def _progress(total: int, *, enabled: bool) -> Any:
    """Cases done, failed, rate and time left, on stderr; nothing when disabled."""
    if not enabled:
        return _NoProgress()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            elapsed = task.elapsed or 0.0
            if not task.completed or elapsed <= 0:
                return Text("", style="progress.data.speed")
            rate = task.completed / elapsed
            text = f"{rate:.1f} cases/s" if rate >= 1 else f"{1 / rate:.1f} s/case"
            return Text(text, style="progress.data.speed")

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[failed]}"), RateColumn(), TimeElapsedColumn(), TextColumn("elapsed,"),
        TimeRemainingColumn(), TextColumn("left"),
        console=stderr_console(), transient=False,
    )


def _summary_tables(report: Report, *, explicit_metrics: bool) -> list[Any]:
    """The per-label statistics table, the generalized Dice line and the five worst cases by macro Dice."""
    from rich.table import Table
    from rich.text import Text

    from segeval.batch import worst_cases
    from segeval.report.terminal import _SHORT, cell, table_metrics

    summary = report.summary()
    metrics = table_metrics(report.metrics, explicit_metrics)
    n_ok = summary["n_cases"] - summary["n_failed"]
    title = f"Summary over {n_ok} case{'s' if n_ok != 1 else ''}"
    if summary["n_failed"]:
        title += f" ({summary['n_failed']} failed)"
    table = Table(title=title, title_justify="left", header_style="bold", show_edge=False,
                  pad_edge=False, box=None, collapse_padding=True)
    table.add_column("Label", justify="right", no_wrap=True)
    table.add_column("Name", overflow="ellipsis", max_width=14, no_wrap=True)
    table.add_column("Metric", no_wrap=True)
    for name in ("Mean", "Std", "Median", "Min", "Max", "N", "NaN"):
        table.add_column(name, justify="right", no_wrap=True)
    stats = ("mean", "std", "median", "min", "max")
    for entry in summary["per_label"]:
        for i, m in enumerate(metrics):
            s = entry[m]
            table.add_row(
                str(entry["label"]) if i == 0 else "", (entry.get("name") or "") if i == 0 else "",
                _SHORT.get(m, m), *[cell(m, s[k]) for k in stats], str(s["n"]), str(s["n_nan"]),
            )
    table.add_section()
    for m in metrics:
        table.add_row(Text("macro", style="bold"), "", _SHORT.get(m, m), cell(m, summary["macro"][m]), *[""] * 6)
    gd = summary["generalized_dice"]
    num = {k: cell("dice", gd[k]).plain for k in stats}
    nan = f", {gd['n_nan']} NaN" if gd["n_nan"] else ""
    gd_line = Text(f"Generalized Dice: mean {num['mean']} ± {num['std']}, median {num['median']}, "
                   f"range {num['min']}–{num['max']}, {gd['n']} cases{nan}")
    out: list[Any] = [table, gd_line]
    worst = worst_cases(report.cases, metric="dice", n=5) if "dice" in report.metrics else []
    if worst:
        low = Table(title="Worst cases by macro Dice", title_justify="left", header_style="bold",
                    show_edge=False, pad_edge=False, box=None, collapse_padding=True)
        low.add_column("Case", no_wrap=True)
        low.add_column("Macro Dice", justify="right", no_wrap=True)
        low.add_column("Lowest class", overflow="ellipsis", no_wrap=True)
        for case, value in worst:
            lowest = min((r for r in case.labels if not math.isnan(r["dice"])), key=lambda r: r["dice"])
            label = f"{lowest['label']}" + (f" {lowest['name']}" if lowest.get("name") else "")
            low.add_row(case.case, cell("dice", value), f"{label}: {lowest['dice']:.3f}")
        out.append(low)
    return out
