"""``segeval batch PRED_DIR GT_DIR``: every case of two folders, in parallel, streamed, resumable."""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from segeval._malloc import keep_freed_memory
from segeval.cli._app import command
from segeval.cli._common import (
    CASES,
    GATE,
    OUTPUT,
    RUN,
    AlphaOpt,
    BackgroundOpt,
    BetaOpt,
    CaseRegexOpt,
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
    LesionConnectivityOpt,
    LesionDilationOpt,
    LesionIouOpt,
    LesionMapsOpt,
    LesionMinVolumeOpt,
    LesionPenaltyOpt,
    LesionRecordsOpt,
    LesionsOpt,
    MetricsOpt,
    OutputOpt,
    OutsideOpt,
    PercentileOpt,
    PredSuffixOpt,
    QuietOpt,
    RecursiveOpt,
    RegionOpt,
    ResampleOpt,
    SmoothOpt,
    SpacingOpt,
    SurfaceWeightsOpt,
    ToleranceOpt,
    lesion_options,
    output_format,
    settings_from_options,
    stderr_console,
    stdout_console,
    table_width,
    warn,
    write_lesion_records,
)
from segeval.cli._feedback import cases, log_progress, wrote
from segeval.cli.score import gate_checks, judge_inline

if TYPE_CHECKING:  # pragma: no cover
    from segeval.batching import Pairing
    from segeval.records import CaseResult
    from segeval.summary import Report

_LISTED = 10  # case ids named per line in the pairing report and failure list


@command(
    "batch",
    short_help="Score every case of two folders in parallel.",
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
    surface_weights: SurfaceWeightsOpt = "voxels",
    spacing: SpacingOpt = None,
    inf_distance: InfOpt = None,
    resample_pred: ResampleOpt = False,
    allow_outside_data_files: OutsideOpt = False,
    lesions: LesionsOpt = None,
    lesion_connectivity: LesionConnectivityOpt = None,
    lesion_dilation: LesionDilationOpt = None,
    lesion_min_volume: LesionMinVolumeOpt = None,
    lesion_penalty_mm: LesionPenaltyOpt = None,
    lesion_iou: LesionIouOpt = None,
    lesion_records: LesionRecordsOpt = None,
    lesion_maps: LesionMapsOpt = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    device: DeviceOpt = "cpu",
    fail_under: FailUnderOpt = None,
    config: ConfigOpt = None,
    no_config: Annotated[bool, typer.Option(
        "--no-config", rich_help_panel=GATE, help="Ignore a segeval.toml / pyproject.toml [tool.segeval.gate] in the working "
        "directory (by default the metrics its bars name are scored too).")] = False,
    jobs: Annotated[str | None, typer.Option(
        "--jobs", "-j", metavar="N", rich_help_panel=RUN,
        help="Worker processes: a number, auto or -1 for every core (the default); 1 scores in this process.")]
    = None,
    pattern: Annotated[str | None, typer.Option(
        "--pattern", metavar="GLOB", rich_help_panel=CASES, help="Glob of the files that are cases, e.g. '*.nii.gz'. Default: every readable volume.")] = None,
    pairs: Annotated[Path | None, typer.Option(
        "--pairs", metavar="CSV", rich_help_panel=CASES, help="CSV with columns case,pred,gt (paths relative to it), instead of PRED_DIR GT_DIR.")] = None,
    pred_suffix: PredSuffixOpt = None,
    recursive: RecursiveOpt = False,
    case_regex: CaseRegexOpt = None,
    missing: Annotated[str, typer.Option(
        "--missing", metavar="[error|zero|skip]", rich_help_panel=CASES,
        help="A GT case without a prediction: a failed case, scored as an empty prediction, or left out.")]
    = "error",
    summary: Annotated[Path | None, typer.Option(
        "--summary", metavar="FILE", rich_help_panel=OUTPUT, help="Write per-label statistics (mean, std, median, min, max, n, n_nan), "
        "macro and micro rows and the worst cases to a .csv, .json or .md file.")] = None,
    nnunet_summary: Annotated[Path | None, typer.Option(
        "--nnunet-summary", metavar="FILE", rich_help_panel=OUTPUT, help="Also write nnU-Net v2's summary.json layout (metric_per_case, mean, "
        "foreground_mean) to this file.")] = None,
    html: Annotated[Path | None, typer.Option(
        "--html", metavar="FILE", rich_help_panel=OUTPUT,
        help="Also write the offline HTML report of the run (as segeval report makes: plots, heat map, the --worst "
        "cases with overlays); needs segeval[report].")] = None,
    worst: Annotated[int, typer.Option(
        "--worst", metavar="N", rich_help_panel=OUTPUT, min=0,
        help="Cases in the worst-cases block of the summary and of --summary files (0: none).")] = 5,
    by: Annotated[str | None, typer.Option(
        "--by", metavar="METRIC[:LABEL]", rich_help_panel=OUTPUT,
        help="What ranks the worst cases: a metric's macro value, or its value for one label (by number or name). "
        "Default: dice.")] = None,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", rich_help_panel=OUTPUT,
        help="Also the median, min and n of each metric in the summary table.")] = False,
    resume: Annotated[bool, typer.Option(
        "--resume", rich_help_panel=RUN, help="With -o: keep the cases already scored there (by an interrupted or earlier run) "
        "and score only the rest; failed cases are tried again.")] = False,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", metavar="ADDRESS", rich_help_panel=RUN,
        help="Score the cases on this Dask cluster (tcp://HOST:8786; default $DASK_SCHEDULER_ADDRESS unless --jobs "
        "is given); the workers read the files from the same paths. Needs segeval[dask].")] = None,
    scheduler_file: Annotated[Path | None, typer.Option(
        "--scheduler-file", metavar="FILE", rich_help_panel=RUN,
        help="The Dask scheduler's JSON file (dask scheduler --scheduler-file, dask-jobqueue) instead of "
        "--scheduler.")] = None,
    retries: Annotated[int | None, typer.Option(
        "--retries", metavar="N", rich_help_panel=RUN,
        help="With a Dask cluster: times a case is re-run after its task raised for a machine reason (default 1).")]
    = None,
    resources: Annotated[str | None, typer.Option(
        "--resources", metavar="NAME=N", rich_help_panel=RUN,
        help="With a Dask cluster: worker resources each case needs, e.g. GPU=1 for workers started with "
        "--resources GPU=1.")] = None,
    debug: DebugOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Score every case of two folders (or a --pairs CSV) in parallel.

    Cases pair by file name minus its volume suffix and an nnU-Net _0000 tag,
    across formats; a prediction suffix (_seg, _pred, _trans) or MONAI's one
    folder per case is recognised when nothing pairs otherwise, and
    --pred-suffix, --case-regex and --recursive say how names differ. Results stream to -o as cases finish, so an interrupted run
    keeps them and --resume scores only the rest. Prints the per-label summary
    (mean ± std per metric, macro and micro rows) and the worst cases (--worst, --by). Exit 0; 1 when a --fail-under bar is
    not met; 2 on bad input; 3 when some cases failed (they are in the report,
    with their error).
    """
    from segeval.backends import get_backend
    from segeval.batching import MISSING_POLICIES, BatchInterrupted, argument_order_warnings
    from segeval.batching.folders import pair_folders
    from segeval.batching.run import run_resumable
    from segeval.errors import OptionError
    from segeval.report.writers import check_writable

    out_fmt = output_format(fmt, output)
    if missing not in MISSING_POLICIES:
        raise OptionError(f"--missing: expected error, zero or skip; got {missing!r}")
    n_jobs = _jobs(jobs)
    if no_config and config is not None:
        raise OptionError("--config and --no-config: give one of them")
    if resume and output is None:
        raise OptionError("--resume needs -o FILE: the output of the run to continue")
    cluster = _cluster(scheduler, scheduler_file, retries, resources, jobs, debug)
    summary_fmt = _summary_format(summary)
    # Fail before scoring, not after an hour of it, when an output cannot be written.
    for path, option in ((output, "-o"), (summary, "--summary"), (nnunet_summary, "--nnunet-summary"),
                         (html, "--html")):
        if path is not None:
            check_writable(path, option)
    lesion_settings = lesion_options(
        lesions, connectivity=lesion_connectivity, dilation=lesion_dilation, min_volume=lesion_min_volume,
        penalty_mm=lesion_penalty_mm, iou=lesion_iou, records=lesion_records, maps=lesion_maps)
    if html is not None:  # a missing extra fails now, not after the run
        from segeval.report._plots import require

        require("jinja2")
        require("matplotlib")

    pairing, dataset_json = pair_folders(pred_dir, gt_dir, pairs=pairs, pattern=pattern, pred_suffix=pred_suffix,
                                         recursive=recursive, case_regex=case_regex)

    if label_names is not None:
        dataset_json = None  # the names given win over the folder's dataset.json
    metrics = _with_gate_metrics(metrics, config, no_config, quiet)
    settings = settings_from_options(
        labels=labels, label_names=label_names, region=region, ignore_label=ignore_label,
        include_background=include_background, metrics=metrics, alpha=alpha, beta=beta,
        smooth=smooth, empty=empty, tolerance=tolerance, percentile=percentile, spacing=spacing,
        inf_distance=inf_distance, dataset_json=dataset_json, lesions=lesion_settings,
        surface_weights=surface_weights,
    )
    checks = gate_checks(fail_under, config)
    if by is not None:  # a typo in --by fails now, not after the run
        from segeval.report.overview import parse_by

        parse_by(by, list(settings.to_dict()["metrics"]))
    # On a cluster each worker finds its own device; this machine may have no GPU.
    backend = get_backend(device) if cluster is None else _device_name(device)
    if not quiet:
        _report_pairing(pairing, missing, dataset_json, settings)
        for line in argument_order_warnings(pred_dir, gt_dir):
            warn(line)

    # The numbers: scored here, or kept from the run being resumed. This process
    # scores the cases itself with --jobs 1: let it reuse freed volumes.
    keep_freed_memory()
    try:
        report = run_resumable(
            pairing.tasks(missing), settings, output=output, fmt=out_fmt, resume=resume, jobs=n_jobs,
            resample_pred=resample_pred, missing=missing, pairing=pairing.rule, device=backend,
            allow_outside_data_files=allow_outside_data_files,
            progress=None if quiet else (_progress if sys.stderr.isatty() else log_progress),
            warn=lambda text: warn(text, quiet=quiet),
            say=None if quiet else _say, cluster=cluster,
        )
    except BatchInterrupted as exc:
        sys.stderr.write(f"segeval: {exc}\n")
        return 128 + exc.signum

    if output is None and out_fmt != "table":
        typer.echo(_render(report, out_fmt), nl=False)
    elif not quiet:
        console = stdout_console()
        from segeval.report.terminal import summary_tables

        for renderable in summary_tables(report, explicit_metrics=metrics is not None, width=table_width(console),
                                         verbose=verbose, worst=worst, by=by):
            console.print(renderable)
    if summary is not None:
        from segeval.report.writers import render_summary, write_atomic

        write_atomic(summary, render_summary(report, summary_fmt, worst=worst, by=by), option="--summary")
    if nnunet_summary is not None:
        from segeval.report.nnunet import report_nnunet_summary, to_nnunet_json
        from segeval.report.writers import write_atomic

        write_atomic(nnunet_summary, to_nnunet_json(report_nnunet_summary(report)), option="--nnunet-summary")
    if html is not None:
        from segeval.report.html import write_html_report

        metric = by.partition(":")[0] if by else "dice"
        if metric not in report.metrics:
            metric = report.metrics[0]
        write_html_report(html, {"batch": report}, metric=metric, worst=worst, option="--html")
    write_lesion_records(lesion_records, report.cases, quiet)
    _say_written(report, output, summary, nnunet_summary, html, quiet=quiet, printed=out_fmt != "table")
    _report_problems(report, quiet)
    from segeval.scoring import label_set_warnings

    for line in label_set_warnings(report.cases, settings):
        warn(line, quiet=quiet)

    code = 3 if any(c.error is not None for c in report.cases) else 0
    if checks and judge_inline(report, checks, quiet) != 0:
        code = 1  # DESIGN.md: a failed gate (1) outranks failed cases (3)
    return code


def _render(report: Report, fmt: str) -> str:
    from segeval.report.writers import render

    return render(report, fmt)


def _cluster(scheduler: str | None, scheduler_file: Path | None, retries: int | None, resources: str | None,
             jobs: str | None, debug: bool) -> Any:
    """The Dask cluster of ``--scheduler``, ``--scheduler-file`` or ``$DASK_SCHEDULER_ADDRESS`` (unless ``--jobs``
    is given), or None for the local pool."""
    from segeval.batching.cluster import cluster_options
    from segeval.errors import OptionError

    if jobs is not None and (scheduler is not None or scheduler_file is not None):
        raise OptionError("--jobs is for the local pool; with --scheduler or --scheduler-file the cluster's "
                          "workers score the cases")
    cluster = cluster_options(scheduler, scheduler_file, retries=1 if retries is None else retries,
                              resources=resources, environ=None if jobs is None else {})
    if cluster is None:
        for given, option in ((retries is not None, "--retries"), (resources is not None, "--resources")):
            if given:
                raise OptionError(f"{option} is for runs on a Dask cluster: give --scheduler or --scheduler-file "
                                  "too")
        return None
    if not debug:
        import logging

        # distributed logs a lost scheduler as tracebacks; segeval says it in one line. Its config gives
        # some of its loggers levels of their own when it is imported (cluster_options imported it).
        for name in ["distributed", *logging.root.manager.loggerDict]:
            if name == "distributed" or name.startswith("distributed."):
                logging.getLogger(name).setLevel(logging.CRITICAL)
    return cluster


def _device_name(device: str) -> str:
    """``--device`` checked by name only: the workers of a cluster choose their own device."""
    from segeval.backends import DEVICES
    from segeval.errors import OptionError

    if device.lower() not in DEVICES:
        raise OptionError(f"--device: expected cpu, gpu or auto; got {device!r}")
    return device.lower()


def _jobs(text: str | None) -> int | None:
    """``--jobs``: a number of processes, or ``auto`` / ``-1`` for every core (None)."""
    from segeval.errors import OptionError

    if text is None or text.strip().lower() in ("auto", "-1"):
        return None
    try:
        n = int(text)
    except ValueError:
        raise OptionError(f"--jobs: expected a number of processes, auto or -1; got {text!r}") from None
    if n < 1:
        raise OptionError(f"--jobs: must be at least 1, or auto / -1 for every core (got {n})")
    return n


def _say_written(report: Any, output: Path | None, summary: Path | None, nnunet_summary: Path | None,
                 html: Path | None, *, quiet: bool, printed: bool) -> None:
    """A line per file written, and a word when the per-case results were not kept at all (a table on
    stdout and no -o)."""
    n = len(report.cases)
    if output is not None:
        wrote(output, cases(n), quiet=quiet)
    elif not quiet and not printed:
        _say("per-case results were not saved (no -o); add -o results.json to keep them")
    if summary is not None:
        wrote(summary, f"summary of {cases(n)}", quiet=quiet)
    if nnunet_summary is not None:
        wrote(nnunet_summary, f"nnU-Net summary.json of {cases(sum(c.error is None for c in report.cases))}",
              quiet=quiet)
    if html is not None:
        wrote(html, f"HTML report of {cases(n)}", quiet=quiet)


def _say(text: str) -> None:
    sys.stderr.write(f"segeval: {text}\n")


def _summary_format(path: Path | None) -> str:
    from segeval.errors import OptionError
    from segeval.report.writers import SUMMARY_FORMATS

    if path is None:
        return ""
    fmt = SUMMARY_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise OptionError(f"--summary {path}: give a .csv, .json or .md file name")
    return fmt


def _ids(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (f" ... and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


def _with_gate_metrics(metrics: str | None, config: Path | None, no_config: bool, quiet: bool) -> str | None:
    """``--metrics``, plus what the gate's bars (``--config``, or a segeval.toml found here) need.

    A CI job's ``batch`` line then scores what its ``gate`` line checks. An
    explicit ``--metrics`` is kept as given, with a warning for what it leaves out.
    """
    from segeval.errors import ConfigError
    from segeval.gate import find_config, metrics_needed, read_config
    from segeval.metrics.registry import parse_metrics

    path = config if config is not None else (None if no_config else find_config(Path.cwd()))
    if path is None:
        return metrics
    try:
        needed = metrics_needed(read_config(path).checks)
    except ConfigError as exc:
        if config is not None:
            raise
        warn(f"{exc} (so the metrics its bars need are not added)", quiet=quiet)
        return metrics
    missing = [m for m in needed if m not in parse_metrics(metrics)]
    if not missing:
        return metrics
    if metrics is not None:
        warn(f"--metrics leaves out {', '.join(missing)}, which the gate's bars in {path} need; `segeval gate` "
             "will refuse this report", quiet=quiet)
        return metrics
    if not quiet:
        _say(f"scoring {', '.join(missing)} too: the gate's bars in {path} need them")
    return ",".join([*parse_metrics(None), *missing])


def _report_pairing(pairing: Pairing, missing: str, dataset_json: Path | None, settings: Any) -> None:
    """Before any scoring: how many cases pair up, and what does not."""
    n = len(pairing.matched)
    rule = f" ({pairing.rule})" if pairing.rule else ""
    sys.stderr.write(f"segeval: {n} case{'s' if n != 1 else ''} paired by case id{rule}\n")
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
    spec = settings.spec
    if spec.label_map is not None:
        what = (f"{len(spec.regions)} regions" if spec.labels == () and spec.regions
                else f"{len(spec.labels or ())} labels" + (f" and {len(spec.regions)} regions" if spec.regions else ""))
        ignore = f", ignore label {spec.ignore_label}" if spec.ignore_label is not None else ""
        sys.stderr.write(f"segeval: scoring the {what} of {spec.label_map}{ignore}\n")
    elif dataset_json is not None:
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


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Callable[[CaseResult], None]]:
    """A progress bar on stderr (cases done, failed, rate, time left); yields what advances it."""
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

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[failed]}"), RateColumn(), TimeElapsedColumn(), TextColumn("elapsed,"),
        TimeRemainingColumn(), TextColumn("left"),
        console=stderr_console(), transient=False,
    ) as progress:
        bar = progress.add_task("Scoring", total=total, failed="")
        failed = 0

        def advance(result: CaseResult) -> None:
            nonlocal failed
            failed += result.error is not None
            progress.update(bar, advance=1, failed=f"[red]{failed} failed[/]" if failed else "")

        yield advance
