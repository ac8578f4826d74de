"""Golden files for what a batch and a gate show and write: the summary table, ``--summary``
(Markdown, CSV), ``--nnunet-summary``, the gate's table, Markdown and JUnit.

Any change to these outputs shows up as a diff of ``tests/golden/``; accept an
intended one with ``pytest --update-golden``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from segeval.cli import app
from segeval.io import write_volume
from tests.cli.conftest import case_arrays, check_golden

_ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}


_golden = check_golden


@pytest.fixture
def batch_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three cases in p/ and g/ (one prediction shifted further, one missing a class), scored into results.json."""
    monkeypatch.chdir(tmp_path)
    pred, gt = case_arrays()
    worse = np.roll(pred, 2, axis=0)
    missed = pred.copy()
    missed[missed == 2] = 0
    for folder in ("p", "g"):
        Path(folder).mkdir()
    for case, p in (("case_a", pred), ("case_b", worse), ("case_c", missed)):
        write_volume(Path("p") / f"{case}.nii.gz", p, spacing_mm=(0.8, 0.8, 2.0))
        write_volume(Path("g") / f"{case}.nii.gz", gt, spacing_mm=(0.8, 0.8, 2.0))
    Path("g/dataset.json").write_text('{"labels": {"background": 0, "liver": 1, "spleen": 2}}')
    return tmp_path


def _batch(*args: str) -> str:
    result = CliRunner(env=_ENV).invoke(app, ["batch", "p", "g", "--jobs", "1", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_golden_batch_summary_table(batch_run: Path, update_golden: bool) -> None:
    _golden("batch_table.txt", _batch("--metrics", "dice,iou,hd95"), update_golden)


@pytest.mark.parametrize("fmt", ["md", "csv", "json"])
def test_golden_batch_summary_file(batch_run: Path, fmt: str, update_golden: bool) -> None:
    _batch("-q", "--metrics", "dice,iou,hd95", "--summary", f"summary.{fmt}")
    _golden(f"batch_summary.{fmt}", Path(f"summary.{fmt}").read_text(), update_golden)


def test_golden_nnunet_summary(batch_run: Path, update_golden: bool) -> None:
    _batch("-q", "--nnunet-summary", "summary.json")
    _golden("nnunet_summary.json", Path("summary.json").read_text(), update_golden)


def _gate(*args: str, code: int = 1) -> str:
    result = CliRunner(env=_ENV).invoke(app, ["gate", *args, "--no-config"])
    assert result.exit_code == code, result.output
    return result.stdout


GATE_CHECKS = ("--min", "dice=0.7", "--min", "dice:liver=0.9", "--max", "hd95:spleen=3", "--per-case",
               "--junit", "gate.xml")


def test_golden_gate_outputs(batch_run: Path, update_golden: bool) -> None:
    _batch("-q", "--metrics", "dice,hd95", "-o", "results.json")
    _batch("-q", "--metrics", "dice,hd95", "-o", "baseline.json", "--pattern", "case_[ab]*")
    _golden("gate_table.txt", _gate("results.json", *GATE_CHECKS), update_golden)
    _golden("gate_junit.xml", Path("gate.xml").read_text(), update_golden)
    _golden("gate.md", _gate("results.json", *GATE_CHECKS, "--format", "md"), update_golden)
    drop = ("--baseline", "baseline.json", "--max-drop", "dice=0.01", "--max-drop", "hd95:liver=0.5")
    _golden("gate_baseline_table.txt", _gate("results.json", *drop, code=0), update_golden)


# What a terminal of each width shows (rich reads TTY_COMPATIBLE=1 as a terminal), and what a pipe gets.
_WIDTHS = {"60": {"TTY_COMPATIBLE": "1", "COLUMNS": "60"}, "80": {"TTY_COMPATIBLE": "1", "COLUMNS": "80"},
           "200": {"TTY_COMPATIBLE": "1", "COLUMNS": "200"}, "piped": {"COLUMNS": "80"}}


def _at(width: str, *args: str) -> str:
    env = {"NO_COLOR": "1", "TERM": "xterm", "TTY_COMPATIBLE": "0", **_WIDTHS[width]}
    result = CliRunner(env=env).invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)  # a terminal's bold and italic, which NO_COLOR keeps


@pytest.mark.parametrize("width", list(_WIDTHS))
def test_golden_score_all_metrics_at_each_width(batch_run: Path, width: str, update_golden: bool) -> None:
    out = _at(width, "score", "p/case_b.nii.gz", "g/case_b.nii.gz", "--label-names", "g/dataset.json",
              "--metrics", "all", "--tolerance", "2")
    if width != "piped":
        assert max(len(line) for line in out.splitlines()) <= int(width)
    else:  # whole, past COLUMNS=80, with every column
        assert max(len(line) for line in out.splitlines()) > 80 and "NSD@2mm" in out and "Pred ml" in out
    _golden(f"score_all_{width}.txt", out, update_golden)


@pytest.mark.parametrize("width", list(_WIDTHS))
def test_golden_batch_summary_at_each_width(batch_run: Path, width: str, update_golden: bool) -> None:
    out = _at(width, "batch", "p", "g", "--jobs", "1", "--metrics", "all")
    if width != "piped":
        assert max(len(line) for line in out.splitlines()) <= int(width)
    _golden(f"batch_summary_{width}.txt", out, update_golden)


def test_golden_batch_summary_verbose_piped(batch_run: Path, update_golden: bool) -> None:
    _golden("batch_summary_verbose.txt", _at("piped", "batch", "p", "g", "--jobs", "1", "--metrics", "dice,hd95",
                                             "--verbose", "--worst", "2", "--by", "hd95:spleen"), update_golden)


def test_golden_score_tsv(batch_run: Path, update_golden: bool) -> None:
    _golden("score.tsv", _at("piped", "score", "p/case_b.nii.gz", "g/case_b.nii.gz", "--metrics", "dice,hd95",
                             "-f", "tsv"), update_golden)


@pytest.mark.parametrize("width", ["60", "80"])
def test_golden_gate_baseline_table_folds_at_each_width(batch_run: Path, width: str, update_golden: bool) -> None:
    _batch("-q", "--metrics", "dice,hd95", "-o", "results.json")
    _batch("-q", "--metrics", "dice,hd95", "-o", "baseline.json", "--pattern", "case_[ab]*")
    out = _at(width, "gate", "results.json", "--no-config", "--baseline", "baseline.json", "--max-drop", "dice=0.01",
              "--max-drop", "hd95:liver=0.5")
    assert max(len(line) for line in out.splitlines()) <= int(width)
    assert "…" not in out and "95% CI" in out and out.count("Metric") >= 2  # folded, nothing cut
    _golden(f"gate_baseline_{width}.txt", out, update_golden)
