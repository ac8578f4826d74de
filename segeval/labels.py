"""Which classes to score: ``--labels``, ``--region``, ``--label-names``, ``--ignore-label``.

A :class:`LabelSpec` is parsed once from the options and resolved per case
against the label values present, giving the list of :class:`ScoredClass`
(plain labels and regions) that the metrics are computed for.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from segeval.errors import LabelSpecError


@dataclass(frozen=True)
class ScoredClass:
    """One row of a report: a label, or a region (union of labels).

    Attributes
    ----------
    key : int or str
        The label number, or the region's name.
    name : str or None
        Human name (``liver``), when known.
    members : tuple of int
        Label values whose union is scored.
    """

    key: int | str
    name: str | None
    members: tuple[int, ...]

    @property
    def is_region(self) -> bool:
        """True for a named union of labels."""
        return isinstance(self.key, str)


@dataclass(frozen=True)
class LabelSpec:
    """Parsed label options.

    Attributes
    ----------
    labels : tuple of int or None
        Labels to score, in order; None = every label present (> 0 unless
        ``include_background``).
    names : mapping of int to str
        Names of labels.
    regions : tuple of (str, tuple of int)
        Named unions scored as one class each, after the labels.
    ignore_label : int or None
        Ground-truth value whose voxels are excluded from every count.
    include_background : bool
        Also score label 0.
    """

    labels: tuple[int, ...] | None = None
    names: Mapping[int, str] = field(default_factory=dict)
    regions: tuple[tuple[str, tuple[int, ...]], ...] = ()
    ignore_label: int | None = None
    include_background: bool = False

    def resolve(self, present: Sequence[int]) -> list[ScoredClass]:
        """The classes to score for a case whose volumes hold the values ``present``.

        A label asked for explicitly is scored even when absent from both
        volumes (it then follows the ``empty`` policy).
        """
        if self.labels is not None:
            wanted = list(self.labels)
            if self.include_background and 0 not in wanted:
                wanted.insert(0, 0)
        else:
            floor = 0 if self.include_background else 1
            wanted = sorted(int(v) for v in present if v >= floor and v != self.ignore_label)
            if self.include_background and 0 not in wanted:
                wanted.insert(0, 0)
        out = [ScoredClass(v, self.names.get(v), (v,)) for v in wanted]
        out.extend(ScoredClass(name, name, members) for name, members in self.regions)
        return out

    def to_dict(self) -> dict[str, object]:
        """The settings that change a number, for the report."""
        return {
            "labels": list(self.labels) if self.labels is not None else None,
            "label_names": {str(k): v for k, v in sorted(self.names.items())},
            "regions": {name: list(m) for name, m in self.regions},
            "ignore_label": self.ignore_label,
            "include_background": self.include_background,
        }


_NAME_RE = re.compile(r"^[A-Za-z_][\w\-. ]*$")


def _int(text: str, option: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise LabelSpecError(f"{option}: {text.strip()!r} is not a whole number") from None


def parse_labels(text: str) -> tuple[tuple[int, ...], dict[int, str]]:
    """Parse ``--labels``: ``"1,2,3"`` or ``"liver=1,spleen=2"`` (mixing is allowed).

    Returns
    -------
    (labels, names)
        The label numbers in order, and the names given.

    Examples
    --------
    >>> parse_labels("liver=1,2")
    ((1, 2), {1: 'liver'})
    """
    labels: list[int] = []
    names: dict[int, str] = {}
    items = [t for t in text.split(",") if t.strip()]
    if not items:
        raise LabelSpecError("--labels: empty; give e.g. --labels 1,2,3 or --labels liver=1,spleen=2")
    for item in items:
        if "=" in item:
            name, _, num = item.partition("=")
            value = _int(num, "--labels")
            name = name.strip()
            if not name:
                raise LabelSpecError(f"--labels: {item.strip()!r} has an empty name")
            if name.lstrip("-").isdigit():
                # gate's METRIC:LABEL takes a number or a name: a label named "2"
                # could not be told apart from label 2.
                raise LabelSpecError(f"--labels: the name {name!r} must not be a number (write NAME=LABEL)")
            names[value] = name
        else:
            value = _int(item, "--labels")
        if value in labels:
            raise LabelSpecError(f"--labels: label {value} is listed twice")
        labels.append(value)
    return tuple(labels), names


def parse_region(text: str) -> tuple[str, tuple[int, ...]]:
    """Parse one ``--region NAME=1,2,3``.

    Examples
    --------
    >>> parse_region("WT=1,2,3")
    ('WT', (1, 2, 3))
    """
    name, sep, members = text.partition("=")
    name = name.strip()
    if not sep or not name or not members.strip():
        raise LabelSpecError(f"--region: {text!r} is not NAME=LABEL,LABEL,... (e.g. --region WT=1,2,3)")
    values = tuple(_int(m, "--region") for m in members.split(",") if m.strip())
    if not values:
        # "WT=," would be a region with no members, silently always empty.
        raise LabelSpecError(f"--region: {text!r} lists no labels (e.g. --region WT=1,2,3)")
    if name.lstrip("-").isdigit():
        raise LabelSpecError(f"--region: the name {name!r} must not be a number")
    return name, values


def read_label_names(path: str | os.PathLike[str]) -> tuple[dict[int, str], tuple[tuple[str, tuple[int, ...]], ...]]:
    """Read label names (and regions) from JSON, CSV or an nnU-Net ``dataset.json``.

    Accepted layouts: ``{"1": "liver", ...}``; ``{"liver": 1, ...}``; an nnU-Net
    ``dataset.json`` whose ``labels`` block maps names to a number or, for regions,
    to a list of numbers; a CSV with columns ``label,name`` (header optional).

    Returns
    -------
    (names, regions)
        Label number to name, and the named regions.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise LabelSpecError(f"--label-names {p}: cannot read ({exc.strerror or exc})") from None
    names: dict[int, str] = {}
    regions: list[tuple[str, tuple[int, ...]]] = []

    def name(label: int, text: str) -> None:
        if names.get(label, text) != text:
            raise LabelSpecError(
                f"--label-names {p}: label {label} is named twice ({names[label]!r} and {text!r}); keep one"
            )
        names[label] = text

    if p.suffix.lower() == ".csv":
        for row in csv.reader(text.splitlines()):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2:
                raise LabelSpecError(f"--label-names {p}: each CSV row needs label,name; got {row}")
            if row[0].strip().lower() in ("label", "value", "id"):
                continue
            name(_int(row[0], f"--label-names {p}"), row[1].strip())
        return names, ()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabelSpecError(f"--label-names {p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, dict) and isinstance(data.get("labels"), dict):
        data = data["labels"]
    if not isinstance(data, dict):
        raise LabelSpecError(f"--label-names {p}: expected a JSON object mapping labels to names")
    for key, value in data.items():
        if isinstance(value, str) and key.strip().lstrip("-").isdigit():
            name(int(key), value)
        elif isinstance(value, bool):
            raise LabelSpecError(f"--label-names {p}: {key!r} maps to a boolean")
        elif isinstance(value, int):
            name(value, key)
        elif isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value) and value:
            if len(value) == 1:
                name(int(value[0]), key)
            else:
                regions.append((key, tuple(int(v) for v in value)))
        else:
            raise LabelSpecError(
                f"--label-names {p}: cannot read entry {key!r}: {value!r} (want name: number, number: name, "
                "or name: [numbers])"
            )
    return names, tuple(regions)
