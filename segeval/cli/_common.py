"""Options shared by ``score`` and ``batch``, declared once, and what every command prints with.

The options are Typer annotations, so each command lists them by name; their
values go, untouched, to the one settings builder
(:func:`segeval.settings.build_settings`), which parses and checks them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from segeval.errors import OptionError

# Typer options as reusable annotations: one definition, identical in every command.
LabelsOpt = Annotated[str | None, typer.Option(
    "--labels", help="Labels to score: 1,2,3 or liver=1,spleen=2. Default: every label > 0 present.")]
LabelNamesOpt = Annotated[Path | None, typer.Option(
    "--label-names", help="JSON/CSV map label -> name, or an nnU-Net dataset.json.")]
RegionOpt = Annotated[list[str] | None, typer.Option(
    "--region", help="Score a union of labels as one class: NAME=1,2,3 (repeatable).")]
IgnoreOpt = Annotated[int | None, typer.Option(
    "--ignore-label", help="GT voxels with this value are excluded from every count.")]
BackgroundOpt = Annotated[bool, typer.Option(
    "--include-background", help="Also score label 0.")]
MetricsOpt = Annotated[str | None, typer.Option(
    "--metrics", help="Metrics, e.g. dice,iou,hd95,nsd ('all', 'surface'). Default: the overlap set.")]
AlphaOpt = Annotated[float, typer.Option("--alpha", help="Tversky weight of false positives.")]
BetaOpt = Annotated[float, typer.Option("--beta", help="Tversky weight of false negatives.")]
SmoothOpt = Annotated[float, typer.Option("--smooth", help="Additive smoothing of Dice/IoU/Tversky.")]
EmptyOpt = Annotated[str, typer.Option(
    "--empty", help="Score of a class absent from both volumes: nan (excluded from means), one, zero.")]
ToleranceOpt = Annotated[float, typer.Option("--tolerance", help="NSD tolerance in mm.")]
PercentileOpt = Annotated[float, typer.Option("--percentile", help="Percentile of hd95 and hd95_pooled.")]
SpacingOpt = Annotated[str | None, typer.Option(
    "--spacing", help="Voxel spacing X,Y,Z in mm for .npy/.npz inputs, which carry none.")]
InfOpt = Annotated[str | None, typer.Option(
    "--inf-distance", help="Replace infinite distances (one mask empty): 'diagonal' or a value in mm.")]
ResampleOpt = Annotated[bool, typer.Option(
    "--resample-pred", help="Resample the prediction onto the GT grid (nearest neighbour) instead of refusing.")]
FormatOpt = Annotated[str | None, typer.Option(
    "--format", "-f", help="table, csv, json, jsonl or md. Default: from -o's extension, else table.")]
OutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Write the report here (format from the extension); written whole or not at all.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="cpu, gpu (needs CuPy) or auto.")]
FailUnderOpt = Annotated[list[str] | None, typer.Option(
    "--fail-under", help="Inline gate METRIC[:LABEL]=VALUE (repeatable); exit 1 when not met.")]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="Gate checks from segeval.toml or pyproject.toml [tool.segeval.gate].")]
OutsideOpt = Annotated[bool, typer.Option(
    "--allow-outside-data-files",
    help="Read the data files a .mhd/.nhdr header names even outside its folder (by default refused).")]
PredSuffixOpt = Annotated[str | None, typer.Option(
    "--pred-suffix", help="Remove this from the end of prediction names before pairing, e.g. _seg "
    "(case_001_seg.nii.gz pairs with case_001.nii.gz).")]
RecursiveOpt = Annotated[bool, typer.Option(
    "--recursive", help="Also take the files in sub-folders of PRED_DIR and GT_DIR; case ids still come "
    "from file names.")]
CaseRegexOpt = Annotated[str | None, typer.Option(
    "--case-regex", help="Python regex searched in each file name; its group (or its group named case) is "
    "the case id, e.g. 'pred_(\\d+)'. Files it does not match pair by name.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr; no table.")]

FORMATS = ("table", "csv", "json", "jsonl", "md")


def settings_from_options(
    *,
    labels: str | None,
    label_names: Path | None,
    region: list[str] | None,
    ignore_label: int | None,
    include_background: bool,
    metrics: str | None,
    alpha: float,
    beta: float,
    smooth: float,
    empty: str,
    tolerance: float,
    percentile: float,
    spacing: str | None,
    inf_distance: str | None,
    dataset_json: Path | None = None,
) -> Any:
    """The shared options of ``score`` and ``batch``, as the one settings builder reads them."""
    from segeval.settings import build_settings

    return build_settings(
        labels=labels, label_names=label_names, regions=region, ignore_label=ignore_label,
        include_background=include_background, metrics=metrics, alpha=alpha, beta=beta, smooth=smooth,
        empty=empty, tolerance_mm=tolerance, percentile=percentile, spacing_mm=spacing,
        inf_distance=inf_distance, dataset_json=dataset_json,
    )


def output_format(fmt: str | None, output: Path | None) -> str:
    """Resolve ``--format`` and ``-o`` into one of FORMATS."""
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise OptionError(f"--format: expected one of {', '.join(FORMATS)}; got {fmt!r}")
        if fmt == "table" and output is not None:
            raise OptionError("--format table cannot be written to a file; use csv, json, jsonl or md with -o")
        return fmt
    if output is None:
        return "table"
    from segeval.report.writers import format_of_output

    return format_of_output(output)


def stdout_console() -> Any:
    """A rich Console on stdout; colour follows the terminal and NO_COLOR.

    When the reader of stdout goes away (``segeval score ... | head``), rich
    exits 1 by itself, which means "a gate failed"; this console raises
    ``BrokenPipeError`` instead, for the application's quiet exit 141.
    """
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError(32, "Broken pipe")

    return _Console(file=sys.stdout, no_color=bool(os.environ.get("NO_COLOR")) or None, soft_wrap=False)


def stderr_console() -> Any:
    """A rich Console on stderr for messages and progress."""
    from rich.console import Console

    return Console(file=sys.stderr, no_color=bool(os.environ.get("NO_COLOR")) or None, soft_wrap=True)


def warn(message: str, *, quiet: bool = False) -> None:
    """One warning line on stderr."""
    if not quiet:
        sys.stderr.write(f"segeval: warning: {' '.join(message.split())}\n")
