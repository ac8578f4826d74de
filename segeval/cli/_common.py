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

# Help panels, in the order they are listed.
CASES = "Cases"
LABELS = "Labels"
METRICS_PANEL = "Metrics"
GEOMETRY = "Geometry"
OUTPUT = "Output"
RUN = "Run"
GATE = "Gate"

#: Every metric --metrics takes, as the help lists them (tests/cli/test_help.py holds it to the registry;
#: written out so that --help does not import the metric core).
METRIC_NAMES = ("dice", "iou", "tversky", "precision", "recall", "specificity", "volume_similarity", "hd", "hd95",
                "hd95_pooled", "assd", "masd", "nsd")
METRICS_HELP = (f"Comma-separated, from: {', '.join(METRIC_NAMES)}; or all, or surface (the distances). "
                "Default: the overlap set. `segeval metrics` describes them.")

# Typer options as reusable annotations: one definition, identical in every command.
LabelsOpt = Annotated[str | None, typer.Option(
    "--labels", metavar="LABELS", rich_help_panel=LABELS,
    help="Labels to score: 1,2,3 or liver=1,spleen=2. Default: every label > 0 present.")]
LabelNamesOpt = Annotated[Path | None, typer.Option(
    "--label-names", metavar="FILE", rich_help_panel=LABELS,
    help="JSON/CSV map label -> name, or an nnU-Net dataset.json.")]
RegionOpt = Annotated[list[str] | None, typer.Option(
    "--region", metavar="NAME=L1,L2", rich_help_panel=LABELS,
    help="Score a union of labels as one class, e.g. WT=1,2,3. Repeatable.")]
IgnoreOpt = Annotated[int | None, typer.Option(
    "--ignore-label", metavar="LABEL", rich_help_panel=LABELS,
    help="GT voxels with this value are excluded from every count.")]
BackgroundOpt = Annotated[bool, typer.Option(
    "--include-background", rich_help_panel=LABELS, help="Also score label 0.")]
MetricsOpt = Annotated[str | None, typer.Option(
    "--metrics", metavar="M1,M2", rich_help_panel=METRICS_PANEL, help=METRICS_HELP)]
AlphaOpt = Annotated[float, typer.Option(
    "--alpha", metavar="A", rich_help_panel=METRICS_PANEL, help="Tversky weight of false positives.")]
BetaOpt = Annotated[float, typer.Option(
    "--beta", metavar="B", rich_help_panel=METRICS_PANEL, help="Tversky weight of false negatives.")]
SmoothOpt = Annotated[float, typer.Option(
    "--smooth", metavar="S", rich_help_panel=METRICS_PANEL, help="Additive smoothing of Dice, IoU and Tversky.")]
EmptyOpt = Annotated[str, typer.Option(
    "--empty", metavar="[nan|one|zero]", rich_help_panel=METRICS_PANEL,
    help="Score of a class absent from both volumes; nan is left out of means.")]
ToleranceOpt = Annotated[float, typer.Option(
    "--tolerance", metavar="MM", rich_help_panel=METRICS_PANEL, help="NSD tolerance in mm.")]
PercentileOpt = Annotated[float, typer.Option(
    "--percentile", metavar="P", rich_help_panel=METRICS_PANEL, help="Percentile of hd95 and hd95_pooled.")]
SpacingOpt = Annotated[str | None, typer.Option(
    "--spacing", metavar="X,Y,Z", rich_help_panel=GEOMETRY,
    help="Voxel spacing in mm: for .npy/.npz inputs, which carry none, or replacing a header's.")]
SurfaceWeightsOpt = Annotated[str, typer.Option(
    "--surface-weights", metavar="[voxels|area]", rich_help_panel=METRICS_PANEL,
    help="Distances between boundary voxels counted alike, or DeepMind's surface elements weighted by area.")]
InfOpt = Annotated[str | None, typer.Option(
    "--inf-distance", metavar="[diagonal|MM]", rich_help_panel=METRICS_PANEL,
    help="Replace infinite distances (one mask empty) by the volume's diagonal or a value in mm.")]
ResampleOpt = Annotated[bool, typer.Option(
    "--resample-pred", rich_help_panel=GEOMETRY,
    help="Resample the prediction onto the GT grid (nearest neighbour) instead of refusing.")]
FormatOpt = Annotated[str | None, typer.Option(
    "--format", "-f", metavar="[table|csv|json|jsonl|md|tsv]", rich_help_panel=OUTPUT,
    help="Default: from -o's extension, else table. tsv: tab-separated, one row per label (per case and label for batch).")]
OutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", metavar="FILE", rich_help_panel=OUTPUT,
    help="Write the report here (format from the extension), whole or not at all.")]
DeviceOpt = Annotated[str, typer.Option(
    "--device", metavar="[cpu|gpu|auto]", rich_help_panel=RUN, help="Where to compute; gpu needs CuPy.")]
FailUnderOpt = Annotated[list[str] | None, typer.Option(
    "--fail-under", metavar="METRIC[:LABEL]=V", rich_help_panel=GATE,
    help="Exit 1 when the mean is under V (an inline gate). Repeatable.")]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", metavar="FILE", rich_help_panel=GATE,
    help="Gate checks from segeval.toml or pyproject.toml [tool.segeval.gate].")]
OutsideOpt = Annotated[bool, typer.Option(
    "--allow-outside-data-files", rich_help_panel=GEOMETRY,
    help="Read the data files a .mhd/.nhdr header names even outside its folder.")]
PredSuffixOpt = Annotated[str | None, typer.Option(
    "--pred-suffix", metavar="SUFFIX", rich_help_panel=CASES, help="Remove this from the end of prediction names before pairing, e.g. _seg "
    "(case_001_seg.nii.gz pairs with case_001.nii.gz).")]
RecursiveOpt = Annotated[bool, typer.Option(
    "--recursive", rich_help_panel=CASES, help="Also take the files in sub-folders of PRED_DIR and GT_DIR; case ids still come "
    "from file names.")]
CaseRegexOpt = Annotated[str | None, typer.Option(
    "--case-regex", metavar="REGEX", rich_help_panel=CASES, help="Python regex searched in each file name; its group (or its group named case) is "
    "the case id, e.g. 'pred_(\\d+)'. Files it does not match pair by name.")]
#: ``--lesions`` choices, as the help lists them (tests/lesions holds it to segeval.lesions.PROTOCOLS).
LESION_PROTOCOLS = ("brats2023", "brats2023-men", "brats2023-met", "brats2024", "panoptica", "iou")
LesionsOpt = Annotated[str | None, typer.Option(
    "--lesions", metavar="[" + "|".join(LESION_PROTOCOLS) + "]", rich_help_panel=METRICS_PANEL,
    help="Lesion-wise metrics by a named protocol: lesion_dice, lesion_hd95, lesion_tp/fp/fn, recall, precision, "
    "F1, SQ, PQ per label.")]
LesionConnectivityOpt = Annotated[int | None, typer.Option(
    "--lesion-connectivity", metavar="[6|18|26]", rich_help_panel=METRICS_PANEL,
    help="Connectivity of lesion components (default 26).")]
LesionDilationOpt = Annotated[int | None, typer.Option(
    "--lesion-dilation", metavar="N", rich_help_panel=METRICS_PANEL,
    help="brats protocols: dilation iterations merging nearby lesions (replaces the protocol's).")]
LesionMinVolumeOpt = Annotated[float | None, typer.Option(
    "--lesion-min-volume", metavar="MM3", rich_help_panel=METRICS_PANEL,
    help="brats protocols: GT lesions of at most this volume are left out (replaces the protocol's).")]
LesionPenaltyOpt = Annotated[float | None, typer.Option(
    "--lesion-penalty-mm", metavar="X", rich_help_panel=METRICS_PANEL,
    help="HD95 of a missed lesion or a false positive (brats2023: 374, brats2024: 337).")]
LesionIouOpt = Annotated[float | None, typer.Option(
    "--lesion-iou", metavar="T", rich_help_panel=METRICS_PANEL, help="--lesions iou: match pairs with IoU > T (default 0.5).")]
LesionRecordsOpt = Annotated[Path | None, typer.Option(
    "--lesion-records", metavar="FILE", rich_help_panel=OUTPUT,
    help="Write a CSV with one row per GT lesion and per false-positive component.")]
LesionMapsOpt = Annotated[Path | None, typer.Option(
    "--lesion-maps", metavar="DIR", rich_help_panel=OUTPUT,
    help="Write per case and label a map on the GT grid: 1 found, 2 missed, 3 false positive.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr; no table.")]

FORMATS = ("table", "csv", "json", "jsonl", "md", "tsv")


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
    lesions: Any = None,
    surface_weights: str = "voxels",
) -> Any:
    """The shared options of ``score`` and ``batch``, as the one settings builder reads them."""
    from segeval.settings import build_settings

    return build_settings(
        labels=labels, label_names=label_names, regions=region, ignore_label=ignore_label,
        include_background=include_background, metrics=metrics, alpha=alpha, beta=beta, smooth=smooth,
        empty=empty, tolerance_mm=tolerance, percentile=percentile, spacing_mm=spacing,
        inf_distance=inf_distance, dataset_json=dataset_json, lesions=lesions, surface_weights=surface_weights,
    )


def lesion_options(
    protocol: str | None, *, connectivity: int | None, dilation: int | None, min_volume: float | None,
    penalty_mm: float | None, iou: float | None, records: Path | None, maps: Path | None,
) -> Any:
    """``--lesions`` and its options -> ``LesionSettings`` (None without ``--lesions``); checks the outputs first.

    ``--lesion-records`` must be writable and ``--lesion-maps`` a folder (made if missing), before any case.
    """
    from segeval.lesions import parse_lesions

    if protocol is None and records is not None:
        raise OptionError("--lesion-records: needs --lesions PROTOCOL")
    settings = parse_lesions(protocol, connectivity=connectivity, dilation=dilation, min_volume_mm3=min_volume,
                             penalty_mm=penalty_mm, iou_threshold=iou, maps_dir=str(maps) if maps else None)
    if records is not None:
        from segeval.report.writers import check_writable

        check_writable(records, "--lesion-records")
    if maps is not None:
        if maps.exists() and not maps.is_dir():
            raise OptionError(f"--lesion-maps {maps}: not a folder")
        try:
            maps.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OptionError(f"--lesion-maps {maps}: cannot make the folder ({exc.strerror or exc})") from None
    return settings


def write_lesion_records(path: Path | None, results: Any, quiet: bool) -> None:
    """``--lesion-records``: the records of every scored case, in case order, written atomically."""
    if path is None:
        return
    from segeval.cli._feedback import wrote
    from segeval.lesions.outputs import records_csv
    from segeval.report.writers import write_atomic

    rows = [r for c in results for r in c.lesion_records]
    write_atomic(path, records_csv(rows), option="--lesion-records")
    wrote(path, f"{len(rows)} lesion rows", quiet=quiet)
    # Cases kept from an earlier run (--resume) come back from the report, which holds no per-lesion rows.
    kept = [c.case for c in results if c.error is None and not c.lesion_records
            and any(float(r.get(k) or 0) > 0 for r in c.labels for k in ("lesion_tp", "lesion_fn", "lesion_fp"))]
    if kept:
        warn(f"--lesion-records {path}: no rows for {len(kept)} case(s) kept from the earlier run "
             f"({', '.join(kept[:3])}{', ...' if len(kept) > 3 else ''}); run without --resume for them", quiet=quiet)


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


#: The width of stdout when it is a file or a pipe: wide enough for any table, which is laid out
#: at its content's width (never wrapped nor cropped to a guessed 80 columns).
PIPE_WIDTH = 100_000


def stdout_console() -> Any:
    """A rich Console on stdout; colour follows the terminal and NO_COLOR.

    When stdout is not a terminal (a file, a pipe), the console is
    :data:`PIPE_WIDTH` wide, so that tables come out whole, as wide as their
    content; :func:`table_width` then gives None, which the table builders read as "no limit".

    When the reader of stdout goes away (``segeval score ... | head``), rich
    exits 1 by itself, which means "a gate failed"; this console raises
    ``BrokenPipeError`` instead, for the application's quiet exit 141.
    """
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError(32, "Broken pipe")

    console = _Console(file=sys.stdout, no_color=bool(os.environ.get("NO_COLOR")) or None, soft_wrap=False)
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    return console


def table_width(console: Any) -> int | None:
    """The width tables must fit: the terminal's, or None when stdout is not a terminal."""
    return int(console.width) if console.is_terminal else None


def stderr_console() -> Any:
    """A rich Console on stderr for messages and progress."""
    from rich.console import Console

    return Console(file=sys.stderr, no_color=bool(os.environ.get("NO_COLOR")) or None, soft_wrap=True)


def named_paths(args: list[str]) -> dict[str, Path]:
    """``NAME=PATH`` or ``PATH`` arguments (``report``, ``rank``) -> name to path, in order.

    A path that exists is a path even with a ``=`` in it; a bare path is named
    by its file name, and a name given twice gets its position (``results.json (2)``).
    """
    named: dict[str, Path] = {}
    for i, arg in enumerate(args):
        name, sep, path = arg.partition("=")
        if not sep or not name or Path(arg).exists():
            name, path = Path(arg).name, arg
        if name in named:
            name = f"{name} ({i + 1})"
        named[name] = Path(path)
    return named


def warn(message: str, *, quiet: bool = False) -> None:
    """One warning line on stderr."""
    if not quiet:
        sys.stderr.write(f"segeval: warning: {' '.join(message.split())}\n")
