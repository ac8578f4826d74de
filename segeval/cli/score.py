"""``segeval score PRED GT``: one pair in, a per-label report out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segeval.cli._app import command
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
    QuietOpt,
    RegionOpt,
    ResampleOpt,
    SmoothOpt,
    SpacingOpt,
    SurfaceWeightsOpt,
    ToleranceOpt,
    lesion_options,
    output_format,
    stdout_console,
    table_width,
    warn,
    write_lesion_records,
)
from segeval.cli._feedback import cases, wrote


@command(
    "score",
    short_help="Score one prediction against its ground truth, per label.",
    epilog="Example: segeval score pred/case_001.nii.gz gt/case_001.nii.gz --metrics dice,hd95 -o case_001.json",
)
def score_command(
    pred: Annotated[Path, typer.Argument(
        help="Predicted label volume (.nii/.nii.gz/.nrrd/.mha/.npy/.npz).", metavar="PRED", show_default=False)],
    gt: Annotated[Path, typer.Argument(help="Ground-truth label volume.", metavar="GT", show_default=False)],
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
    debug: DebugOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Score one prediction against its ground truth, per label.

    Prints a table (or CSV/JSON/Markdown/TSV) with Dice, IoU, Tversky, precision,
    recall, ... for every label; distance metrics with --metrics. Exit 0, 1 when
    a --fail-under bar is not met, 2 on bad input.
    """
    from segeval.report.writers import render, write_atomic
    from segeval.scoring import label_set_warnings, score
    from segeval.settings import ScoreSettings

    out_fmt = output_format(fmt, output)
    checks = gate_checks(fail_under, config)
    lesion_settings = lesion_options(
        lesions, connectivity=lesion_connectivity, dilation=lesion_dilation, min_volume=lesion_min_volume,
        penalty_mm=lesion_penalty_mm, iou=lesion_iou, records=lesion_records, maps=lesion_maps)
    report = score(
        pred, gt, labels=labels, label_names=label_names, regions=region, ignore_label=ignore_label,
        include_background=include_background, metrics=metrics, alpha=alpha, beta=beta, smooth=smooth,
        empty=empty, tolerance_mm=tolerance, percentile=percentile, spacing_mm=spacing,
        inf_distance=inf_distance, resample_pred=resample_pred, device=device,
        allow_outside_data_files=allow_outside_data_files, lesions=lesion_settings, surface_weights=surface_weights,
    )
    for note in report.cases[0].notes:
        # A reader's note names its file already; the others are about the case.
        named = note.startswith((str(pred), str(gt)))
        warn(note if named else f"{gt}: {note}", quiet=quiet)
    for line in label_set_warnings(report.cases, ScoreSettings.from_dict(report.settings)):
        warn(line, quiet=quiet)
    if output is not None:
        write_atomic(output, render(report, out_fmt))
        wrote(output, cases(len(report.cases)), quiet=quiet)
    write_lesion_records(lesion_records, report.cases, quiet)
    if out_fmt == "table" or output is not None:
        if not quiet:
            from segeval.report.terminal import report_tables

            console = stdout_console()
            for renderable in report_tables(report, explicit_metrics=metrics is not None,
                                            width=table_width(console)):
                console.print(renderable)
    else:
        typer.echo(render(report, out_fmt), nl=False)
    if checks:
        return judge_inline(report, checks, quiet)
    return 0


def gate_checks(fail_under: list[str] | None, config: Path | None) -> list[object]:
    """Parse --fail-under/--config into gate checks (before any work, so typos fail fast)."""
    if not fail_under and config is None:
        return []
    from segeval.gate import checks_from_options

    return list(checks_from_options(minimums=fail_under or [], config=config))


def judge_inline(report: object, checks: list[object], quiet: bool) -> int:
    """``--fail-under``: judge the report just made; 0 when every bar is met, else 1."""
    from segeval.gate import judge
    from segeval.report.gate_render import gate_table

    result = judge(report, checks)
    if not quiet:
        from segeval.cli._common import PIPE_WIDTH, stderr_console

        console = stderr_console()
        if not console.is_terminal:  # a log: the table whole, never cut to a guessed 80 columns
            console.width = PIPE_WIDTH
        console.print(gate_table(result, width=table_width(console)))
    return 0 if result.passed else 1
