"""The HTML report: self-contained, every case named, overlays where the errors are, model comparison."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from segeval.cli import app
from segeval.errors import MissingDependencyError, OptionError
from segeval.io import write_volume
from segeval.records import CaseResult
from segeval.report import _plots
from segeval.report.html import html_report, write_html_report
from segeval.report.reading import load_report
from segeval.summary import Report

pytest.importorskip("matplotlib")
pytest.importorskip("jinja2")

SHAPE = (12, 10, 6)
FN_RGB = tuple(int(_plots.FN_COLOUR[i:i + 2], 16) for i in (1, 3, 5))
FP_RGB = tuple(int(_plots.FP_COLOUR[i:i + 2], 16) for i in (1, 3, 5))


def case_volumes(i: int) -> tuple[np.ndarray, np.ndarray]:
    """gt: label 1 in [2:10, 2:8, 1:5], label 2 in [0:2, 0:2, 0:2]; pred misses x = 2 + i (false
    negatives across that whole sagittal slice) and adds label 1 at [10:12, 8:10, 5] (false positives)."""
    gt = np.zeros(SHAPE, np.uint8)
    gt[2:10, 2:8, 1:5] = 1
    gt[0:2, 0:2, 0:2] = 2
    pred = gt.copy()
    pred[2 + i, :, :] = 0
    pred[10:12, 8:10, 5] = 1
    return pred, gt


@pytest.fixture
def scored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three good cases and a corrupt prediction, scored by ``segeval batch`` into out.json."""
    monkeypatch.chdir(tmp_path)
    for d in ("pred", "gt"):
        (tmp_path / d).mkdir()
    for i in range(3):
        pred, gt = case_volumes(i)
        write_volume(tmp_path / "pred" / f"case_{i}.nii.gz", pred)
        write_volume(tmp_path / "gt" / f"case_{i}.nii.gz", gt)
    write_volume(tmp_path / "gt" / "broken.nii.gz", case_volumes(0)[1])
    (tmp_path / "pred" / "broken.nii.gz").write_bytes(b"\x1f\x8b\x08\x00not a volume")
    r = CliRunner().invoke(app, ["batch", "pred", "gt", "-o", "out.json", "--jobs", "1", "-q",
                                 "--metrics", "dice,hd95"])
    assert r.exit_code == 3, r.output  # one case failed
    return tmp_path / "out.json"


def external_references(page: str) -> list[str]:
    found = re.findall(r"https?://", page)
    for attr in re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]*)""", page):
        if not attr.startswith(("data:", "#")):
            found.append(attr)
    found += re.findall(r"url\((?!#|data:)[^)]*\)", page)
    return found


def test_the_page_names_no_external_resource_and_every_case(scored: Path) -> None:
    page = html_report(load_report(scored), base_dirs=scored.parent)
    assert external_references(page) == []
    for case in ("case_0", "case_1", "case_2", "broken"):
        assert case in page
    assert "@media print" in page and "<svg" in page and "data:image/png;base64," in page
    assert len(page.encode()) < 5_000_000


def test_failed_cases_are_listed_with_their_error(scored: Path) -> None:
    page = html_report(load_report(scored), overlays=False)
    failed = page.split('<table class="failed">')[1].split("</table>")[0]
    assert "broken" in failed and "pred/broken.nii.gz" in failed
    assert "4 cases: 3 scored, 1 failed" in page


def test_box_plot_points_carry_their_case_id_on_hover(scored: Path) -> None:
    page = html_report(load_report(scored), overlays=False)
    titles = re.findall(r"<circle [^>]*><title>([^<]*)</title>", page)
    assert {t.split(":")[0] for t in titles} == {"case_0", "case_1", "case_2"}
    assert "Cases × labels: dice" in page and '<g class="rows"' in page


def test_the_worst_cases_are_ranked_by_the_metric(scored: Path) -> None:
    page = html_report(load_report(scored), worst=2, overlays=False)
    worst = re.findall(r"<h4>\d\. (\w+): macro dice", page)
    assert len(worst) == 2 and "broken" not in worst
    assert "<h4>1." in html_report(load_report(scored), metric="hd95", worst=1, overlays=False)


def interior(mask: np.ndarray) -> np.ndarray:
    from scipy.ndimage import binary_erosion

    return np.asarray(binary_erosion(mask))


def test_slice_overlay_colours_false_negatives_and_positives_where_they_are() -> None:
    pred, gt = case_volumes(1)
    assert _plots.worst_slices(pred, gt)[0] == 3  # the sagittal slice the prediction misses
    img = _plots.slice_overlay(pred, gt, axis=0, index=3)
    fn = _plots.orient(((gt > 0) & (pred != gt))[3])
    assert img.shape == (*fn.shape, 3) and interior(fn).any()
    assert (img[interior(fn)] == FN_RGB).all()  # contours go on top of the fill's border
    assert not (img[~fn] == FN_RGB).all(axis=1).any()
    img = _plots.slice_overlay(pred, gt, axis=2, index=5, scale=4)
    fp = _plots.orient(((gt == 0) & (pred > 0))[:, :, 5])
    fp = np.repeat(np.repeat(fp, 4, axis=0), 4, axis=1)
    assert (img[interior(fp)] == FP_RGB).all() and not (img[~fp] == FP_RGB).all(axis=1).any()


def test_the_overlay_png_in_the_page_shows_the_false_negatives(scored: Path) -> None:
    from matplotlib.image import imread

    page = html_report(load_report(scored), worst=3, base_dirs=scored.parent)
    uri = re.search(r'alt="case_0, sagittal slice (\d+)" src="data:image/png;base64,([^"]+)"', page)
    assert uri is not None and uri.group(1) == "2"  # case_0 misses x = 2
    img = np.round(imread(io.BytesIO(base64.b64decode(uri.group(2))))[..., :3] * 255).astype(int)
    pred, gt = case_volumes(0)
    scale = max(1, 240 // max(SHAPE[1], SHAPE[2]))
    fn = _plots.orient(((gt > 0) & (pred != gt))[2])
    fn = np.repeat(np.repeat(fn, scale, axis=0), scale, axis=1)
    assert img.shape[:2] == fn.shape
    assert (img[interior(fn)] == FN_RGB).all()
    assert not (img[~fn] == FN_RGB).all(axis=1).any()


def test_an_unreadable_volume_is_a_note_instead_of_an_overlay(scored: Path) -> None:
    (scored.parent / "gt" / "case_0.nii.gz").unlink()
    page = html_report(load_report(scored), worst=3, base_dirs=scored.parent)
    assert page.count('class="note bad">no overlay:') == 1
    assert "case_0.nii.gz" in page.split('class="note bad">no overlay:')[1].split("</p>")[0]


def test_volumes_are_found_relative_to_the_reports_folder(scored: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    page = html_report(load_report(scored), worst=1, base_dirs=scored.parent)
    assert "no overlay" not in page and '<img alt="' in page
    assert '<img alt="' not in html_report(load_report(scored), worst=1, overlays=False)


def test_two_reports_give_the_paired_change(scored: Path) -> None:
    base = load_report(scored)
    better = Report(settings=dict(base.settings), cases=[
        CaseResult(c.case, c.pred, c.gt, labels=[{**r, "dice": min(1.0, r["dice"] + 0.05)} for r in c.labels],
                   error=c.error) for c in base.cases])
    page = html_report({"old": base, "new": better}, overlays=False)
    assert 'id="comparison"' in page and "new against old" in page
    section = page.split('id="comparison"')[1]
    assert "3 cases scored in both." in section
    assert "0.05" in section and "case_" in section
    assert html_report([base], overlays=False).count('id="comparison"') == 0


def test_infinite_distances_are_counted_and_left_out_of_the_plot() -> None:
    inf = float("inf")
    cases = [CaseResult(f"c{i}", labels=[{"label": 1, "name": "liver", "dice": 0.9, "hd95": hd}])
             for i, hd in enumerate([1.0, 2.0, inf])]
    page = html_report(Report(settings={"metrics": ["dice", "hd95"]}, cases=cases), overlays=False)
    assert "1 infinite value not plotted" in page
    hd_table = page.split("<h4>hd95")[1].split("</table>")[0]
    assert re.search(r"<td>3</td><td>0</td><td>1</td></tr>", hd_table), hd_table
    hd_points = re.findall(r"<title>(c\d): ", page.split("<h4>hd95")[1].split("</figure>")[0])
    assert hd_points == ["c0", "c1"]


def test_bad_options_are_one_line_errors(scored: Path) -> None:
    report = load_report(scored)
    with pytest.raises(OptionError, match="--metric: 'nsd' is in none of the reports"):
        html_report(report, metric="nsd")
    with pytest.raises(OptionError, match="--worst"):
        html_report(report, worst=-1)
    with pytest.raises(OptionError, match="REPORT"):
        html_report({})


def test_a_missing_dependency_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> Any:
        raise MissingDependencyError(f"{name} is not installed")

    monkeypatch.setattr(_plots, "import_optional", missing)
    with pytest.raises(MissingDependencyError, match=r"pip install 'segeval\[report\]'") as info:
        html_report(Report(settings={"metrics": ["dice"]}, cases=[]))
    assert "\n" not in str(info.value)


def test_write_html_report_writes_the_page(scored: Path) -> None:
    out = scored.parent / "page.html"
    write_html_report(out, load_report(scored), overlays=False)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_a_browser_renders_it_without_errors(scored: Path) -> None:
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)")
    from matplotlib.image import imread

    page = scored.parent / "page.html"
    shot = scored.parent / "shot.png"
    write_html_report(page, {"a": load_report(scored), "b": load_report(scored)}, base_dirs=[scored.parent] * 2)

    def console_lines(target: Path, png: Path) -> tuple[list[str], str]:
        run = subprocess.run(
            [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", "--enable-logging=stderr", "--v=0",
             f"--screenshot={png}", "--window-size=1200,3000", target.as_uri()],
            capture_output=True, text=True, timeout=120, check=False)
        # Chromium logs every console message (console.error included) and uncaught error as CONSOLE lines.
        return [line for line in run.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line], run.stderr

    probe = scored.parent / "probe.html"  # the detector sees a console error when there is one
    probe.write_text('<!DOCTYPE html><html><body><script>console.error("probe-error")</script></body></html>')
    assert any("probe-error" in line for line in console_lines(probe, scored.parent / "probe.png")[0])
    errors, stderr = console_lines(page, shot)
    assert errors == []
    assert shot.is_file(), stderr[-2000:]
    pixels = imread(str(shot))[..., :3].reshape(-1, 3)
    assert len(np.unique(pixels[:: max(1, len(pixels) // 200_000)], axis=0)) > 1
