"""The HTML report's figures: box plots and a heat map as inline SVG, slice overlays as PNG.

matplotlib is imported only here and only when a figure is drawn, through
:func:`require`, which names the ``segeval[report]`` extra when it is missing.
Figures are drawn on a bare :class:`matplotlib.figure.Figure` (the Agg and
SVG canvases, never pyplot), so the caller's backend and global state are
left alone. The points of a box plot and the rows of the heat map carry an
SVG ``<title>`` (a browser shows it on hover): they are written here, at the
coordinates matplotlib's transforms give, one short element each, which keeps
a page of 1,000 cases small. Every SVG is cleaned of its XML prologue, its
metadata and its namespace URLs, so that the page names no external resource.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

from segeval._optional import import_optional
from segeval.errors import MissingDependencyError

__all__ = ["FN_COLOUR", "FP_COLOUR", "GT_CONTOUR", "PRED_CONTOUR", "box_plot_svg", "heatmap_svg", "orient",
           "overlay_png", "require", "slice_overlay", "worst_slices"]

#: Okabe-Ito colours, safe for the common colour-vision deficiencies.
FN_COLOUR = "#E69F00"  # orange: in the ground truth, missed by the prediction
FP_COLOUR = "#0072B2"  # blue: in the prediction, not in the ground truth
GT_CONTOUR = "#000000"
PRED_CONTOUR = "#CC79A7"  # reddish purple
_BACKGROUND = "#FFFFFF"
_FOREGROUND = "#D9D9D9"  # labelled in both: light grey
_POINT = "#333333"
_PLANES = ("sagittal", "coronal", "axial")  # the plane across NIfTI axis 0, 1, 2


def require(name: str) -> ModuleType:
    """Import ``name`` (matplotlib, jinja2) or raise a one-line :class:`MissingDependencyError`.

    Parameters
    ----------
    name : str
        Dotted module name.
    """
    try:
        return import_optional(name)
    except MissingDependencyError:
        top = name.split(".", 1)[0]
        raise MissingDependencyError(f"{top} is needed for segeval report (the HTML report) but is not installed; "
                                     "install it with: pip install 'segeval[report]'") from None


def _figure(width_in: float, height_in: float) -> Any:
    require("matplotlib")
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=72)


def _svg(fig: Any, extra: str = "") -> str:
    """``fig`` as inline SVG: no prologue, metadata or URL; ``extra`` elements appended on top."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "segeval"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.DOTALL)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    text = text.replace("xlink:href=", "href=")
    return text.replace("</svg>", extra + "</svg>") if extra else text


def _to_svg_coords(fig: Any, ax: Any, xy: np.ndarray) -> np.ndarray:
    """Data coordinates of ``ax`` -> the SVG's user units (points, y down)."""
    frac = (ax.transData + fig.transFigure.inverted()).transform(xy)
    w_pt, h_pt = fig.get_size_inches() * 72.0
    return np.column_stack([frac[:, 0] * w_pt, (1.0 - frac[:, 1]) * h_pt])


def box_plot_svg(groups: Sequence[tuple[str, Sequence[tuple[str, float]]]], *, metric: str, unit: str = "") -> str:
    """Box plots of one metric, a box per label, every case a point whose ``<title>`` is its case id.

    Parameters
    ----------
    groups : sequence of (label, [(case, value), ...])
        In the order to draw them (left to right); values must be finite.
    metric : str
        The y axis' name.
    unit : str
        Its unit (``mm``), or empty.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    n = max(1, len(groups))
    width = min(2.5 + 1.1 * n, 14.0)
    fig = _figure(width, 3.6)
    ax = fig.add_axes((0.8 / width, 0.22, 1.0 - 1.0 / width, 0.72))
    data = [np.array([v for _, v in g], dtype=np.float64) for _, g in groups]
    present = [i for i, d in enumerate(data) if d.size]
    if present:
        ax.boxplot([data[i] for i in present], positions=[i + 1 for i in present], widths=0.5, showfliers=False,
                   medianprops={"color": "#D55E00", "linewidth": 1.5})
    ax.set_xlim(0.4, n + 0.6)
    ax.set_xticks(range(1, n + 1), [name for name, _ in groups], rotation=25, ha="right", fontsize=9)
    ax.set_ylabel(f"{metric} ({unit})" if unit else metric)
    ax.grid(axis="y", color="#E5E5E5", linewidth=0.6)
    rng = np.random.default_rng(0)
    xs, ys, titles = [], [], []
    for i, (_, g) in enumerate(groups):
        jitter = rng.uniform(-0.18, 0.18, size=len(g))
        for (case, value), dx in zip(g, jitter):
            xs.append(i + 1 + dx)
            ys.append(value)
            titles.append(f"{case}: {value:.4g}")
    if ys:
        lo, hi = min(ys), max(ys)
        pad = (hi - lo) * 0.05 or 0.05
        ax.set_ylim(lo - pad, hi + pad)
    svg = _svg(fig)  # lays the figure out: the transforms below are final
    pts = _to_svg_coords(fig, ax, np.column_stack([xs, ys])) if ys else np.empty((0, 2))
    radius = "2.2" if len(ys) < 2000 else "1.5"
    items = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}"><title>{html.escape(t)}</title></circle>'
                    for (x, y), t in zip(pts, titles))
    return svg.replace("</svg>", f'<g class="pts" fill="{_POINT}" fill-opacity="0.55">{items}</g></svg>')


def heatmap_svg(cases: Sequence[str], labels: Sequence[str], values: np.ndarray, *, metric: str,
                higher_is_better: bool | None) -> str:
    """A case x label heat map of one metric; each row's ``<title>`` gives the case id and its values.

    Parameters
    ----------
    cases, labels : sequence of str
        Row and column names.
    values : ndarray, shape (len(cases), len(labels)), float
        NaN cells are drawn grey; infinite ones as the worst colour.
    metric : str
        The colour bar's name.
    higher_is_better : bool or None
        Colours run from worst (dark) to best (light) in that direction.
    """
    n_rows, n_cols = values.shape
    height = min(max(2.5, 0.22 * n_rows + 1.6), 60.0)
    fig = _figure(min(3.5 + 0.9 * n_cols, 14.0), height)
    top_in, bottom_in = 0.3, 1.3
    ax = fig.add_axes((0.3, bottom_in / height, 0.55, 1.0 - (top_in + bottom_in) / height))
    shown = np.array(values, dtype=np.float64)
    finite = shown[np.isfinite(shown)]
    cmap = "viridis" if higher_is_better is not False else "viridis_r"
    if finite.size:
        vmin, vmax = float(finite.min()), float(finite.max())
        if higher_is_better is not False:
            shown[np.isposinf(shown)], shown[np.isneginf(shown)] = vmax, vmin
        else:
            shown[np.isinf(shown)] = vmax
    else:
        vmin, vmax = 0.0, 1.0
    require("matplotlib")
    import matplotlib

    colours = matplotlib.colormaps[cmap].with_extremes(bad="#BBBBBB")
    image = ax.imshow(np.ma.masked_invalid(shown), aspect="auto", cmap=colours, vmin=vmin, vmax=vmax,
                      interpolation="nearest")
    ax.set_xticks(range(n_cols), list(labels), rotation=30, ha="right", fontsize=9)
    if n_rows <= 80:
        ax.set_yticks(range(n_rows), list(cases), fontsize=8)
    else:
        ax.set_yticks([])
        ax.set_ylabel(f"{n_rows} cases (hover a row for its id)")
    cbar = fig.colorbar(image, ax=ax, fraction=0.08, pad=0.03)
    cbar.set_label(metric)
    svg = _svg(fig)
    corners = _to_svg_coords(fig, ax, np.array([[-0.5, r - 0.5] for r in range(n_rows + 1)]))
    x0 = corners[0, 0]
    x1 = _to_svg_coords(fig, ax, np.array([[n_cols - 0.5, 0.0]]))[0, 0]
    rows = []
    for r, case in enumerate(cases):
        y0, y1 = sorted((corners[r, 1], corners[r + 1, 1]))
        cells = ", ".join(f"{lab} {_fmt(v)}" for lab, v in zip(labels, values[r]))
        rows.append(f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{max(y1 - y0, 0.1):.2f}">'
                    f"<title>{html.escape(f'{case}: {cells}')}</title></rect>")
    return svg.replace("</svg>", f'<g class="rows" fill="#000" fill-opacity="0">{"".join(rows)}</g></svg>')


def _fmt(v: float) -> str:
    return "n/a" if math.isnan(v) else f"{v:.4g}"


def worst_slices(pred: np.ndarray, gt: np.ndarray) -> list[int]:
    """Per axis of a 3-D volume, the slice index with the most voxels where ``pred`` and ``gt`` differ.

    Parameters
    ----------
    pred, gt : ndarray, shape (X, Y, Z), int
        Label maps on the same grid.

    Returns
    -------
    list of int
        One index per axis (the middle slice when they agree everywhere).
    """
    wrong = pred != gt
    out = []
    for axis in range(wrong.ndim):
        per_slice = wrong.sum(axis=tuple(a for a in range(wrong.ndim) if a != axis))
        out.append(int(np.argmax(per_slice)) if per_slice.any() else wrong.shape[axis] // 2)
    return out


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)


def _edge(mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` with a 4-neighbour outside it (or on the image border)."""
    padded = np.pad(mask, 1, constant_values=False)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    edge: np.ndarray = mask & ~inner
    return edge


def orient(plane: np.ndarray) -> np.ndarray:
    """A 2-D slice (axes u, v) as shown: rows run down v, columns along u (``flipud(plane.T)``)."""
    return np.flipud(plane.T)


def slice_overlay(pred: np.ndarray, gt: np.ndarray, *, axis: int, index: int,
                  labels: Sequence[int] | None = None, scale: int = 1) -> np.ndarray:
    """RGB image of one slice: false negatives orange, false positives blue, both contours on top.

    Parameters
    ----------
    pred, gt : ndarray, shape (X, Y, Z), int
        Label maps on the same grid.
    axis, index : int
        The slice: ``np.take(volume, index, axis)``.
    labels : sequence of int, optional
        The labels scored; other values count as background. Default: every non-zero value.
    scale : int
        Each voxel becomes ``scale x scale`` pixels (nearest neighbour).

    Returns
    -------
    ndarray, shape (H, W, 3), uint8
        :func:`orient` of the slice, scaled. A false negative is a voxel of a
        GT label that the prediction gives another value; a false positive, a
        predicted label where the GT is background.
    """
    where = (slice(None),) * axis + (index,)  # a view: np.take copies slowly off C order
    g = np.asarray(gt[where])
    p = np.asarray(pred[where])
    if labels is not None:
        keep = np.asarray(list(labels))
        g = np.where(np.isin(g, keep), g, 0)
        p = np.where(np.isin(p, keep), p, 0)
    g, p = orient(g), orient(p)
    if scale > 1:
        g = np.repeat(np.repeat(g, scale, axis=0), scale, axis=1)
        p = np.repeat(np.repeat(p, scale, axis=0), scale, axis=1)
    img = np.empty((*g.shape, 3), dtype=np.uint8)
    img[...] = _rgb(_BACKGROUND)
    img[(g > 0) & (p == g)] = _rgb(_FOREGROUND)
    img[(g > 0) & (p != g)] = _rgb(FN_COLOUR)
    img[(g == 0) & (p > 0)] = _rgb(FP_COLOUR)
    gt_edge = np.zeros(g.shape, dtype=bool)
    pred_edge = np.zeros(g.shape, dtype=bool)
    for value in np.unique(g[g > 0]):
        gt_edge |= _edge(g == value)
    for value in np.unique(p[p > 0]):
        pred_edge |= _edge(p == value)
    img[pred_edge] = _rgb(PRED_CONTOUR)
    img[gt_edge] = _rgb(GT_CONTOUR)
    return img


def overlay_png(pred: np.ndarray, gt: np.ndarray, *, labels: Sequence[int] | None = None,
                target_px: int = 240) -> list[tuple[str, int, str]]:
    """The three planes through the slices with most wrong voxels, as PNG data URIs.

    Parameters
    ----------
    pred, gt : ndarray, shape (X, Y, Z), int
        Label maps on the same grid.
    labels : sequence of int, optional
        The labels scored (see :func:`slice_overlay`).
    target_px : int
        Small volumes are scaled up (whole voxels) to about this many pixels.

    Returns
    -------
    list of (plane, index, data URI)
        ``("sagittal", 12, "data:image/png;base64,...")`` for axes 0, 1, 2.
    """
    require("matplotlib")
    from matplotlib.image import imsave

    if gt.ndim == 2:  # one plane: a 2-D case is one axial slice
        pred, gt = pred[..., None], gt[..., None]
    out = []
    for axis, index in enumerate(worst_slices(pred, gt)):
        if gt.shape[2] == 1 and axis != 2:
            continue
        other = [s for a, s in enumerate(gt.shape) if a != axis]
        scale = max(1, target_px // max(1, max(other)))
        img = slice_overlay(pred, gt, axis=axis, index=index, labels=labels, scale=scale)
        buf = io.BytesIO()
        no_software: dict[str, Any] = {"Software": None}  # nothing that names a URL, even encoded
        imsave(buf, img, format="png", metadata=no_software)
        out.append((_PLANES[axis], index, "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()))
    return out
