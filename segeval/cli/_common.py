"""Options shared by ``score`` and ``batch``, and their translation into ScoreSettings."""

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
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr; no table.")]

FORMATS = ("table", "csv", "json", "jsonl", "md")
_EXT = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".md": "md", ".markdown": "md"}


def parse_spacing(text: str | None) -> tuple[float, ...] | None:
    """``"0.8,0.8,2.5"`` -> (0.8, 0.8, 2.5)."""
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise OptionError(f"--spacing: {text!r} is not a list of numbers like 0.8,0.8,2.5") from None
    if not values or any(not v > 0 for v in values):
        raise OptionError(f"--spacing: {text!r}: give positive mm values like 0.8,0.8,2.5")
    return values


def parse_inf(text: str | None) -> str | float | None:
    """``--inf-distance``: 'diagonal' or a number."""
    if text is None or text == "diagonal":
        return text
    try:
        value = float(text)
    except ValueError:
        raise OptionError(f"--inf-distance: 'diagonal' or a number of mm, got {text!r}") from None
    if value < 0:
        raise OptionError(f"--inf-distance: must be >= 0, got {text!r}")
    return value


def build_settings(
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
    extra_names: dict[int, str] | None = None,
    extra_regions: tuple[tuple[str, tuple[int, ...]], ...] = (),
) -> Any:
    """ScoreSettings from the shared options (errors name the option)."""
    from segeval.labels import LabelSpec, parse_labels, parse_region, read_label_names
    from segeval.metrics.registry import parse_metrics
    from segeval.scoring import ScoreSettings

    names: dict[int, str] = dict(extra_names or {})
    regions = list(extra_regions)
    if label_names is not None:
        file_names, file_regions = read_label_names(label_names)
        names.update(file_names)
        regions.extend(file_regions)
    label_tuple = None
    if labels is not None:
        label_tuple, given = parse_labels(labels)
        names.update(given)
    for r in region or []:
        regions.append(parse_region(r))
    seen: dict[str, tuple[int, ...]] = {}
    for name, members in regions:
        seen[name] = members  # a region given on the command line overrides the file's
    spec = LabelSpec(
        labels=label_tuple,
        names=names,
        regions=tuple(seen.items()),
        ignore_label=ignore_label,
        include_background=include_background,
    )
    return ScoreSettings(
        spec=spec,
        metrics=parse_metrics(metrics),
        alpha=alpha,
        beta=beta,
        smooth=smooth,
        empty=empty,
        tolerance_mm=tolerance,
        percentile=percentile,
        spacing_mm=parse_spacing(spacing),
        inf_distance=parse_inf(inf_distance),
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
    ext = output.suffix.lower()
    if ext not in _EXT:
        raise OptionError(
            f"-o {output}: cannot tell the format from {ext or 'no extension'!r}; use .csv, .json, .jsonl or .md "
            "or give --format"
        )
    return _EXT[ext]


def check_device(device: str) -> str:
    """Validate ``--device`` and return the backend to use ('cpu' or 'gpu')."""
    from segeval.backends import resolve_device

    return resolve_device(device)


def stdout_console() -> Any:
    """A rich Console on stdout; colour follows the terminal and NO_COLOR."""
    from rich.console import Console

    return Console(file=sys.stdout, no_color=bool(os.environ.get("NO_COLOR")) or None, soft_wrap=False)


def stderr_console() -> Any:
    """A rich Console on stderr for messages and progress."""
    from rich.console import Console

    return Console(file=sys.stderr, no_color=bool(os.environ.get("NO_COLOR")) or None, soft_wrap=True)


def warn(message: str, *, quiet: bool = False) -> None:
    """One warning line on stderr."""
    if not quiet:
        sys.stderr.write(f"segeval: warning: {' '.join(message.split())}\n")
