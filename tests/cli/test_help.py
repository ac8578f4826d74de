"""``--help`` reads as a well-kept Click/Typer CLI, and docs/cli.md is what it prints."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segeval.cli import app
from segeval.cli._common import METRIC_NAMES

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _reference_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("make_cli_reference", ROOT / "docs" / "make_cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_cli_md_is_the_help_the_commands_print() -> None:
    expected = _reference_module().reference()
    assert (ROOT / "docs" / "cli.md").read_text() == expected, "run: python docs/make_cli_reference.py"


@pytest.mark.parametrize("name", _reference_module().COMMANDS)
def test_help_uses_upper_case_metavars_and_shows_choices(name: str) -> None:
    text = _reference_module().help_text(name)
    assert not re.search(r"<(str|int|float|path)>|\{\w+\}", text), text
    usage = text.splitlines()[0]
    assert usage.startswith(f"Usage: segeval {name} [OPTIONS]")
    assert all(w.isupper() or w.startswith("[") for w in usage.split()[4:]), usage
    for line in text.split("  Example:")[0].splitlines():
        m = re.match(r"\s+(?:-\w, )?(--[\w-]+) ([^\s]+)", line)
        if m and not m.group(2).startswith("/"):
            metavar = m.group(2)
            assert metavar.startswith("[") or metavar.upper() == metavar, line


def test_choices_are_listed() -> None:
    score = _reference_module().help_text("score")
    for choice in ("--empty [nan|one|zero]", "--format [table|csv|json|jsonl|md|tsv]", "--device [cpu|gpu|auto]"):
        assert choice in score
    assert "--missing [error|zero|skip]" in _reference_module().help_text("batch")


def test_options_are_grouped_in_panels() -> None:
    text = _reference_module().help_text("batch")
    panels = [line[:-1] for line in text.splitlines() if re.fullmatch(r"[A-Z][a-z ]+:", line)]
    assert panels == ["Arguments", "Cases", "Labels", "Metrics", "Geometry", "Output", "Run", "Gate", "Other options"]


def test_the_command_list_has_whole_short_sentences() -> None:
    text = _reference_module().help_text()
    commands = text.split("Commands:")[1].strip().splitlines()
    assert [c.split()[0] for c in commands] == ["score", "batch", "check", "gate", "info", "metrics", "rank",
                                                "report"]
    for line in commands:
        assert line.rstrip().endswith(".") and not line.rstrip().endswith("..."), line


def test_metrics_help_lists_the_registrys_metrics() -> None:
    from segeval.metrics.registry import METRICS

    assert METRIC_NAMES == tuple(m for m, s in METRICS.items() if s.kind in ("overlap", "surface"))
    assert all(m in _reference_module().help_text("score").replace("\n", " ") for m in ("hd95_pooled", "masd"))


def test_metrics_command_names_each_metric_as_the_peers_do() -> None:
    import json

    r = runner.invoke(app, ["metrics", "--format", "json"])
    assert r.exit_code == 0
    rows = {row["metric"]: row for row in json.loads(r.stdout)}
    assert set(METRIC_NAMES) <= set(rows)
    assert ["MedPy", "dc"] in rows["dice"]["peers"] and ["Metrics Reloaded", "hd_perc"] in rows["hd95"]["peers"]
    assert ["MedPy", "hd95"] in rows["hd95_pooled"]["peers"]  # MedPy's hd95 is the pooled one
    assert rows["hd95"]["unit"] == "mm" and rows["hd95"]["better"] == "lower"
    table = runner.invoke(app, ["metrics"]).stdout
    assert "volume_similarity" in table and "nnU-Net: Dice" in table
    md = runner.invoke(app, ["metrics", "-f", "md"]).stdout
    assert md.startswith("| metric | unit | better | definition | elsewhere |")


def test_python_dash_m_segeval_and_shell_completion() -> None:
    out = subprocess.run([sys.executable, "-m", "segeval", "--help"], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and out.stdout.startswith("Usage: segeval [OPTIONS] COMMAND")
    r = runner.invoke(app, ["--show-completion", "bash"])
    assert r.exit_code == 0 and "_SEGEVAL_COMPLETE" in r.stdout


@pytest.mark.parametrize(("value", "ok"), [("auto", True), ("-1", True), ("1", True), ("0", False),
                                           ("-2", False), ("many", False)])
def test_jobs_auto_and_minus_one_mean_every_core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str,
                                                 ok: bool) -> None:
    from tests.batching._data import make_clean

    monkeypatch.chdir(tmp_path)
    make_clean(tmp_path, 2)
    r = runner.invoke(app, ["batch", "pred", "gt", "-q", "--jobs", value])
    if ok:
        assert r.exit_code == 0, r.output
    else:
        assert r.exit_code == 2 and r.stderr.startswith("segeval: error: --jobs:"), r.output
