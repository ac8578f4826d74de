"""Which classes to score: ``--labels``, ``--region``, ``--label-names``, ``--ignore-label``, a label map.

A :class:`LabelSpec` is decided once per run, before any case, by
:func:`segeval.settings.build_settings` (``--labels``, else a label map, else
every label found), and resolved per case into the :class:`ScoredClass` es
(plain labels and regions) that the metrics are computed for. A label map
(:class:`LabelMap`, from a label-name file or an nnU-Net ``dataset.json``)
is read by nnU-Net's own rules.
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
    label_map : str or None
        The label map the labels and regions came from; values outside it
        are not scored, and the report names them.
    """

    labels: tuple[int, ...] | None = None
    names: Mapping[int, str] = field(default_factory=dict)
    regions: tuple[tuple[str, tuple[int, ...]], ...] = ()
    ignore_label: int | None = None
    include_background: bool = False
    label_map: str | None = None

    @property
    def asked(self) -> bool:
        """True when the labels were asked for by number or name (``--labels``), not found or declared."""
        return self.labels is not None and self.label_map is None

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
            "label_map": self.label_map,
        }


_NAME_RE = re.compile(r"^[A-Za-z_][\w\-. ]*$")


#: Label values are 64-bit signed integers (the widest dtype a label map can have).
LABEL_RANGE = (-(1 << 63), (1 << 63) - 1)


def check_label(value: int, option: str) -> int:
    """``value`` when it fits a 64-bit label, else :class:`LabelSpecError` naming ``option``."""
    if not LABEL_RANGE[0] <= value <= LABEL_RANGE[1]:
        raise LabelSpecError(f"{option}: label {value} does not fit a 64-bit label map "
                             f"({LABEL_RANGE[0]}..{LABEL_RANGE[1]})")
    return value


def _int(text: str, option: str) -> int:
    text = text.strip()
    try:
        value = int(text) if len(text) < 40 else None
    except ValueError:
        value = None
    if value is None:
        raise LabelSpecError(f"{option}: {text[:40]!r} is not a whole number") from None
    return check_label(value, option)


def parse_labels(text: str, names: Mapping[int, str] | None = None) -> tuple[tuple[int, ...], dict[int, str]]:
    """Parse ``--labels``: numbers, ``NAME=NUMBER`` or, with a label map, names (mixing is allowed).

    Parameters
    ----------
    text : str
        ``"1,2,3"``, ``"liver=1,spleen=2"``, ``"liver,pancreas"`` or ``"none"``
        (score the regions only).
    names : mapping of int to str, optional
        The label map's names, through which a bare name is resolved
        (exactly, else ignoring case).

    Returns
    -------
    (labels, names)
        The label numbers in order, and the names given with ``NAME=NUMBER``.

    Raises
    ------
    LabelSpecError
        A label listed twice, a name given to two labels, an unknown name.

    Examples
    --------
    >>> parse_labels("liver=1,2")
    ((1, 2), {1: 'liver'})
    >>> parse_labels("spleen,1", names={1: "liver", 2: "spleen"})
    ((2, 1), {})
    """
    if text.strip().lower() == "none":
        return (), {}
    labels: list[int] = []
    given: dict[int, str] = {}
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
            if name in given.values():
                raise LabelSpecError(f"--labels: the name {name!r} is given to two labels")
            given[value] = name
        elif _looks_numeric(item):
            value = _int(item, "--labels")
        else:
            value = _by_name(item.strip(), names or {})
        if value in labels:
            raise LabelSpecError(f"--labels: label {value} is listed twice")
        labels.append(value)
    return tuple(labels), given


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _by_name(name: str, names: Mapping[int, str]) -> int:
    """The label a name stands for in a label map (exact match first, then ignoring case)."""
    hits = [k for k, v in names.items() if v == name] or [
        k for k, v in names.items() if v.casefold() == name.casefold()]
    if len(hits) == 1:
        return hits[0]
    if not names:
        raise LabelSpecError(f"--labels: {name!r} is not a whole number, and there is no label map to look names "
                             "up in (give --label-names FILE, or write NAME=NUMBER)")
    known = ", ".join(f"{v}={k}" for k, v in sorted(names.items()))
    raise LabelSpecError(f"--labels: no label is named {name!r} in the label map (it has {known})")


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


@dataclass(frozen=True)
class LabelMap:
    """What a label-name file or an nnU-Net ``dataset.json`` declares: names, labels, regions, ignore.

    Read by nnU-Net's rules (``LabelManager``): the map defines regions when
    some entry lists more than one label, and then every entry is a region
    (a one-label list ``[3]`` too, keyed ``(3,)``; a plain number stays a
    label, keyed ``3``); otherwise its entries are labels, a one-label list
    naming its label. ``"ignore"`` names the ignore label; ``"background"``
    (label 0) is never scored by default.

    Attributes
    ----------
    path : str
        Where the map was read from (for messages and the report's settings).
    names : dict of int to str
        Label number to name (background included, ignore excluded).
    labels : tuple of int
        The foreground labels it declares as labels, in increasing order.
    regions : tuple of (str, tuple of int)
        Its regions, in file order (empty unless ``has_regions``).
    ignore_label : int or None
        The ``"ignore"`` entry.
    has_regions : bool
        True when the map defines regions (nnU-Net scores only those then).
    """

    path: str
    names: Mapping[int, str] = field(default_factory=dict)
    labels: tuple[int, ...] = ()
    regions: tuple[tuple[str, tuple[int, ...]], ...] = ()
    ignore_label: int | None = None
    has_regions: bool = False


def label_map_from_names(names: Mapping[int, str], source: str = "label_names") -> LabelMap:
    """A label map given as ``{number: name}``: it declares exactly those labels."""
    clean = {int(k): str(v) for k, v in names.items()}
    return LabelMap(path=source, names=clean, labels=tuple(sorted(k for k in clean if k > 0)))


def read_label_map(path: str | os.PathLike[str]) -> LabelMap:
    """Read a label map from JSON, CSV or an nnU-Net ``dataset.json`` (see :class:`LabelMap`).

    Accepted layouts: ``{"1": "liver", ...}``; ``{"liver": 1, ...}``; an nnU-Net
    ``dataset.json`` whose ``labels`` block maps names to a number or to a list
    of numbers; a CSV with columns ``label,name`` (header optional).

    Raises
    ------
    LabelSpecError
        Naming the file and the entry: unreadable, not JSON, a label named
        twice, an entry that is neither a number nor a list of numbers.

    Examples
    --------
    >>> import json, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "dataset.json")
    >>> with open(path, "w") as fh:
    ...     json.dump({"labels": {"background": 0, "whole tumor": [1, 2, 3], "tumor core": [2, 3],
    ...                           "enhancing tumor": [3], "ignore": 4}}, fh)
    >>> m = read_label_map(path)
    >>> m.has_regions, m.regions, m.ignore_label
    (True, (('whole tumor', (1, 2, 3)), ('tumor core', (2, 3)), ('enhancing tumor', (3,))), 4)
    """
    p = Path(path)
    where = f"--label-names {p}"
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise LabelSpecError(f"{where}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise LabelSpecError(f"{where}: not UTF-8 text; save the label map as UTF-8 JSON or CSV") from None
    names: dict[int, str] = {}

    def name(label: int, text: str) -> None:
        if names.get(label, text) != text:
            raise LabelSpecError(f"{where}: label {label} is named twice ({names[label]!r} and {text!r}); keep one")
        names[label] = text

    if p.suffix.lower() == ".csv":
        try:
            rows = list(csv.reader(text.splitlines()))
        except csv.Error as exc:
            raise LabelSpecError(f"{where}: not a CSV segeval reads ({' '.join(str(exc).split())})") from None
        for row in rows:
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2:
                raise LabelSpecError(f"{where}: each CSV row needs label,name; got {row}")
            if row[0].strip().lower() in ("label", "value", "id"):
                continue
            name(_int(row[0], where), row[1].strip())
        return label_map_from_names(names, str(p))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabelSpecError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise LabelSpecError(f"{where}: not a label map segeval reads (nested too deeply)") from None
    except ValueError as exc:
        raise LabelSpecError(f"{where}: not a label map segeval reads ({' '.join(str(exc).split())[:120]})") from None
    if isinstance(data, dict) and isinstance(data.get("labels"), dict):
        data = data["labels"]
    if not isinstance(data, dict):
        raise LabelSpecError(f"{where}: expected a JSON object mapping labels to names")
    ignore: int | None = None
    lists: list[tuple[str, tuple[int, ...]]] = []
    for key, value in data.items():
        if key == "ignore":
            if isinstance(value, bool) or not isinstance(value, int):
                raise LabelSpecError(f"{where}: \"ignore\" must be one label number, got {value!r}")
            ignore = int(value)
        elif isinstance(value, str) and key.strip().lstrip("-").isdigit():
            name(int(key), value)
        elif isinstance(value, bool):
            raise LabelSpecError(f"{where}: {key!r} maps to a boolean")
        elif isinstance(value, int):
            name(value, key)
        elif isinstance(value, (list, tuple)) and value and all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            lists.append((key, tuple(dict.fromkeys(int(v) for v in value))))
        else:
            raise LabelSpecError(
                f"{where}: cannot read entry {key!r}: {value!r} (want name: number, number: name, "
                "or name: [numbers])"
            )
    has_regions = any(len(members) > 1 for _, members in lists)
    if not has_regions:
        for key, members in lists:
            name(members[0], key)
    regions = tuple((k, m) for k, m in lists if set(m) != {0}) if has_regions else ()
    labels = tuple(sorted(k for k in names if k > 0 and k != ignore))
    return LabelMap(str(p), names, labels, regions, ignore, has_regions)


def read_label_names(path: str | os.PathLike[str]) -> tuple[dict[int, str], tuple[tuple[str, tuple[int, ...]], ...]]:
    """The names and regions of a label map (:func:`read_label_map`), as ``(names, regions)``."""
    m = read_label_map(path)
    return dict(m.names), m.regions


def find_dataset_json(path: str | os.PathLike[str]) -> Path | None:
    """The nnU-Net ``dataset.json`` of a GT folder or file: beside it, or one folder up.

    For a folder (``labelsTs/``): ``labelsTs/dataset.json`` or the
    ``dataset.json`` next to it; for a file: its folder's, or the one above.
    """
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    for candidate in (folder / "dataset.json", folder.parent / "dataset.json"):
        if candidate.is_file():
            return candidate
    return None
