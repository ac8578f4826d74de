"""CSV, JSON, JSON Lines and Markdown renderings of a report, and atomic file writes.

CSV is tidy (one row per case and label; NaN as an empty cell, infinity as
``inf``); JSON is strict RFC 8259 (NaN -> null, inf -> "inf"). JSON Lines
holds the same values as JSON, one record a line: the settings, then one case
a line, then the summary, so that a batch can append cases as they finish.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import json
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from segeval._version import __version__
from segeval.errors import OptionError, OutputError
from segeval.records import REPORT_FORMAT, jsonable
from segeval.report.numbers import fmt_number
from segeval.summary import Report, macro


def to_csv(report: Report) -> str:
    """Tidy CSV: ``case,label,name,<metrics>,tp,fp,fn,tn,vol_pred_ml,vol_gt_ml,error``."""
    buf = io.StringIO()
    cols = report.columns()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["case", "label", "name", *cols, "error"])
    for case in report.cases:
        if case.error is not None:
            writer.writerow([case.case, "", "", *[""] * len(cols), case.error])
            continue
        for r in case.labels:
            writer.writerow(
                [case.case, r["label"], r.get("name") or "",
                 *[fmt_number(r.get(c), digits=None) for c in cols], ""]
            )
    return buf.getvalue()


def to_json(report: Report) -> str:
    """Strict JSON of :meth:`Report.to_dict`, indented."""
    return json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n"


def jsonl_line(obj: Any) -> str:
    """One JSON Lines record: strict compact JSON of ``obj`` and a newline."""
    return json.dumps(jsonable(obj), allow_nan=False, separators=(",", ":")) + "\n"


def jsonl_header(settings: dict[str, Any]) -> str:
    """The first line of a JSON Lines report: the version, the report format and the settings."""
    return jsonl_line({"segeval_version": __version__, "report_format": REPORT_FORMAT, "settings": settings})


def to_jsonl(report: Report) -> str:
    """JSON Lines: the header line, one line per case (as in JSON's ``cases``), then ``{"summary": ...}``."""
    lines = [jsonl_header(report.settings)]
    lines += [jsonl_line(c.to_dict()) for c in report.cases]
    lines.append(jsonl_line({"summary": report.summary()}))
    return "".join(lines)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_markdown(report: Report) -> str:
    """Markdown: one table per case (label rows plus a macro row), then the summary when several cases."""
    metrics = report.metrics
    out: list[str] = []
    for case in report.cases:
        out.append(f"### {case.case}\n")
        if case.error is not None:
            out.append(f"Failed: {case.error}\n")
            continue
        rows = [
            [str(r["label"]), r.get("name") or "", *[fmt_number(r.get(m)) for m in metrics],
             fmt_number(r["vol_gt_ml"], 2), fmt_number(r["vol_pred_ml"], 2)]
            for r in case.labels
        ]
        rows.append(["**macro**", "", *[f"**{fmt_number(macro(case.labels, m))}**" for m in metrics], "", ""])
        out.append(_md_table(["label", "name", *metrics, "vol_gt_ml", "vol_pred_ml"], rows))
    if len(report.cases) > 1:
        out.append(summary_markdown(report.summary(), metrics))
    return "\n".join(out)


def summary_markdown(summary: dict[str, Any], metrics: Sequence[str]) -> str:
    """The per-label summary (mean ± std, median, min, max, n, n_nan) as Markdown."""
    rows = []
    for e in summary["per_label"]:
        for m in metrics:
            s = e[m]
            rows.append([str(e["label"]), e.get("name") or "", m, fmt_number(s["mean"]), fmt_number(s["std"]),
                         fmt_number(s["median"]), fmt_number(s["min"]), fmt_number(s["max"]),
                         str(s["n"]), str(s["n_nan"])])
    return "### summary\n\n" + _md_table(
        ["label", "name", "metric", "mean", "std", "median", "min", "max", "n", "n_nan"], rows
    )


def render(report: Report, fmt: str) -> str:
    """The report as text in ``fmt`` (csv, json, jsonl or md)."""
    if fmt == "csv":
        return to_csv(report)
    if fmt == "json":
        return to_json(report)
    if fmt == "jsonl":
        return to_jsonl(report)
    if fmt == "md":
        return to_markdown(report)
    raise ValueError(f"unknown format {fmt!r}")


_SUMMARY_COLUMNS = ("label", "name", "metric", "mean", "std", "median", "min", "max", "n", "n_nan")
#: ``--summary`` formats by file extension.
SUMMARY_FORMATS = {".csv": "csv", ".json": "json", ".md": "md", ".markdown": "md"}


def render_summary(report: Report, fmt: str) -> str:
    """The per-label statistics of a batch (``--summary``) as ``csv``, ``json`` or ``md``.

    CSV: one row per (label, metric) with mean, std, median, min, max, n,
    n_nan, then a ``generalized_dice`` row (label empty) over cases. JSON: the
    report's ``summary`` block with the version and settings. Markdown: the
    per-label table plus the generalized Dice line.
    """
    summary = report.summary()
    metrics = report.metrics
    gd = summary["generalized_dice"]
    if fmt == "json":
        return json.dumps(
            jsonable({"segeval_version": __version__, "settings": report.settings, "summary": summary}),
            indent=2, allow_nan=False,
        ) + "\n"
    if fmt == "md":
        stats = ", ".join(f"{k} {fmt_number(gd[k])}" for k in ("mean", "std", "median", "min", "max"))
        return (
            summary_markdown(summary, metrics)
            + f"\nGeneralized Dice per case: {stats} (n {gd['n']}, n_nan {gd['n_nan']}); "
            + f"{summary['n_cases']} cases, {summary['n_failed']} failed.\n"
        )
    if fmt != "csv":
        raise ValueError(f"unknown summary format {fmt!r}")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(_SUMMARY_COLUMNS)
    stat_keys = _SUMMARY_COLUMNS[3:]
    for entry in summary["per_label"]:
        for m in metrics:
            s = entry[m]
            writer.writerow([entry["label"], entry.get("name") or "", m,
                             *[fmt_number(s[k], digits=None) for k in stat_keys]])
    writer.writerow(["", "", "generalized_dice", *[fmt_number(gd[k], digits=None) for k in stat_keys]])
    return buf.getvalue()


#: Output file extensions and the format each means.
OUTPUT_EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".md": "md",
                     ".markdown": "md"}


def format_of_output(path: str | os.PathLike[str], option: str = "-o") -> str:
    """The report format an output's extension means (``results.csv`` -> ``"csv"``).

    Raises
    ------
    OptionError
        The extension is not one of :data:`OUTPUT_EXTENSIONS`.

    Examples
    --------
    >>> format_of_output("out/results.jsonl"), format_of_output("summary.MD")
    ('jsonl', 'md')
    """
    ext = Path(path).suffix.lower()
    if ext not in OUTPUT_EXTENSIONS:
        raise OptionError(
            f"{option} {path}: cannot tell the format from {ext or 'no extension'!r}; use .csv, .json, .jsonl or "
            ".md or give --format"
        )
    return OUTPUT_EXTENSIONS[ext]


def _special(p: Path) -> str | None:
    """``"stream"`` for a FIFO or character device (written straight into), ``"refused"`` for another
    non-regular file, None for a regular file or a path that does not exist yet."""
    try:
        mode = p.stat().st_mode  # follows a symlink to what it points at
    except FileNotFoundError:
        return None
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return "stream"
    return "refused"


def _target(p: Path) -> Path:
    """Where writing ``p`` lands: through a symlink, its target (which may not exist yet)."""
    return Path(os.path.realpath(p)) if p.is_symlink() else p


def is_stream(path: str | Path) -> bool:
    """True when ``path`` is a FIFO or a character device (``/dev/stdout``): written straight
    into, never replaced, and never given a journal or temporary file beside it."""
    return _special(_target(Path(path))) == "stream"


def check_writable(path: str | Path, option: str = "-o") -> Path:
    """Fail early, naming ``option`` and ``path``, when ``path`` cannot be written; return its folder.

    A FIFO or a character device (``-o /dev/stdout``) is written into; a
    symlink is written through, to its target; any other file that is not a
    regular file is refused, never replaced.

    Raises
    ------
    OutputError
        The folder is missing or not writable, or ``path`` is a directory or
        another kind of special file.
    """
    p = Path(path)
    target = _target(p)
    kind = _special(target)
    if target.is_dir():
        raise OutputError(f"{option} {p}: is a directory; give a file name")
    if kind == "refused":
        raise OutputError(f"{option} {p}: is not a regular file (a socket or block device?); give a file name")
    folder = target.parent if str(target.parent) else Path(".")
    if kind == "stream":
        return folder
    if not folder.is_dir():
        raise OutputError(f"{option} {p}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{option} {p}: folder {folder} is not writable")
    return folder


_TMP_SUFFIX = ".tmp"


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}."


def remove_leftovers(path: str | Path) -> list[Path]:
    """Remove the temporary files a killed write of ``path`` left beside it (``.NAME.XXXX.tmp``)."""
    target = _target(Path(path))
    folder = target.parent if str(target.parent) else Path(".")
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    prefix = _temporary_prefix(target)
    for leftover in folder.glob(f"{glob.escape(prefix)}*{_TMP_SUFFIX}"):
        middle = leftover.name[len(prefix):-len(_TMP_SUFFIX)]
        if leftover.is_file() and not leftover.is_symlink() and middle and "." not in middle:
            with contextlib.suppress(OSError):
                leftover.unlink()
                removed.append(leftover)
    return removed


def _new_file_mode(target: Path) -> int:
    """The mode the output gets: an existing file keeps its own; a new one follows the umask."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def write_atomic(path: str | Path, text: str, *, option: str = "-o") -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file beside it, then a rename).

    A symlink is written through (its target is replaced, the link kept); a
    FIFO or a character device is written straight into; nothing that is not
    a regular file is ever renamed over. A new file's mode follows the umask,
    a replaced file keeps its own. Temporary files that a killed earlier
    write of the same path left are removed once this one is in place.

    Parameters
    ----------
    path : path
        The file to write.
    text : str
        Its whole content.
    option : str
        What the user gave the path as (``-o``, ``--summary``, ...): errors start with it.

    Raises
    ------
    OutputError
        Naming the option and the path when it cannot be written (missing or
        read-only folder, a directory, a full disk).
    """
    p = Path(path)
    folder = check_writable(p, option)
    target = _target(p)
    try:
        if _special(target) == "stream":
            with open(target, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            return
        fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(target), suffix=_TMP_SUFFIX, dir=folder)
    except OSError as exc:
        raise OutputError(f"{option} {p}: cannot write ({exc.strerror or exc})") from None
    try:
        os.fchmod(fd, _new_file_mode(target))
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"{option} {p}: cannot write ({exc.strerror or exc})") from None
    remove_leftovers(target)
