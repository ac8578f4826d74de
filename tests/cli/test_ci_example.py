"""The ready-to-copy CI examples, run as written on the bundled sample data.

The ``segeval`` lines of ``examples/ci/github-actions.yml`` and
``examples/ci/gitlab-ci.yml`` are read from the files (not retyped here), the
example's ``segeval.toml`` is put where the job would have it, and the lines
run with the sample data in place of the job's ``predictions/`` and
``data/labelsTs/``: a new user who copies the example gets a passing gate.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segeval.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "ci"
runner = CliRunner()


def _segeval_lines(path: Path) -> list[str]:
    """The shell lines of a CI file that run segeval, in order."""
    out = []
    for line in path.read_text().splitlines():
        m = re.match(r"\s*(?:-\s+|run:\s+)(segeval\s.*)$", line)
        if m:
            out.append(m.group(1).strip())
    return out


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_ci_example_passes_on_the_sample_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  name: str) -> None:
    lines = _segeval_lines(EXAMPLES / name)
    assert [line.split()[1] for line in lines] == ["batch", "gate"], lines
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    shutil.copytree(ROOT / "sample_data" / "pred", tmp_path / "predictions")
    shutil.copytree(ROOT / "sample_data" / "gt", tmp_path / "data" / "labelsTs")
    shutil.copy(EXAMPLES / "segeval.toml", tmp_path / "segeval.toml")
    for line in lines:
        allowed = {0}
        if line.endswith("|| [ $? -eq 3 ]"):
            line, allowed = line.removesuffix("|| [ $? -eq 3 ]").strip(), {0, 3}
        r = runner.invoke(app, shlex.split(line)[1:])
        assert r.exit_code in allowed, (line, r.output)
        if line.split()[1] == "batch":
            # The first run is the accepted model: its report is the baseline the bars compare with.
            (tmp_path / "baseline").mkdir(exist_ok=True)
            shutil.copy(tmp_path / "results.json", tmp_path / "baseline" / "results.json")
            assert "scoring hd95, nsd too: the gate's bars in" in r.stderr
    assert (tmp_path / "segeval-gate.xml").exists()
    assert "gate passed: 8 of 8 checks" in r.stdout


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_ci_example_installs_segeval_from_its_repository(name: str) -> None:
    """`pip install segeval` from PyPI installs an unrelated text-segmentation package of that name."""
    text = (EXAMPLES / name).read_text()
    assert "pip install segeval" not in text
    pin = re.search(r'SEGEVAL_PIP: "segeval @ git\+https://[^"@]+@v[\d.]+"', text)
    assert pin is not None and 'pip install "$SEGEVAL_PIP"' in text


def test_the_readme_example_config_is_the_file(tmp_path: Path) -> None:
    """The segeval.toml shown in examples/ci/README.md is the one the test runs."""
    readme = (EXAMPLES / "README.md").read_text()
    block = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    assert block == (EXAMPLES / "segeval.toml").read_text()


def test_batch_warns_when_explicit_metrics_leave_out_what_the_bars_need(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(EXAMPLES / "segeval.toml", tmp_path / "segeval.toml")
    args = ["batch", str(ROOT / "sample_data" / "pred"), str(ROOT / "sample_data" / "gt"), "-o", "r.json"]
    r = runner.invoke(app, [*args, "--metrics", "dice"])
    assert r.exit_code == 0, r.output
    assert "--metrics leaves out hd95, nsd, which the gate's bars in" in r.stderr
    r = runner.invoke(app, [*args, "--no-config", "-q"])
    assert r.exit_code == 0 and "hd95" not in Path("r.json").read_text()
    (tmp_path / "segeval.toml").write_text("[gate]\nmin = 3\n")
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and "segeval.toml" in r.stderr and "not added" in r.stderr
